"""The autograde path: submissions in grading/submitted/ → scores in the gradebook.

Serial for now, through nbgrader's own API; parallel workers, recorded states and
collection arrive with the grading-pipeline issue.
"""
from __future__ import annotations

import os
from pathlib import Path

from policylab.course import get_module
from policylab.nbconfig import load_config, make_api
from policylab.paths import find_root


class GradingError(RuntimeError):
    pass


def find_submissions(module_id: str, *, root: Path) -> list[str]:
    """Learner ids with a submitted folder for the module."""
    submitted = root / "grading" / "submitted"
    if not submitted.is_dir():
        return []
    return sorted(p.name for p in submitted.iterdir() if (p / module_id).is_dir())


def grade_module(module_id: str, *, root: Path | None = None, learners: list[str] | None = None) -> dict[str, dict]:
    """Autograde each learner's submission with NBGRADER_EXECUTION set; returns nbgrader's result per learner."""
    root = Path(root) if root else find_root()
    get_module(module_id, root)
    config = load_config(root)
    os.environ["NBGRADER_EXECUTION"] = "autograde"
    results = {}
    for learner in learners or find_submissions(module_id, root=root):
        results[learner] = make_api(config).autograde(module_id, learner, force=True, create=True)
    return results


def read_scores(module_id: str, *, root: Path | None = None) -> dict[str, dict[str, tuple[float, float]]]:
    """{learner: {grade cell id: (score, max_score)}} for autograded cells, read-only."""
    from nbgrader.api import Gradebook

    root = Path(root) if root else find_root()
    db_url = load_config(root).CourseDirectory.db_url
    db_file = db_url.removeprefix("sqlite:///")
    if db_url.startswith("sqlite:///") and not Path(db_file).is_file():
        raise GradingError(f"{db_file}: gradebook not found (grade something first, or check db_url)")
    scores: dict[str, dict[str, tuple[float, float]]] = {}
    with Gradebook(db_url) as gb:
        assignment = gb.find_assignment(module_id)
        for submission in assignment.submissions:
            cells = scores.setdefault(submission.student.id, {})
            for nb in submission.notebooks:
                for grade in nb.grades:
                    if grade.auto_score is not None or grade.cell_type == "code":
                        cells[grade.name] = (grade.score, grade.max_score)
    return scores
