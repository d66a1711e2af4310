"""Where the course lives, so notebooks and tools find it from any working folder.

Lessons run in ``notebooks/``, exercises in ``exercises/mNN/``, autograded copies in
``grading/autograded/<learner>/mNN/``: each sits at a different depth, so notebooks
read data through ``DATASETS`` instead of a relative path.
"""
from __future__ import annotations

import os
from pathlib import Path

MARKERS = ("course.yml", "nbgrader_config.py")


def find_root(start: str | os.PathLike | None = None) -> Path:
    """The course directory: $POLICYLAB_ROOT, else the nearest parent holding course.yml."""
    if os.environ.get("POLICYLAB_ROOT"):
        return Path(os.environ["POLICYLAB_ROOT"]).resolve()
    here = Path(start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if all((folder / m).is_file() for m in MARKERS):
            return folder
    checkout = Path(__file__).resolve().parents[3]  # editable install: <checkout>/src/policylab/course/paths.py
    if all((checkout / m).is_file() for m in MARKERS):
        return checkout
    raise FileNotFoundError(
        f"No PolicyLab course directory (a folder with {' and '.join(MARKERS)}) above {here}; "
        "run from inside the repository or set POLICYLAB_ROOT."
    )


def datasets_dir() -> Path:
    """The published datasets: $POLICYLAB_DATASETS (read-only mounts, the hub), else <root>/datasets."""
    if os.environ.get("POLICYLAB_DATASETS"):
        return Path(os.environ["POLICYLAB_DATASETS"]).resolve()
    return find_root() / "datasets"


def __getattr__(name: str) -> Path:
    """``from policylab.course.paths import DATASETS``, computed when it is imported (PEP 562), not once per
    process: the grader's long-lived processes (the checker, the kept diagnosis kernel) change
    $POLICYLAB_DATASETS from one learner's draw to the next, and each import must see the current one."""
    if name == "DATASETS":
        return datasets_dir()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
