"""Where the checks before submitting are recorded, and reading them back (grading/checks/<module>/<learner>.jsonl).

Written by :mod:`policylab.grading.precheck`, one JSON line per check; read by the snapshot export
(the learner report's progress over attempts, the item analysis) without importing the checker.
"""
from __future__ import annotations

import json
from pathlib import Path


def attempts_file(root: Path, module_id: str, learner: str) -> Path:
    return Path(root) / "grading" / "checks" / module_id / f"{learner}.jsonl"


def read_attempts(root: Path, module_id: str, learner: str) -> list[dict]:
    """Every recorded check of this learner and module, oldest first (a damaged line is skipped)."""
    path = attempts_file(root, module_id, learner)
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines() if path.is_file() else []:
        try:
            rows.append(json.loads(line))
        except ValueError:
            continue
    return rows
