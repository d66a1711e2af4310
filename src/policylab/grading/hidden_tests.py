"""nbgrader steps that keep test cells out of the learner's reach (see ``policylab.grading.checks``).

Sanitize pass (before the notebook is written to the working copy the kernel will see):

1. ``RestoreCellMetadata`` — before OverwriteCells: every cell's grade/solution/locked/points
   metadata comes from the gradebook; flags on cells the gradebook does not know are dropped
   (so forged points, an answer cell turned into a grade cell or an invented grade cell count
   for nothing; stock nbgrader crashes on the last).
2. ``StripHiddenTests`` — after OverwriteCells: test cells keep their probe and visible checks;
   the hidden checks never reach the working copy, the kernel, the autograded notebook or feedback.

Autograde pass:

3. ``InsertExports`` — before execution: a test cell runs only its probe and an ``export`` line
   carrying a fresh nonce (the sentinel that the cell ran to its end).
4. ``RunHiddenTests`` — after execution: the grader runs each test cell's checks (visible +
   hidden) in a fresh process on the exported plain data and writes the cell's outputs itself:
   nothing on a pass, one error on a failure. Whatever the learner's code printed, displayed or
   swallowed in a test cell is discarded, so nbgrader's output-based scoring sees only the verdict.
"""
from __future__ import annotations

import os
import secrets
from pathlib import Path

from nbformat.notebooknode import NotebookNode
from nbgrader.api import Gradebook, MissingEntry
from nbgrader.preprocessors import NbGraderPreprocessor
from traitlets import Bool, Float, Unicode

from policylab.grading.checks import (
    HIDDEN_BEGIN,
    PROBE_BEGIN,
    PROBE_END,
    Checker,
    split_test_cell,
)
from policylab.grading.values import EXPORT_MIME, MODULES, export_line

NOTE = "# (숨은 테스트는 채점기가 학습자 커널 밖에서 따로 실행했습니다)\n"


_SOURCE_CELLS: dict[tuple, dict] = {}
KEEP_SOURCE_CELLS = False  # set by a grading worker (policylab.grading.autograde.WorkingCopy)


def _source_cells(resources) -> dict:
    """{grade_id: {"source", "locked", "grade": max_score|None, "solution": bool, "cell_type"}} from the gradebook
    (read once per pass: kept in ``resources``; and once per grading worker, whose private gradebook's
    source cells never change during its batch)."""
    if "policylab_source_cells" in resources:
        return resources["policylab_source_cells"]
    info = resources["nbgrader"]
    key = (info["db_url"], info["assignment"], info["notebook"])
    if key not in _SOURCE_CELLS or not KEEP_SOURCE_CELLS:
        _SOURCE_CELLS[key] = _read_source_cells(resources)
    resources["policylab_source_cells"] = cells = _SOURCE_CELLS[key]
    return cells


def _read_source_cells(resources) -> dict:
    info = resources["nbgrader"]
    with Gradebook(info["db_url"]) as gb:
        try:
            notebook = gb.find_notebook(info["notebook"], info["assignment"])
        except MissingEntry:
            return {}
        cells = {c.name: {"source": c.source, "locked": c.locked, "cell_type": c.cell_type,
                          "grade": None, "solution": False} for c in notebook.source_cells}
        for c in notebook.grade_cells:
            cells.setdefault(c.name, {"source": "", "locked": True, "cell_type": c.cell_type,
                                      "solution": False})["grade"] = float(c.max_score)
        for c in notebook.solution_cells:
            if c.name in cells:
                cells[c.name]["solution"] = True
    return cells


def _is_auto_test(known: dict | None) -> bool:
    return bool(known) and known["grade"] is not None and not known["solution"] and known["cell_type"] == "code"


def _grade_id(cell) -> str | None:
    return cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")


class RestoreCellMetadata(NbGraderPreprocessor):
    """Grade, solution, locked and points metadata from the gradebook, never from the submission."""

    def preprocess(self, nb, resources):
        known = _source_cells(resources)
        for cell in nb.cells:
            meta = cell.get("metadata", {}).get("nbgrader")
            if not meta:
                continue
            entry = known.get(meta.get("grade_id"))
            if entry is None:  # a cell the source never had: an ordinary cell, worth nothing
                del cell.metadata["nbgrader"]
                continue
            meta["grade"] = entry["grade"] is not None
            meta["solution"] = entry["solution"]
            meta["locked"] = entry["locked"]
            if entry["grade"] is not None:
                meta["points"] = entry["grade"]
            else:
                meta.pop("points", None)
        return nb, resources


class StripHiddenTests(NbGraderPreprocessor):
    """Test cells lose their hidden checks before the notebook reaches the kernel's working copy."""

    def preprocess(self, nb, resources):
        known = _source_cells(resources)
        for cell in nb.cells:
            entry = known.get(_grade_id(cell))
            if cell.cell_type == "code" and _is_auto_test(entry):
                cell.source = display_source(entry["source"])
        return nb, resources


def display_source(source: str) -> str:
    """What a test cell shows after grading: probe and visible checks, a note where hidden ones were."""
    parts = split_test_cell(source)
    text = ""
    if parts.probe:
        text += f"{PROBE_BEGIN}\n{parts.probe.rstrip(chr(10))}\n{PROBE_END}\n"
    text += parts.visible.rstrip("\n") + "\n"
    if HIDDEN_BEGIN in source:
        text += NOTE
    return text.lstrip("\n")


class InsertExports(NbGraderPreprocessor):
    """Before execution: a test cell runs only its probe, then hands its values to the grader."""

    def preprocess(self, nb, resources):
        known = _source_cells(resources)
        nonce = secrets.token_hex(16)
        plan = {}
        for index, cell in enumerate(nb.cells):
            gid = _grade_id(cell)
            entry = known.get(gid)
            if cell.cell_type != "code" or not _is_auto_test(entry):
                continue
            parts = split_test_cell(entry["source"])
            names = parts.exported_names
            plan[gid] = {"code": parts.checks, "names": names, "shown": display_source(entry["source"]),
                         "index": index, "visible_lines": len(parts.visible.rstrip("\n").splitlines())}
            cell.source = parts.probe + ("\n" if parts.probe and not parts.probe.endswith("\n") else "") \
                + export_line(nonce, gid, names)
        resources["policylab_checks"] = {"nonce": nonce, "cells": plan}
        return nb, resources


HIDDEN_FAILED = "숨은 테스트를 통과하지 못했습니다"


def _error(ename: str, evalue: str, *, hidden: bool = False) -> NotebookNode:
    """An error output as the learner sees it; a failed hidden check says so (its code stays hidden)."""
    shown = f"{HIDDEN_FAILED}: {evalue}" if hidden and HIDDEN_FAILED not in evalue else evalue
    return NotebookNode(output_type="error", ename=ename, evalue=evalue,
                        traceback=[f"\x1b[0;31m{ename}\x1b[0m: {shown}"])


class RunHiddenTests(NbGraderPreprocessor):
    """After execution: judge each test cell on its exported values, in the checker process."""

    timeout = Float(120.0, help="Seconds the checks of one notebook may take together.").tag(config=True)
    signatures_file = Unicode("", help="The module's misconception signatures (policylab.grading.signatures); "
                              "empty: failed answers are not diagnosed.").tag(config=True)
    bank_file = Unicode("", help="The module's misconceptions.yml").tag(config=True)
    lesson = Unicode("", help="The module's lesson notebook file name (where feedback sends the learner)").tag(config=True)
    per_draw = Bool(False, help="Each learner has their own draw: the signatures are computed (once, cached) "
                    "on the draw this notebook was graded on").tag(config=True)

    def _root(self) -> str:
        return os.environ.get("POLICYLAB_ROOT") or str(Path(self.config.CourseDirectory.get("root") or os.getcwd()))

    def _datasets(self) -> str:
        if os.environ.get("POLICYLAB_DATASETS"):
            return os.environ["POLICYLAB_DATASETS"]
        return str(Path(self._root()) / "datasets")

    def preprocess(self, nb, resources):
        state = resources.get("policylab_checks")
        if not state:
            return nb, resources
        nonce, plan = state["nonce"], state["cells"]
        jobs, failed = [], {}
        for gid, item in plan.items():
            cell = nb.cells[item["index"]]
            errors = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
            exports = [o["data"][EXPORT_MIME] for o in cell.get("outputs", [])
                       if o.get("output_type") == "display_data" and EXPORT_MIME in o.get("data", {})]
            exports = [e for e in exports if isinstance(e, dict) and e.get("nonce") == nonce and e.get("grade_id") == gid]
            if errors:
                failed[gid] = NotebookNode(output_type="error", ename=str(errors[0].get("ename", "Error")),
                                           evalue=str(errors[0].get("evalue", ""))[:2000],
                                           traceback=list(errors[0].get("traceback", []))[:60])
            elif len(exports) != 1 or not isinstance(exports[0].get("values"), dict):
                failed[gid] = _error("TestIncomplete", "테스트 셀이 끝까지 실행되지 않았습니다 (채점 확인 값이 없습니다).")
            else:
                sent = exports[0]["values"]  # only the names the grader asked for: nothing else gets in
                values = {n: sent[n] if isinstance(sent.get(n), dict) else {"t": "missing"} for n in item["names"]}
                jobs.append({"grade_id": gid, "code": item["code"], "values": values})
        # the course root goes with every job: a checker kept from another course must not read that one's reference
        verdicts = {v.grade_id: v for v in Checker.shared(datasets=self._datasets()).run(
            jobs, timeout=self.timeout, root=self._root())} if jobs else {}
        for gid, item in plan.items():
            cell = nb.cells[item["index"]]
            cell.source = item["shown"]
            if gid in failed:
                cell.outputs = [failed[gid]]
            elif verdicts.get(gid) is not None and verdicts[gid].passed:
                cell.outputs = []
            else:
                v = verdicts.get(gid)
                cell.outputs = [_error(v.ename, v.evalue, hidden=v.line > item.get("visible_lines", 0)) if v
                                else _error("CheckerError", "테스트를 실행하지 못했습니다.")]
        try:
            self._diagnose(nb, plan, jobs, verdicts, resources)
        except Exception as exc:  # noqa: BLE001 - naming a mistake is extra: it never costs a learner the grade
            self.log.warning("diagnosis skipped: %s: %s", type(exc).__name__, exc)
        return nb, resources

    def _diagnose(self, nb, plan: dict, jobs: list, verdicts: dict, resources: dict) -> None:
        """Name the known mistake behind each failed answer that handed over its values."""
        if not self.signatures_file and not self.per_draw:
            return
        from policylab.grading.diagnosis import diagnose, load_for_grading

        failed = [j for j in jobs if verdicts.get(j["grade_id"]) is None or not verdicts[j["grade_id"]].passed]
        if not failed:
            return
        answer_errors = {}
        for cell in nb.cells:
            raised = [o.get("ename", "") for o in cell.get("outputs", []) if o.get("output_type") == "error"]
            if raised and _grade_id(cell):
                answer_errors[_grade_id(cell)] = raised[0]
        if self.per_draw:
            from policylab.grading.bank import load_bank
            from policylab.grading.diagnosis import UNEXPLAINED
            from policylab.grading.signatures import signatures

            # an unanswered question (its answer cells raise nbgrader's NotImplementedError or nothing, its test
            # got no value) matches no entry whatever the draw's signatures are: no trial kernel for it
            bank = load_bank(Path(self.bank_file), lesson=self.lesson)
            for job in [j for j in failed if _unanswered(j, bank, answer_errors)]:
                failed.remove(job)
                nb.cells[plan[job["grade_id"]]["index"]].metadata.setdefault("policylab", {})["diagnosis"] = {
                    "misconception": None, "text": UNEXPLAINED}
            if not failed:
                return
            # this learner's draw, and only the bank entries behind the cells that failed (cached)
            root, module_id = Path(os.environ["POLICYLAB_ROOT"]), resources["nbgrader"]["assignment"]
            sig = signatures(module_id, root=root, datasets=Path(self._datasets()),
                             targets=frozenset(j["grade_id"] for j in failed))
        else:
            loaded = load_for_grading(self.signatures_file, self.bank_file, lesson=self.lesson)
            if loaded is None:
                return
            sig, bank = loaded
        for job in failed:
            found = diagnose(job["grade_id"], job["values"], sig, bank, answer_errors)
            cell = nb.cells[plan[job["grade_id"]]["index"]]
            cell.metadata.setdefault("policylab", {})["diagnosis"] = {"misconception": found.misconception,
                                                                      "text": found.text}


def _unanswered(job: dict, bank, answer_errors: dict[str, str]) -> bool:
    """No value reached the test, and every answer cell behind it was left as released (raised nbgrader's
    NotImplementedError) or raised nothing: diagnosis.diagnose can name no entry then (an entry whose
    names are missing needs the learner's answer to raise the entry's own error, and no bank entry
    raises NotImplementedError: bank.load_bank refuses one), so the result is known without trials."""
    cells = {m.cell for m in bank if job["grade_id"] in m.targets}
    return all(v.get("t") == "missing" for v in job["values"].values()) and \
        all(answer_errors.get(c) in (None, "NotImplementedError") for c in cells)


def lint_test_cells(nb) -> list[str]:
    """Problems with a source notebook's test cells under this convention (for a quality gate).

    A name a test cell reads but never binds is exported from the learner's kernel as plain data,
    so it must be a value some earlier cell or the cell's probe assigns — not a module or helper
    imported elsewhere (import it in the test cell) and not a function (probe it).
    """
    import ast

    problems = []
    imported: dict[str, str] = {}
    defined: set[str] = set()
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        meta = cell.get("metadata", {}).get("nbgrader", {})
        gid = meta.get("grade_id", "?")
        if meta.get("grade") and not meta.get("solution"):
            parts = split_test_cell(cell.source)
            try:
                probe_tree = ast.parse(parts.probe)
            except SyntaxError as exc:
                problems.append(f"{gid}: probe does not parse ({exc.msg})")
                continue
            probed = {t.id for node in ast.walk(probe_tree) if isinstance(node, ast.Assign)
                      for t in node.targets if isinstance(t, ast.Name)}
            for name in parts.exported_names:
                if name in imported and imported[name] not in MODULES:
                    problems.append(f"{gid}: uses {name!r} ({imported[name]}), imported in an earlier cell and not "
                                    "one the checker re-imports: import it in the test cell")
                elif name in defined and name not in probed:
                    problems.append(f"{gid}: checks {name!r}, a function or class: call it in a "
                                    f"{PROBE_BEGIN} block and check the values")
            if HIDDEN_BEGIN not in cell.source:
                problems.append(f"{gid}: no hidden tests")
        try:
            tree = ast.parse(cell.source)
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                imported.update({a.asname or a.name.split(".")[0]: a.name if a.asname else a.name.split(".")[0]
                                 for a in node.names})
            elif isinstance(node, ast.ImportFrom):
                imported.update({a.asname or a.name: f"{node.module}.{a.name}" for a in node.names})
            elif isinstance(node, (ast.FunctionDef, ast.ClassDef, ast.AsyncFunctionDef)):
                defined.add(node.name)
    return problems
