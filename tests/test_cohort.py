"""The simulated cohort: deterministic, realistic, every broken kind, never touching real learners.

No kernels here: grading the simulated kinds is covered by test_grading.py.
"""
from __future__ import annotations

import json
import random
from datetime import datetime
from pathlib import Path

import nbformat
import pytest
from conftest import REPO
from fixtures.tiny_course import make_course

from policylab.course.modules import get_module, load_modules
from policylab.demo.cohort import (
    BROKEN_KINDS,
    EXPECTED_STATE,
    GOOD_KINDS,
    CohortError,
    ModuleMaterial,
    build_notebook,
    due_date,
    simulate_cohort,
)
from policylab.grading.roster import Learner, load_roster, write_roster
from policylab.grading.submissions import checksums


def _grade_ids(nb) -> list[str]:
    return [c.metadata.get("nbgrader", {}).get("grade_id") for c in nb.cells]


def _cell(nb, grade_id):
    return next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)


@pytest.fixture(scope="module")
def course(tmp_path_factory) -> Path:
    return make_course(tmp_path_factory.mktemp("cohort") / "course")


def test_the_same_seed_writes_the_same_cohort(course, tmp_path):
    other = make_course(tmp_path / "other")
    first = simulate_cohort(root=course, learners=25, seed=7)
    second = simulate_cohort(root=other, learners=25, seed=7)
    assert checksums(course / "grading" / "submitted") == checksums(other / "grading" / "submitted")
    assert first.submissions == second.submissions
    assert (course / "grading" / "roster.csv").read_bytes() == (other / "grading" / "roster.csv").read_bytes()
    third = make_course(tmp_path / "third")
    simulate_cohort(root=third, learners=25, seed=8)
    assert checksums(third / "grading" / "submitted") != checksums(course / "grading" / "submitted")


def test_a_rerun_leaves_unchanged_submissions_untouched(course):
    simulate_cohort(root=course, learners=25, seed=7)
    files = sorted((course / "grading" / "submitted").rglob("*.ipynb"))
    stamps = {p: p.stat().st_mtime_ns for p in files}
    simulate_cohort(root=course, learners=25, seed=7)
    assert {p: p.stat().st_mtime_ns for p in files} == stamps


def test_every_kind_is_present_and_looks_like_its_name(course):
    cohort = simulate_cohort(root=course, learners=25, seed=7)
    kinds = [s.kind for s in cohort.submissions]
    assert all(kinds.count(k) == 1 for k in BROKEN_KINDS)
    assert {"complete", "partial", "misconception"} <= set(kinds)
    assert 20 <= len(cohort.submissions) <= 25
    assert cohort.expected_states() == {(s.learner, s.module): EXPECTED_STATE[s.kind] for s in cohort.submissions}
    release = nbformat.read(course / "exercises" / "m01" / "m01.ipynb", 4)
    for sub in cohort.submissions:
        text = (course / "grading" / "submitted" / sub.learner / "m01" / "m01.ipynb").read_text(encoding="utf-8")
        if sub.kind == "invalid-json":
            with pytest.raises(json.JSONDecodeError):
                json.loads(text)
            continue
        nb = nbformat.reads(text, as_version=4)
        ids = _grade_ids(nb)
        if sub.kind == "deleted-test-cell":
            assert "q1_tests" not in ids
        elif sub.kind == "duplicated-cell":
            assert ids.count("q1_tests") == 2 and len({c.id for c in nb.cells}) == len(nb.cells)
        elif sub.kind == "edited-test-cell":
            assert _cell(nb, "q1_tests").source.rstrip().endswith("pass")
        elif sub.kind == "kernel-exit":
            assert "os._exit(1)" in "\n".join(c.source for c in nb.cells)
        elif sub.kind == "ignores-interrupt":
            assert "SIG_IGN" in _cell(nb, "q1_answer").source
        elif sub.kind == "infinite-loop":
            assert _cell(nb, "q1_answer").source.startswith("while True")
        elif sub.kind in ("complete", "late"):
            assert _cell(nb, "q1_answer").source == "answer = 42"
            assert "SOLUTION" not in text and "NotImplementedError" not in _cell(nb, "q2_answer").source
        elif sub.kind == "blank":
            assert [c.source for c in nb.cells] == [c.source for c in release.cells]
        else:
            assert ids == _grade_ids(release)


def test_submission_times_follow_the_due_dates(course):
    cohort = simulate_cohort(root=course, learners=25, seed=7)
    roster = {l.learner_id: l for l in cohort.roster}
    for sub in cohort.submissions:
        due = due_date(roster[sub.learner], 0)
        when = datetime.fromisoformat(sub.submitted_at)
        assert (when > due) == (sub.kind == "late")
        stamp = course / "grading" / "submitted" / sub.learner / "m01" / "timestamp.txt"
        assert stamp.read_text().strip() == sub.submitted_at


def test_the_roster_is_simulated_and_real_rosters_are_left_alone(course, tmp_path):
    cohort = simulate_cohort(root=course, learners=25, seed=7)
    roster = load_roster(course)
    assert roster == cohort.roster and len(roster) == 25
    assert all(l.learner_id.startswith("sim-") and l.department and l.name and l.start_date for l in roster)
    assert len({l.cohort for l in roster}) == 2

    real = make_course(tmp_path / "real", build=False)
    write_roster(real, [Learner("emp1001", "경영지원실", "2025-1기", "2025-03-03", "홍길동")])
    with pytest.raises(CohortError, match="real learners"):
        simulate_cohort(root=real, learners=5)


def test_a_smaller_cohort_removes_the_learners_it_no_longer_has(course):
    simulate_cohort(root=course, learners=25, seed=7)
    simulate_cohort(root=course, learners=10, seed=7)
    learners = {p.name for p in (course / "grading" / "submitted").iterdir()}
    assert learners <= {f"sim-{i:03d}" for i in range(1, 11)}
    simulate_cohort(root=course, learners=25, seed=7)   # back to the shared state for the other tests


READY = load_modules(REPO, ready_only=True)


@pytest.mark.parametrize("module_id", [m.id for m in READY])
@pytest.mark.parametrize("kind", GOOD_KINDS + BROKEN_KINDS)
def test_every_kind_builds_from_each_ready_module(module_id, kind):
    module = get_module(module_id, REPO)
    if not module.release.is_file():
        pytest.skip(f"{module.release} not built")
    material = ModuleMaterial(module)
    text, _ = build_notebook(material, kind, random.Random(3))
    if kind == "invalid-json":
        with pytest.raises(json.JSONDecodeError):
            json.loads(text)
        return
    nb = nbformat.reads(text, as_version=4)
    nbformat.validate(nb)
    if kind == "complete":
        source = nbformat.read(module.source, as_version=4)
        for grade_id in material.answers:
            want = "\n".join(l for l in _cell(source, grade_id).source.split("\n") if "SOLUTION" not in l)
            assert _cell(nb, grade_id).source == want.strip("\n")
