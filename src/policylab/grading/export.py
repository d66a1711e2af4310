"""The grading snapshot for reports (docs/snapshot.md) and the results CSV for HR.

Read once per batch: the gradebook (opened read-only: a mistyped SQLite path is an
error, never a new empty gradebook), the state records and the roster. Reports read
the CSV files and never import nbgrader.
"""
from __future__ import annotations

import csv
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import nbformat

from policylab.course.modules import load_modules
from policylab.course.nbconfig import load_config
from policylab.course.paths import find_root
from policylab.grading import states
from policylab.grading.attempts import read_attempts
from policylab.grading.bank import load_bank
from policylab.grading.gradebook import open_readonly
from policylab.grading.roster import Learner, load_roster
from policylab.snapshot import (  # the contract
    CHECKS_COLUMNS,
    COMMENTS_COLUMNS,
    QUESTIONS_COLUMNS,
    RESULTS_COLUMNS,
    ROSTER_COLUMNS,
)


@dataclass(frozen=True)
class Question:
    grade_id: str
    title: str
    skills: tuple[str, ...]
    kind: str            # auto | manual
    max_score: float


def module_questions(root: Path, module_id: str) -> list[Question]:
    """The graded cells of a module's source notebook(s), with titles and skills (metadata.policylab)."""
    questions = []
    for path in sorted((root / "solutions" / module_id).glob("*.ipynb")):
        for cell in nbformat.read(path, as_version=4).cells:
            meta = cell.metadata.get("nbgrader", {})
            if not (meta.get("grade") or meta.get("task")) or not float(meta.get("points") or 0):
                continue  # a 0-point task (a written question's mark-scheme cell) is not a question
            info = cell.metadata.get("policylab", {})
            auto = cell.cell_type == "code" and not meta.get("solution") and not meta.get("task")
            questions.append(Question(meta["grade_id"], info.get("title") or meta["grade_id"],
                                      tuple(info.get("skills", ())), "auto" if auto else "manual",
                                      float(meta.get("points", 0))))
    return questions


def _num(value) -> str:
    return "" if value is None else format(round(float(value), 4), "g")


def _read_gradebook(db_url: str, module_ids: list[str]) -> dict:
    """{(learner, module): {"timestamp", "penalty", "grades": {name: (...)}, "comments": {name: text}}}."""
    from nbgrader.api import Assignment, SubmittedAssignment
    from sqlalchemy.orm import Session

    engine = open_readonly(db_url)
    found = {}
    try:
        with Session(engine) as session:
            query = (session.query(SubmittedAssignment).join(SubmittedAssignment.assignment)
                     .filter(Assignment.name.in_(module_ids)))
            for sub in query:
                entry = {"timestamp": sub.timestamp, "penalty": 0.0, "grades": {}, "comments": {}}
                for nb in sub.notebooks:
                    entry["penalty"] += nb.late_submission_penalty or 0.0
                    for g in nb.grades:
                        entry["grades"][g.name] = {"auto": g.auto_score, "manual": g.manual_score,
                                                   "needs": g.needs_manual_grade, "score": g.score,
                                                   "max": g.max_score}
                    for c in nb.comments:
                        if c.manual_comment and c.manual_comment.strip():
                            entry["comments"][c.name] = c.manual_comment.strip()
                found[(sub.student_id, sub.assignment.name)] = entry
    finally:
        engine.dispose()
    return found


def _learners(root: Path, records: dict, book: dict) -> list[Learner]:
    roster = load_roster(root)
    known = {l.learner_id for l in roster}
    extra = sorted(({k[0] for k in records} | {k[0] for k in book}) - known)
    return roster + [Learner(learner_id=l) for l in extra]


def build_snapshot(*, root: Path | None = None) -> dict[str, list[dict]]:
    """The snapshot's tables as lists of rows (dicts keyed by the documented columns)."""
    root = Path(root) if root else find_root()
    modules = load_modules(root, ready_only=True)
    module_ids = [m.id for m in modules]
    config = load_config(root)
    book = _read_gradebook(config.CourseDirectory.db_url, module_ids)
    records = {k: r for k, r in states.read_states(root).items() if k[1] in module_ids}
    learners = _learners(root, records, book)
    questions = {m: module_questions(root, m) for m in module_ids}
    banks = {m.id: {b.id: b for b in load_bank(m.misconceptions, lesson=m.lesson.name)} for m in modules}

    results, per_question, comments = [], [], []
    for learner in learners:
        for module_id in module_ids:
            key = (learner.learner_id, module_id)
            record, entry = records.get(key), book.get(key)
            qs = questions[module_id]
            auto_max = sum(q.max_score for q in qs if q.kind == "auto")
            manual_max = sum(q.max_score for q in qs if q.kind == "manual")
            state = record.state if record else (states.GRADED if entry else states.MISSING)
            row = {"learner_id": learner.learner_id, "department": learner.department, "cohort": learner.cohort,
                   "module": module_id, "state": state,
                   "reason": record.reason if record and state not in (states.GRADED, states.MISSING) else "",
                   "score": "", "max_score": _num(auto_max + manual_max), "auto_score": "",
                   "auto_max": _num(auto_max), "manual_score": "", "manual_max": _num(manual_max),
                   "submitted_at": "", "graded_at": ""}
            if state != states.MISSING:
                row["submitted_at"] = (record.submitted_at if record else "") or states.iso_kst(
                    entry["timestamp"] if entry else None)
                row["graded_at"] = record.graded_at if record else ""
            if state in states.SCORED:
                grades = entry["grades"] if entry else {}
                auto = sum((grades.get(q.grade_id, {}).get("score") or 0.0) for q in qs if q.kind == "auto")
                manual_cells = [grades.get(q.grade_id) for q in qs if q.kind == "manual"]
                manual_done = bool(manual_cells) and all(
                    g is not None and (g["manual"] is not None or not g["needs"]) for g in manual_cells)
                manual = sum(g["score"] or 0.0 for g in manual_cells) if manual_done else None
                if state in states.ZEROED:
                    auto = 0.0
                penalty = entry["penalty"] if entry else 0.0
                row.update(auto_score=_num(auto), manual_score=_num(manual),
                           score=_num(max(0.0, auto + (manual or 0.0) - penalty)))
                for q in qs:
                    g = grades.get(q.grade_id)
                    pending = q.kind == "manual" and (g is None or (g["manual"] is None and g["needs"]))
                    score = None if pending else (0.0 if state in states.ZEROED else (g or {}).get("score", 0.0))
                    named = (record.diagnoses.get(q.grade_id) if record and q.kind == "auto"
                             and score is not None and score < q.max_score else None) or ""
                    known = banks[module_id].get(named)
                    per_question.append({"learner_id": learner.learner_id, "module": module_id,
                                         "question": q.grade_id, "title": q.title, "skills": ";".join(q.skills),
                                         "kind": q.kind, "score": _num(score), "max_score": _num(q.max_score),
                                         "misconception": named if known else "",
                                         "mistake": known.feedback() if known else ""})
                for question, text in sorted((entry or {}).get("comments", {}).items()):
                    comments.append({"learner_id": learner.learner_id, "module": module_id,
                                     "question": question, "comment": text})
            results.append(row)
    roster = [{c: getattr(l, c) for c in ROSTER_COLUMNS} for l in learners]
    return {"roster": roster, "results": results, "questions": per_question, "comments": comments}


def _write_csv(path: Path, columns: tuple[str, ...], rows: list[dict], *, bom: bool = False) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8-sig" if bom else "utf-8", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(columns))
            writer.writeheader()
            writer.writerows(rows)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def export_snapshot(*, root: Path | None = None, out_dir: Path | None = None) -> dict[str, Path]:
    """Write roster.csv, results.csv, questions.csv, comments.csv and checks.csv (UTF-8) for the reports."""
    root = Path(root) if root else find_root()
    out_dir = Path(out_dir) if out_dir else root / "grading" / "out" / "data"
    tables = build_snapshot(root=root)
    return {
        "roster": _write_csv(out_dir / "roster.csv", ROSTER_COLUMNS, tables["roster"]),
        "results": _write_csv(out_dir / "results.csv", RESULTS_COLUMNS, tables["results"]),
        "questions": _write_csv(out_dir / "questions.csv", QUESTIONS_COLUMNS, tables["questions"]),
        "comments": _write_csv(out_dir / "comments.csv", COMMENTS_COLUMNS, tables["comments"]),
        "checks": _write_csv(out_dir / "checks.csv", CHECKS_COLUMNS,
                             check_rows(root, [r["learner_id"] for r in tables["roster"]])),
    }


def check_rows(root: Path, learners: list[str]) -> list[dict]:
    """Every recorded check before submitting (grading/checks/<module>/<learner>.jsonl) of the roster's
    learners and the ready modules, one row per question; a damaged line is skipped, as when it is read."""
    rows = []
    for module in load_modules(root, ready_only=True):
        for learner in learners:
            for n, attempt in enumerate(read_attempts(root, module.id, learner), start=1):
                for question, verdict in (attempt.get("questions") or {}).items():
                    rows.append({"learner_id": learner, "module": module.id, "attempt": attempt.get("attempt") or n,
                                 "checked_at": attempt.get("time", ""), "question": question,
                                 "verdict": verdict.get("verdict", ""), "misconception": verdict.get("misconception") or ""})
    return rows


def export_results(*, root: Path | None = None, out: Path | None = None, excel: bool = True) -> tuple[Path, list[dict]]:
    """results.csv for HR: learner × module × state × score × submitted-at.

    ``excel`` writes a UTF-8 byte-order mark so that Excel shows the Korean correctly.
    """
    root = Path(root) if root else find_root()
    out = Path(out) if out else root / "grading" / "out" / "results.csv"
    rows = build_snapshot(root=root)["results"]
    return _write_csv(out, RESULTS_COLUMNS, rows, bom=excel), rows
