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
numpy/pandas, and writes the cell's outputs itself (``policylab.hidden_tests``).

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
import datetime as _dt
import decimal
import json
import math
import os
import re
import subprocess
import symtable
import sys
import threading
from dataclasses import dataclass

EXPORT_MIME = "application/vnd.policylab.export+json"
HIDDEN_BEGIN, HIDDEN_END = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"
PROBE_BEGIN, PROBE_END = "### BEGIN PROBE", "### END PROBE"
MAX_EXPORT_CHARS = 20_000_000
MAX_ITEMS = 2_000_000
# Modules a test cell may use without importing them (a learner's `pd` is re-imported, by name).
MODULES = {"math", "statistics", "re", "datetime", "json", "numpy", "pandas", "scipy", "scipy.stats",
           "statsmodels.api", "statsmodels.formula.api", "plotly.express", "plotly.graph_objects", "plotly.io"}
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
class Unsupported:
    """Stands for a value that could not travel as plain data: it equals nothing."""

    def __init__(self, type_name: str):
        self.type_name = type_name

    def __eq__(self, other):
        return False

    def __ne__(self, other):
        return True

    __hash__ = object.__hash__

    def __bool__(self):
        raise TypeError(f"채점할 수 없는 형식의 값입니다 ({self.type_name}).")

    def __repr__(self):
        return f"<채점할 수 없는 값: {self.type_name}>"


_DTYPE = re.compile(
    r"^(bool|u?int(8|16|32|64)|float(16|32|64)|complex(64|128)|object|str|string|<U\d+|"
    r"datetime64\[(ns|us|ms|s)(, [A-Za-z0-9_/+\-]+)?\]|timedelta64\[(ns|us|ms|s)\]|"
    r"category|U?Int(8|16|32|64)|Float(32|64)|boolean|string\[python\]|string\[pyarrow\])$")


def encode(value, _depth: int = 0, _budget: list | None = None):
    """A JSON-able description of ``value`` built from exact types only (no subclasses)."""
    budget = _budget if _budget is not None else [MAX_ITEMS]
    budget[0] -= 1
    if budget[0] < 0 or _depth > 40:
        return {"t": "unsupported", "type": "too large or too deep"}
    t = type(value)
    if value is None:
        return {"t": "none"}
    if t is bool:
        return {"t": "bool", "v": value}
    if t is int:
        return {"t": "int", "v": str(value)}
    if t is float:
        return {"t": "float", "v": repr(value)}
    if t is str:
        return {"t": "str", "v": value}
    if t in (list, tuple, set, frozenset):
        items = [encode(v, _depth + 1, budget) for v in value]
        return {"t": t.__name__, "v": items}
    if t is dict:
        return {"t": "dict", "v": [[encode(k, _depth + 1, budget), encode(v, _depth + 1, budget)]
                                   for k, v in value.items()]}
    if t is _dt.datetime:
        return {"t": "datetime", "v": value.isoformat()}
    if t is _dt.date:
        return {"t": "date", "v": value.isoformat()}
    if t is decimal.Decimal:
        return {"t": "decimal", "v": str(value)}
    if t is re.Pattern:
        return {"t": "regex", "pattern": encode(value.pattern, _depth + 1, budget), "flags": int(value.flags)}
    mod = getattr(t, "__module__", "") or ""
    if mod.startswith("numpy"):
        return _encode_numpy(value, t, _depth, budget)
    if mod.startswith("pandas"):
        return _encode_pandas(value, t, _depth, budget)
    if mod.startswith("statsmodels") and t.__name__.endswith("ResultsWrapper"):
        return _encode_fit(value, _depth, budget)
    if mod == "plotly.graph_objs._figure" and t.__name__ == "Figure":
        return {"t": "plotly", "v": encode(_typed_arrays_to_numpy(value.to_dict()), _depth + 1, budget)}
    return {"t": "unsupported", "type": f"{mod}.{getattr(t, '__qualname__', '?')}"}


FIT_ATTRIBUTES = ("params", "bse", "pvalues", "tvalues", "nobs", "rsquared", "rsquared_adj", "df_model",
                  "df_resid", "fvalue", "f_pvalue", "aic", "bic", "llf", "cov_type")


class FitSummary:
    """A statsmodels fit as the checker sees it: its plain results, no model to re-run."""

    def __init__(self, attributes: dict, conf_int, formula):
        for name, value in attributes.items():
            setattr(self, name, value)
        self._conf_int = conf_int
        self.model = type("Model", (), {"formula": formula})()

    def conf_int(self, alpha: float = 0.05):
        if alpha != 0.05 or self._conf_int is None:
            raise ValueError("채점기는 95% 신뢰구간만 받습니다.")
        return self._conf_int

    def __repr__(self):
        return "<FitSummary of a statsmodels fit>"


def _encode_fit(value, depth, budget):
    attributes = {}
    for name in FIT_ATTRIBUTES:
        try:
            attributes[name] = encode(getattr(value, name), depth + 1, budget)
        except Exception:
            continue
    try:
        conf = encode(value.conf_int(), depth + 1, budget)
    except Exception:
        conf = {"t": "none"}
    formula = getattr(getattr(value, "model", None), "formula", None)
    return {"t": "fit", "attributes": attributes, "conf_int": conf,
            "formula": encode(formula if type(formula) is str else None, depth + 1, budget)}


def _typed_arrays_to_numpy(obj):
    """plotly's to_dict packs numeric arrays as {"dtype", "bdata"} (base64); unpack them so the
    checker's Figure holds arrays, as the learner's did."""
    import base64

    import numpy as np

    if type(obj) is dict:
        if set(obj) <= {"dtype", "bdata", "shape"} and {"dtype", "bdata"} <= set(obj):
            arr = np.frombuffer(base64.b64decode(obj["bdata"]), dtype=np.dtype(obj["dtype"]))
            if obj.get("shape"):
                arr = arr.reshape([int(n) for n in str(obj["shape"]).split(",")])
            return arr.copy()
        return {k: _typed_arrays_to_numpy(v) for k, v in obj.items()}
    if type(obj) in (list, tuple):
        return type(obj)(_typed_arrays_to_numpy(v) for v in obj)
    return obj


def _encode_numpy(value, t, depth, budget):
    import numpy as np

    if t is np.ndarray and value.dtype.kind in "biufcUSMmO":
        if value.size > MAX_ITEMS:
            return {"t": "unsupported", "type": "numpy.ndarray (too large)"}
        return {"t": "ndarray", "dtype": str(value.dtype), "shape": list(value.shape),
                "v": [encode(v, depth + 1, budget) for v in value.ravel().tolist()]
                if value.dtype.kind in "OMm" else encode(value.ravel().tolist(), depth + 1, budget)}
    if isinstance(value, np.generic) and t.__module__ == "numpy" and value.dtype.kind in "biufc":
        return {"t": "npscalar", "dtype": str(value.dtype), "v": encode(value.item(), depth + 1, budget)}
    if isinstance(value, np.datetime64):
        return {"t": "npdatetime", "v": str(value)}
    return {"t": "unsupported", "type": f"numpy.{t.__qualname__}"}


def _encode_index(index, depth, budget):
    import pandas as pd

    if type(index) is pd.RangeIndex:
        return {"t": "rangeindex", "start": index.start, "stop": index.stop, "step": index.step,
                "name": encode(index.name, depth + 1, budget)}
    if type(index) is pd.MultiIndex:
        return {"t": "multiindex", "v": encode(list(index), depth + 1, budget),
                "names": encode(list(index.names), depth + 1, budget)}
    return {"t": "index", "dtype": str(index.dtype), **_encode_values(index.tolist(), depth, budget),
            "name": encode(index.name, depth + 1, budget)}


_RAW_TYPES = frozenset({int, float, bool, str, type(None)})


def _encode_values(values: list, depth, budget) -> dict:
    """The elements of a pandas object: a plain JSON list when they are all plain (fast, small),
    ISO strings when they are all timestamps, else one tagged element at a time."""
    import pandas as pd

    budget[0] -= len(values)
    kinds = {type(v) for v in values}
    if kinds <= _RAW_TYPES:
        return {"raw": values}
    if kinds <= {pd.Timestamp, type(pd.NaT), type(None)}:
        return {"ts": [None if v is None or v is pd.NaT else v.isoformat() for v in values]}
    return {"v": [_encode_cell(v, depth + 1, budget) for v in values]}


def _encode_cell(v, depth, budget):
    """One element of a pandas object (tolist gives Timestamps, NaT and NA there)."""
    import pandas as pd

    if v is pd.NA or v is pd.NaT:
        return {"t": "none"}
    if type(v) is pd.Timestamp:
        return {"t": "timestamp", "v": v.isoformat()}
    if type(v) is pd.Timedelta:
        return {"t": "timedelta", "v": v.value}
    return encode(v, depth, budget)


def _encode_series(s, depth, budget):
    dtype = str(s.dtype)
    out = {"t": "series", "dtype": dtype, "name": encode(s.name, depth + 1, budget),
           "index": _encode_index(s.index, depth + 1, budget)}
    if dtype == "category":
        out["categories"] = encode(list(s.cat.categories), depth + 1, budget)
        out["ordered"] = bool(s.cat.ordered)
        values = s.astype(object).tolist()
    else:
        values = s.tolist()
    out.update(_encode_values(values, depth, budget))
    return out


def _encode_pandas(value, t, depth, budget):
    import pandas as pd

    if t is pd.Series:
        return _encode_series(value, depth, budget)
    if t is pd.DataFrame:
        if value.size > MAX_ITEMS:
            return {"t": "unsupported", "type": "pandas.DataFrame (too large)"}
        return {"t": "frame", "columns": _encode_index(value.columns, depth + 1, budget),
                "index": _encode_index(value.index, depth + 1, budget),
                "data": [_encode_series(value.iloc[:, i], depth + 1, budget) for i in range(value.shape[1])]}
    if t in (pd.Index, pd.RangeIndex, pd.MultiIndex):
        return _encode_index(value, depth, budget)
    if t is pd.Timestamp:
        return {"t": "timestamp", "v": value.isoformat()}
    if t is pd.Timedelta:
        return {"t": "timedelta", "v": value.value}
    return {"t": "unsupported", "type": f"pandas.{t.__qualname__}"}


def _dtype(name: str):
    if not isinstance(name, str) or not _DTYPE.match(name):
        raise ValueError(f"dtype not allowed: {name!r}")
    import pandas as pd

    return pd.api.types.pandas_dtype(name)


def decode(doc):
    """The value ``encode`` described; refuses anything outside its own vocabulary."""
    t = doc["t"]
    if t == "none":
        return None
    if t == "bool":
        return bool(doc["v"])
    if t == "int":
        return int(doc["v"])
    if t == "float":
        return float(doc["v"])
    if t == "str":
        return str(doc["v"])
    if t in ("list", "tuple", "set", "frozenset"):
        items = [decode(v) for v in doc["v"]]
        return {"list": list, "tuple": tuple, "set": set, "frozenset": frozenset}[t](items)
    if t == "dict":
        return {decode(k): decode(v) for k, v in doc["v"]}
    if t == "datetime":
        return _dt.datetime.fromisoformat(doc["v"])
    if t == "date":
        return _dt.date.fromisoformat(doc["v"])
    if t == "decimal":
        return decimal.Decimal(doc["v"])
    if t == "unsupported":
        return Unsupported(str(doc.get("type")))
    if t == "regex":
        return re.compile(decode(doc["pattern"]), int(doc["flags"]))
    if t == "fit":
        attributes = {k: decode(v) for k, v in doc["attributes"].items() if k in FIT_ATTRIBUTES}
        return FitSummary(attributes, decode(doc["conf_int"]), decode(doc["formula"]))
    import numpy as np
    import pandas as pd

    if t == "npscalar":
        return np.dtype(_dtype(doc["dtype"])).type(decode(doc["v"]))
    if t == "npdatetime":
        return np.datetime64(doc["v"])
    if t == "ndarray":
        dtype = _dtype(doc["dtype"])
        flat = [decode(v) for v in doc["v"]] if isinstance(doc["v"], list) else decode(doc["v"])
        return np.array(flat, dtype=dtype).reshape(doc["shape"])
    if t == "timestamp":
        return pd.Timestamp(doc["v"])
    if t == "plotly":
        import plotly.graph_objects as go

        return go.Figure(decode(doc["v"]))
    if t == "timedelta":
        return pd.Timedelta(int(doc["v"]))
    if t in ("index", "rangeindex", "multiindex"):
        return _decode_index(doc)
    if t == "series":
        return _decode_series(doc)
    if t == "frame":
        columns = _decode_index(doc["columns"])
        index = _decode_index(doc["index"])
        data = {i: _decode_series(s) for i, s in enumerate(doc["data"])}
        frame = pd.DataFrame(data, index=index) if data else pd.DataFrame(index=index)
        frame.columns = columns
        return frame
    raise ValueError(f"unknown plain-data tag {t!r}")


def _values(doc) -> list:
    import pandas as pd

    if "raw" in doc:
        raw = doc["raw"]
        if not isinstance(raw, list) or not {type(v) for v in raw} <= _RAW_TYPES:
            raise ValueError("raw values must be plain")
        return raw
    if "ts" in doc:
        return [pd.NaT if v is None else pd.Timestamp(str(v)) for v in doc["ts"]]
    return [decode(v) for v in doc["v"]]


def _decode_index(doc):
    import pandas as pd

    if doc["t"] == "rangeindex":
        return pd.RangeIndex(int(doc["start"]), int(doc["stop"]), int(doc["step"]), name=decode(doc["name"]))
    if doc["t"] == "multiindex":
        return pd.MultiIndex.from_tuples(decode(doc["v"]), names=decode(doc["names"]))
    if doc["t"] != "index":
        raise ValueError("not an index")
    return pd.Index(_values(doc), dtype=_dtype(doc["dtype"]), name=decode(doc["name"]))


def _decode_series(doc):
    import pandas as pd

    if doc["t"] != "series":
        raise ValueError("not a series")
    values = _values(doc)
    index = _decode_index(doc["index"])
    if doc["dtype"] == "category":
        dtype = pd.CategoricalDtype(decode(doc["categories"]), ordered=bool(doc.get("ordered")))
    else:
        dtype = _dtype(doc["dtype"])
    return pd.Series(values, index=index, dtype=dtype, name=decode(doc["name"]))


# ----------------------------------------------------------------------------- in the kernel
def export(nonce: str, grade_id: str, namespace: dict, names: list[str]) -> None:
    """Publish the named values as plain data for the grader (called by the grading line of a test cell)."""
    from IPython.display import publish_display_data

    values = {}
    for name in names:
        if name not in namespace:
            values[name] = {"t": "missing"}
            continue
        value = namespace[name]
        if type(value).__name__ == "module" and getattr(value, "__name__", None) in MODULES:
            values[name] = {"t": "module", "v": value.__name__}
            continue
        try:
            values[name] = encode(value)
        except Exception as exc:  # a value that breaks while being read is not gradable
            values[name] = {"t": "unsupported", "type": f"{type(value).__name__} ({type(exc).__name__})"}
    payload = {"nonce": nonce, "grade_id": grade_id, "values": values}
    text = json.dumps(payload)
    if len(text) > MAX_EXPORT_CHARS:
        payload = {"nonce": nonce, "grade_id": grade_id, "values": {
            n: {"t": "unsupported", "type": "too large"} for n in names}}
    publish_display_data({EXPORT_MIME: payload, "text/plain": "(채점용 값)"})


def export_line(nonce: str, grade_id: str, names: list[str]) -> str:
    return (f'__import__("policylab.checks").checks.export({nonce!r}, {grade_id!r}, globals(), '
            f"{names!r})\n")


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
    for line in sys.stdin:
        job = json.loads(line)
        if job.get("datasets"):
            os.environ["POLICYLAB_DATASETS"] = job["datasets"]
        verdicts = [check_cell(c["grade_id"], c["code"], c["values"]).__dict__ for c in job["cells"]]
        out.write(json.dumps(verdicts) + "\n")
        out.flush()


class Checker:
    """A fresh Python process that runs test cells' checks; reused by one grader process."""

    _lock = threading.RLock()
    _shared: "Checker | None" = None

    def __init__(self, *, datasets: str | None = None):
        self.datasets = datasets
        env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
        if datasets:
            env["POLICYLAB_DATASETS"] = datasets
        self.proc = subprocess.Popen(
            [sys.executable, "-I", "-m", "policylab.checks"], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env, cwd="/")

    @classmethod
    def shared(cls, *, datasets: str | None = None) -> "Checker":
        with cls._lock:
            if cls._shared is None or cls._shared.proc.poll() is not None or cls._shared.datasets != datasets:
                if cls._shared is not None:
                    cls._shared.close()
                cls._shared = cls(datasets=datasets)
            return cls._shared

    def run(self, cells: list[dict], *, timeout: float) -> list[Verdict]:
        """Check every cell; a hang or crash fails them all (and the process is replaced)."""
        result: list = []

        def talk() -> None:
            self.proc.stdin.write(json.dumps({"cells": cells, "datasets": self.datasets}) + "\n")
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
