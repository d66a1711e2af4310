"""exercises/ is generated from solutions/; the drift check catches hand edits by name."""
from __future__ import annotations

import json
import shutil

import pytest
from click.testing import CliRunner
from conftest import REPO, copy_course

from policylab.cli import main
from policylab.course.build import check_exercises
from policylab.course.modules import load_modules

READY = [m.id for m in load_modules(REPO, ready_only=True)]


def test_committed_exercises_match_solutions(repo):
    drifts = check_exercises(root=repo)
    assert not drifts, "\n".join(map(str, drifts))


@pytest.fixture
def course(tmp_path):
    """A scratch course holding only the first ready module (the others' sources are not copied)."""
    root = copy_course(tmp_path / "course", READY[:1])
    shutil.copytree(REPO / "exercises" / READY[0], root / "exercises" / READY[0])
    return root


def test_hand_edited_release_fails_the_check_with_its_name(course):
    released = course / "exercises" / READY[0] / f"{READY[0]}.ipynb"
    nb = json.loads(released.read_text(encoding="utf-8"))
    nb["cells"][0]["source"] = "손으로 고친 문장입니다.\n"
    released.write_text(json.dumps(nb, ensure_ascii=False, indent=1), encoding="utf-8")
    result = CliRunner().invoke(main, ["--root", str(course), "build", "--check", "--module", READY[0]])
    assert result.exit_code == 1
    assert str(released) in result.output


def test_stray_file_in_release_is_reported(course):
    stray = course / "exercises" / READY[0] / "answers.txt"
    stray.write_text("42")
    assert [d.path for d in check_exercises(root=course, modules=READY[:1])] == [stray]


def test_clean_copy_passes_and_build_recreates_a_deleted_release(course):
    released = course / "exercises" / READY[0] / f"{READY[0]}.ipynb"
    only = ["--module", READY[0]]
    assert CliRunner().invoke(main, ["--root", str(course), "build", "--check", *only]).exit_code == 0
    released.unlink()
    assert CliRunner().invoke(main, ["--root", str(course), "build", *only]).exit_code == 0
    assert released.is_file() and not check_exercises(root=course, modules=READY[:1])


def test_unknown_module_is_refused(course):
    result = CliRunner().invoke(main, ["--root", str(course), "build", "--module", "m77"])
    assert result.exit_code != 0 and "m77" in result.output
