"""The trainer's roster: ``grading/roster.csv``, one row per learner.

Columns (UTF-8, header required): ``learner_id, department, cohort, start_date, name``;
``name`` may be empty. ``grading/roster.example.csv`` shows the format.
"""
from __future__ import annotations

import csv
import os
import tempfile
from dataclasses import asdict, dataclass, fields
from datetime import date
from pathlib import Path

from policylab.grading.submissions import LEARNER_ID

COLUMNS = ("learner_id", "department", "cohort", "start_date", "name")


class RosterError(ValueError):
    """The roster is malformed; the message names the file, the row and the fix."""


@dataclass(frozen=True)
class Learner:
    learner_id: str
    department: str = ""
    cohort: str = ""
    start_date: str = ""   # ISO date
    name: str = ""


def roster_path(root: Path) -> Path:
    return Path(root) / "grading" / "roster.csv"


def load_roster(root: Path, *, path: Path | None = None) -> list[Learner]:
    """The roster's learners in file order; [] when there is no roster yet."""
    path = Path(path) if path else roster_path(root)
    if not path.is_file():
        return []
    with open(path, encoding="utf-8-sig", newline="") as fh:
        reader = csv.DictReader(fh)
        missing = [c for c in COLUMNS[:4] if c not in (reader.fieldnames or [])]
        if missing:
            raise RosterError(f"{path}: missing column(s) {missing}; the header must be {','.join(COLUMNS)}")
        learners, seen = [], set()
        for line, row in enumerate(reader, start=2):
            learner = Learner(**{c: (row.get(c) or "").strip() for c in COLUMNS})
            if not LEARNER_ID.match(learner.learner_id):
                raise RosterError(f"{path}:{line}: learner_id {learner.learner_id!r} must be letters, digits, "
                                  "'.', '_' or '-' (it becomes a folder name)")
            if learner.learner_id in seen:
                raise RosterError(f"{path}:{line}: learner_id {learner.learner_id!r} appears twice")
            if learner.start_date:
                try:
                    date.fromisoformat(learner.start_date)
                except ValueError:
                    raise RosterError(f"{path}:{line}: start_date {learner.start_date!r} is not YYYY-MM-DD") from None
            seen.add(learner.learner_id)
            learners.append(learner)
    return learners


def write_roster(root: Path, learners: list[Learner], *, path: Path | None = None) -> Path:
    """Write the roster atomically (UTF-8, header first)."""
    path = Path(path) if path else roster_path(root)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".roster.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=[f.name for f in fields(Learner)])
            writer.writeheader()
            for learner in learners:
                writer.writerow(asdict(learner))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
