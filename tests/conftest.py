"""Shared fixtures: the repository root and scratch copies of the course."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def repo() -> Path:
    return REPO


def copy_course(dest: Path, module_ids: list[str] = ()) -> Path:
    """A scratch course directory: config, course map and the named modules' sources.

    datasets/ is linked, not copied: notebooks read it and nothing writes it.
    """
    dest.mkdir(parents=True, exist_ok=True)
    for name in ("nbgrader_config.py", "course.yml"):
        shutil.copy2(REPO / name, dest / name)
    for module_id in module_ids:
        shutil.copytree(REPO / "solutions" / module_id, dest / "solutions" / module_id)
    (dest / "datasets").symlink_to(REPO / "datasets", target_is_directory=True)
    return dest
