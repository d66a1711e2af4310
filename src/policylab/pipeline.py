"""Where grading meets reports: export the snapshot from the gradebook, then render from it.

Grading and reports never import each other (docs/architecture.md); they meet only at the
snapshot files (docs/snapshot.md). This module is the one place above both that joins them,
so the CLI, the demo and the hub's tests all render reports from the gradebook the same way.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable

from policylab.course.paths import find_root
from policylab.grading.export import export_snapshot
from policylab.reports.render import ReportSummary, render_reports


def render_from_gradebook(*, root: str | os.PathLike | None = None, learners: Iterable[str] | None = None,
                          workers: int | None = None, snapshot_dir: str | os.PathLike | None = None,
                          progress: bool = True) -> ReportSummary:
    """Render reports from a fresh snapshot of the gradebook, or from ``snapshot_dir`` as it is.

    A missing or mistyped gradebook raises grading's ``GradebookError`` naming the file (it is
    opened read-only, so a typo never creates an empty one).
    """
    root = Path(root).resolve() if root else find_root()
    if snapshot_dir is None:
        snapshot_dir = root / "grading" / "out" / "data"
        export_snapshot(root=root, out_dir=snapshot_dir)
    return render_reports(root=root, learners=learners, workers=workers, snapshot_dir=snapshot_dir,
                          progress=progress)
