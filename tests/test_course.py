"""course.yml is the one list of modules; everything else agrees with it."""
from __future__ import annotations

import pytest

from policylab.course.modules import CourseError, get_module, load_modules


def test_course_lists_the_thirteen_modules_in_order(repo):
    modules = load_modules(repo)
    assert [m.id for m in modules] == [f"m{i:02d}" for i in range(1, 14)]
    assert all(m.title_ko and m.title_en and m.skills and m.points > 0 for m in modules)


def test_ready_modules_have_their_material(repo):
    ready = load_modules(repo, ready_only=True)
    assert ready, "at least one module must be ready"
    for m in ready:
        for path in (m.lesson, m.source, m.release, m.misconceptions):
            assert path.is_file(), f"{m.id} is marked ready but {path} is missing"


def test_datasets_named_by_ready_modules_exist(repo):
    for m in load_modules(repo, ready_only=True):
        for name in m.datasets:
            assert (repo / "datasets" / name).is_file(), f"{m.id} needs datasets/{name}"


def test_unknown_module_is_named_in_the_error(repo):
    with pytest.raises(CourseError, match="m99"):
        get_module("m99", repo)


def test_undeclared_skill_is_rejected(tmp_path, repo):
    text = (repo / "course.yml").read_text(encoding="utf-8").replace(
        "skills: [notebooks, python-basics", "skills: [no-such-skill, python-basics", 1)
    (tmp_path / "course.yml").write_text(text, encoding="utf-8")
    with pytest.raises(CourseError, match="no-such-skill"):
        load_modules(tmp_path)


def test_readme_course_map_matches_course_yml(repo):
    from policylab.course.modules import course_map_markdown

    readme = (repo / "README.md").read_text(encoding="utf-8")
    assert course_map_markdown(repo) in readme, (
        "README.md's course map is out of date: paste the output of "
        "`python -c 'from policylab.course.modules import course_map_markdown; print(course_map_markdown())'`"
    )
