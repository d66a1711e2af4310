"""Shared fixtures: the repository root and scratch copies of the course."""
from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest
from pg_server import pg_server, pg_url  # noqa: F401 (fixtures: a throwaway PostgreSQL server)

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session", autouse=True)
def shared_signature_cache(tmp_path_factory):
    """One cache of misconception signatures (policylab.grading.signatures) for every scratch
    course of the session, across pytest-xdist workers: each module's bank is run once."""
    base = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        base = base.parent
    os.environ.setdefault("POLICYLAB_CACHE_DIR", str(base / "policylab-cache"))


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


NOISE = re.compile(r"Warning|warn\(|DeprecationWarning|FutureWarning", re.I)


def learner_visible_problems(nb) -> list[str]:
    """Errors, stderr and warning text in an executed notebook: what a learner must never see."""
    problems = []
    for i, cell in enumerate(nb.cells):
        for out in cell.get("outputs", []):
            if out.output_type == "error":
                problems.append(f"cell {i}: {out.ename}: {out.evalue}")
            elif out.output_type == "stream" and out.name == "stderr" and out.text.strip():
                problems.append(f"cell {i}: stderr: {out.text.strip()[:200]}")
            elif NOISE.search(str(out.get("text", ""))):
                problems.append(f"cell {i}: warning text shown: {str(out.get('text'))[:200]}")
    return problems
