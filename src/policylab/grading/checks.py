"""Test integrity: test cells are judged on plain data, outside the learner's process.

A learner's kernel is the learner's: whatever runs there can patch ``math.isclose``, numpy,
pandas, builtins, install ``set_custom_exc``, rewrite cells before they run, or hand back an
object that equals everything. So at grading time a test cell does not check anything in the
kernel. The kernel only runs the cell's *probe* (if any) and ``export``, which turns the values
the test reads into plain JSON data (numbers, strings, lists, dicts, numpy arrays, pandas
Series/DataFrames, regex patterns, plotly figures, statsmodels fits as summaries); anything else
becomes an ``Unsupported`` placeholder that equals nothing.
The grader then runs the whole test cell — visible and hidden checks — in a fresh Python
process of its own (``Checker``), with those plain values, the real builtins and an unpatched
numpy/pandas, and writes the cell's outputs itself (``policylab.grading.hidden_tests``).

Test cell layout (see docs/authoring.md)::

    ### BEGIN PROBE            (optional: runs in the learner's kernel; what it assigns is checked)
    fee_table = [fee(m) for m in (0, 30, 61)]
    ### END PROBE
    assert isinstance(fee_2h, int), "fee_2h는 정수(int)여야 합니다."     (visible checks)
    ### BEGIN HIDDEN TESTS
    ...                                                                  (hidden checks)
    ### END HIDDEN TESTS
"""
from __future__ import annotations

import builtins
import json
import os
import re
import subprocess
import symtable
import sys
import threading
from dataclasses import dataclass

from policylab.grading.values import MODULES, decode

HIDDEN_BEGIN, HIDDEN_END = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"
PROBE_BEGIN, PROBE_END = "### BEGIN PROBE", "### END PROBE"
_BUILTIN_NAMES = frozenset(dir(builtins))


# ----------------------------------------------------------------------------- test cell source
@dataclass(frozen=True)
class TestCell:
    probe: str     # runs in the learner's kernel at grading time
    visible: str   # the checks the learner sees
    hidden: str    # the checks only the grader has

    @property
    def checks(self) -> str:
        """What the grader runs, outside the kernel."""
        return self.visible.rstrip("\n") + "\n" + self.hidden

    @property
    def exported_names(self) -> list[str]:
        return free_names(self.checks)


def _between(lines: list[str], begin: str, end: str) -> tuple[list[str], list[str]]:
    inside, outside, state = [], [], False
    for line in lines:
        stripped = line.strip()
        if stripped == begin:
            state = True
            continue
        if stripped == end:
            state = False
            continue
        (inside if state else outside).append(line)
    return inside, outside


def split_test_cell(source: str) -> TestCell:
    lines = source.splitlines(keepends=True)
    probe, rest = _between(lines, PROBE_BEGIN, PROBE_END)
    hidden, visible = _between(rest, HIDDEN_BEGIN, HIDDEN_END)
    return TestCell("".join(probe), "".join(visible), "".join(hidden))


def free_names(code: str) -> list[str]:
    """Names the code reads but never binds (and that are not builtins): the values to export."""
    try:
        table = symtable.symtable(code, "<test>", "exec")
    except SyntaxError:
        return []
    bound = {s.get_name() for s in table.get_symbols() if s.is_assigned() or s.is_imported()}
    names: set[str] = set()

    def walk(t, top: bool) -> None:
        for s in t.get_symbols():
            if not s.is_referenced():
                continue
            if top and not (s.is_assigned() or s.is_imported()):
                names.add(s.get_name())
            elif not top and s.is_global():
                names.add(s.get_name())
        for child in t.get_children():
            walk(child, False)

    walk(table, True)
    return sorted(n for n in names - bound if n not in _BUILTIN_NAMES and not n.startswith("__"))


# ----------------------------------------------------------------------------- plain data
# ----------------------------------------------------------------------------- the checker
@dataclass(frozen=True)
class Verdict:
    grade_id: str
    passed: bool
    ename: str = ""
    evalue: str = ""
    line: int = 0      # line of the checks (visible, then hidden) that failed; 0: unknown


def _failed_line(exc: BaseException, grade_id: str) -> int:
    """The innermost line of the cell's own checks in the traceback (not a library's)."""
    line, tb = 0, exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == f"<{grade_id}>":
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


# Conventional aliases the checker provides when a cell's text mentions them: a formula string
# ("np.log(y) ~ x") is evaluated by patsy in the cell's namespace, where no import is visible.
ALIASES = {"np": "numpy", "pd": "pandas", "math": "math", "re": "re", "stats": "scipy.stats",
           "sm": "statsmodels.api", "smf": "statsmodels.formula.api", "px": "plotly.express",
           "go": "plotly.graph_objects"}


def _namespace(values: dict, code: str = "") -> dict:
    import importlib

    ns = {"__name__": "__main__", "__builtins__": builtins}
    for alias, module in ALIASES.items():
        if re.search(rf"\b{alias}\b", code):
            ns[alias] = importlib.import_module(module)
    for name, doc in values.items():
        if name in _BUILTIN_NAMES or name.startswith("__") or doc.get("t") == "missing":
            continue
        if doc.get("t") == "module":
            if doc.get("v") in MODULES:
                import importlib

                ns[name] = importlib.import_module(doc["v"])
            continue
        ns[name] = decode(doc)
    return ns


def check_cell(grade_id: str, code: str, values: dict) -> Verdict:
    """Run a test cell's checks on plain values (in the checker process)."""
    try:
        ns = _namespace(values, code)
    except Exception as exc:
        return Verdict(grade_id, False, "ValueError", f"채점용 값을 읽을 수 없습니다 ({type(exc).__name__}).")
    try:
        exec(compile(code, f"<{grade_id}>", "exec"), ns)
    except AssertionError as exc:
        # Only the cell's own assert messages are shown: a library's assertion text (pandas'
        # assert_frame_equal, numpy.testing) would print the expected values.
        tb = exc.__traceback__
        while tb is not None and tb.tb_next is not None:
            tb = tb.tb_next
        own = tb is not None and tb.tb_frame.f_code.co_filename == f"<{grade_id}>"
        return Verdict(grade_id, False, "AssertionError",
                       str(exc) if own and str(exc) else "숨은 테스트를 통과하지 못했습니다.",
                       _failed_line(exc, grade_id))
    except NameError as exc:
        return Verdict(grade_id, False, "NameError", f"{exc} — 답 변수가 정의되어 있는지 확인하세요.",
                       _failed_line(exc, grade_id))
    except Exception as exc:
        return Verdict(grade_id, False, type(exc).__name__,
                       "답을 확인하는 중 오류가 났습니다. 값의 형식(자료형, 열 이름, 크기)을 확인하세요.",
                       _failed_line(exc, grade_id))
    return Verdict(grade_id, True)


def _serve() -> None:
    """The checker process: one JSON job per line on stdin, one JSON answer per line on stdout."""
    out = sys.stdout
    sys.stdout = sys.stderr  # prints in checks must not corrupt the protocol
    import numpy  # noqa: F401 - every job decodes into these: imported while the first kernel runs
    import pandas  # noqa: F401
    for line in sys.stdin:
        job = json.loads(line)
        # each job brings its course and its learner's draw: the process outlives both
        for key, name in (("datasets", "POLICYLAB_DATASETS"), ("root", "POLICYLAB_ROOT")):
            if job.get(key):
                os.environ[name] = job[key]
        verdicts = [check_cell(c["grade_id"], c["code"], c["values"]).__dict__ for c in job["cells"]]
        out.write(json.dumps(verdicts) + "\n")
        out.flush()


class Checker:
    """A Python process of the grader's own that runs test cells' checks; one per grader process.

    It lives as long as its grader (a batch's worker), across learners: each job names the datasets
    folder (the learner's draw) its checks read and the course root (this process's POLICYLAB_ROOT at
    the time of the job), so the imports and the reference layer's per-draw memo are paid once per
    process, not once per notebook. Nothing of a learner's reaches it but
    decoded plain values, in a fresh namespace per cell; a hang or crash replaces it.
    """

    _lock = threading.RLock()
    _shared: "Checker | None" = None

    def __init__(self, *, datasets: str | None = None):
        self.datasets = datasets
        env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
        if datasets:
            env["POLICYLAB_DATASETS"] = datasets
        self.proc = subprocess.Popen(
            [sys.executable, "-I", "-m", "policylab.grading.checks"], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env, cwd="/")

    @classmethod
    def shared(cls, *, datasets: str | None = None) -> "Checker":
        """This process's checker (started on first use, replaced if it died), set to ``datasets``."""
        with cls._lock:
            if cls._shared is None or cls._shared.proc.poll() is not None:
                if cls._shared is not None:
                    cls._shared.close()
                cls._shared = cls(datasets=datasets)
            cls._shared.datasets = datasets
            return cls._shared

    @classmethod
    def close_shared(cls) -> None:
        with cls._lock:
            if cls._shared is not None:
                cls._shared.close()

    def run(self, cells: list[dict], *, timeout: float, root: str | None = None) -> list[Verdict]:
        """Check every cell against ``root``'s references (default: $POLICYLAB_ROOT); a hang or crash fails
        them all (and the process is replaced)."""
        result: list = []

        def talk() -> None:
            job = {"cells": cells, "datasets": self.datasets, "root": root or os.environ.get("POLICYLAB_ROOT")}
            self.proc.stdin.write(json.dumps(job) + "\n")
            self.proc.stdin.flush()
            result.append(self.proc.stdout.readline())

        worker = threading.Thread(target=talk, daemon=True)
        worker.start()
        worker.join(timeout)
        if worker.is_alive() or not result or not result[0]:
            self.close()
            why = "시간 초과" if worker.is_alive() else "채점기 오류"
            return [Verdict(c["grade_id"], False, "CheckerError", f"테스트를 실행하지 못했습니다 ({why}).")
                    for c in cells]
        return [Verdict(**v) for v in json.loads(result[0])]

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        with Checker._lock:
            if Checker._shared is self:
                Checker._shared = None


if __name__ == "__main__":
    _serve()
