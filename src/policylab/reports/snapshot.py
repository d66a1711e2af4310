"""Reading the grading snapshot (docs/snapshot.md) for the report templates, checked file by file.

The reports see grading only through these CSV files: a broken path, column or number stops
a batch here, in the parent process, with an error naming the file, before any kernel starts.
Nothing heavy is imported at module level: report kernels import this module too.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from policylab.course.paths import find_root
from policylab.snapshot import NUMERIC_COLUMNS, OPTIONAL_COLUMNS, SNAPSHOT_COLUMNS, STATES

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd


class ReportError(RuntimeError):
    """A snapshot, template or option is unusable; the message names the file and the fix."""


@dataclass
class Snapshot:
    """The snapshot tables (docs/snapshot.md), text columns as ``str``, points as floats."""

    folder: Path
    roster: "pd.DataFrame"
    results: "pd.DataFrame"
    questions: "pd.DataFrame"
    comments: "pd.DataFrame"
    checks: "pd.DataFrame | None" = None  # checks before submitting; empty when none were exported


def default_snapshot_dir(root: Path | None = None) -> Path:
    return (Path(root) if root else find_root()) / "grading" / "out" / "data"


def _read_table(path: Path) -> "pd.DataFrame":
    import pandas as pd

    if not path.is_file():
        raise ReportError(
            f"{path}: snapshot file not found. Run `policylab report` without --snapshot to export "
            "a fresh snapshot from the gradebook, or point --snapshot at a folder holding "
            f"{', '.join(SNAPSHOT_COLUMNS)}."
        )
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8")
    except (UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise ReportError(f"{path}: not a readable UTF-8 CSV file ({exc.__class__.__name__}: {exc})") from None
    missing = [c for c in {**SNAPSHOT_COLUMNS, **OPTIONAL_COLUMNS}[path.name] if c not in frame.columns]
    if missing:
        raise ReportError(
            f"{path}: missing column(s) {', '.join(missing)}; docs/snapshot.md lists the columns "
            "grading's export_snapshot writes."
        )
    for column in NUMERIC_COLUMNS & set(frame.columns):
        text = frame[column].str.strip()
        numbers = pd.to_numeric(text.where(text != ""), errors="coerce")
        bad = numbers.isna() & (text != "")
        if bad.any():
            row = int(bad.to_numpy().nonzero()[0][0]) + 2  # 1-based, after the header line
            raise ReportError(f"{path}: line {row}: column {column!r} is not a number ({text[bad].iloc[0]!r})")
        frame[column] = numbers.astype("float64")
    return frame


def load_snapshot(folder: str | os.PathLike | None = None, *, root: str | os.PathLike | None = None) -> Snapshot:
    """Read and check the snapshot CSVs; any problem raises ReportError naming the file."""
    folder = Path(folder) if folder else default_snapshot_dir(Path(root) if root else None)
    if not folder.is_dir():
        raise ReportError(
            f"{folder}: snapshot folder not found. Run `policylab report` (it exports the snapshot "
            "from the gradebook) or pass --snapshot with the folder that holds roster.csv."
        )
    tables = {name: _read_table(folder / name) for name in SNAPSHOT_COLUMNS}
    roster = tables["roster.csv"]
    if roster.empty:
        raise ReportError(f"{folder / 'roster.csv'}: the roster lists no learners")
    duplicated = roster["learner_id"][roster["learner_id"].duplicated()]
    if not duplicated.empty:
        raise ReportError(f"{folder / 'roster.csv'}: learner {duplicated.iloc[0]!r} is listed twice")
    results = tables["results.csv"]
    unknown = sorted(set(results["state"]) - set(STATES))
    if unknown:
        raise ReportError(
            f"{folder / 'results.csv'}: unknown state(s) {', '.join(map(repr, unknown))}; "
            f"expected one of {', '.join(STATES)}"
        )
    import pandas as pd

    checks = (_read_table(folder / "checks.csv") if (folder / "checks.csv").is_file()
              else pd.DataFrame(columns=list(OPTIONAL_COLUMNS["checks.csv"]), dtype=str))
    return Snapshot(folder, roster, results, tables["questions.csv"], tables["comments.csv"], checks)


# --------------------------------------------------------------------------- the course map


@dataclass(frozen=True)
class CourseInfo:
    """What the templates need from course.yml: modules in course order and skill names."""

    modules: "pd.DataFrame"  # module, title, lesson, ready, order, skills (tuple)
    skills: dict[str, str]   # skill id → Korean name


def load_course_info(root: str | os.PathLike | None = None) -> CourseInfo:
    import pandas as pd

    from policylab.course.modules import load_course, load_modules

    root = Path(root) if root else find_root()
    modules = load_modules(root)
    frame = pd.DataFrame(
        {
            "module": [m.id for m in modules],
            "title": [m.title_ko for m in modules],
            "lesson": [m.lesson.relative_to(root).as_posix() for m in modules],
            "ready": [m.ready for m in modules],
            "order": list(range(len(modules))),
            "skills": [m.skills for m in modules],
        }
    )
    skills = {key: value.get("ko", key) for key, value in load_course(root).get("skills", {}).items()}
    return CourseInfo(frame, skills)

