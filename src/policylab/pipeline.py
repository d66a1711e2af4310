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


def export_item_analysis(*, root: str | os.PathLike | None = None, out_dir: str | os.PathLike | None = None,
                         snapshot_dir: str | os.PathLike | None = None) -> Path:
    """``item_analysis.csv`` for trainers (per question: share right, per named mistake, unexplained),
    from a fresh snapshot (exported into ``snapshot_dir``, or a temporary folder)."""
    import tempfile

    from policylab.reports.items import write_item_analysis
    from policylab.reports.snapshot import load_snapshot

    root = Path(root).resolve() if root else find_root()
    out_dir = Path(out_dir) if out_dir else root / "grading" / "out"
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="policylab-snapshot-") as scratch:
        folder = Path(snapshot_dir) if snapshot_dir else Path(scratch)
        export_snapshot(root=root, out_dir=folder)
        snap = load_snapshot(folder)
        csv_path, page = write_item_analysis(snap.questions, out_dir, snap.checks)
    return csv_path


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
