"""Kill a grading run mid-batch, rerun it, and regrade only what changed (real kernels)."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest
from fixtures import faults
from fixtures.tiny_course import make_course

from policylab.course.modules import get_module
from policylab.demo.cohort import ModuleMaterial
from policylab.grading import states
from policylab.grading.batch import GradingError, _BatchLock, grade_module, read_scores

pytestmark = pytest.mark.slow
BIN = Path(sys.executable).parent
FULL = {"q1_tests": (2.0, 2.0), "q2_tests": (3.0, 3.0)}


def _submit(course: Path, learner: str, text: str) -> None:
    folder = course / "grading" / "submitted" / learner / "m01"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "m01.ipynb").write_text(text, encoding="utf-8")


def _slow_complete(material: ModuleMaterial, seconds: float) -> str:
    nb = nbformat.reads(faults.kind(material, "complete"), as_version=4)
    answer = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "q1_answer")
    answer.source = f"import time\ntime.sleep({seconds})\n" + answer.source
    return nbformat.writes(nb)


def test_a_killed_batch_loses_nothing_and_the_rerun_resumes(tmp_path):
    course = make_course(tmp_path / "course")
    material = ModuleMaterial(get_module("m01", course))
    learners = ["a1", "a2", "a3", "a4"]
    for learner in learners:
        _submit(course, learner, _slow_complete(material, 1.5))
    env = dict(os.environ, PATH=os.pathsep.join([str(BIN), os.environ.get("PATH", "")]))
    run = subprocess.Popen([str(BIN / "policylab"), "--root", str(course), "grade", "m01", "--workers", "1"],
                           env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    records = course / "grading" / "states" / "m01"
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and not list(records.glob("*.json")) and run.poll() is None:
        time.sleep(0.05)
    os.killpg(run.pid, signal.SIGKILL)   # the CLI and its worker, mid-batch
    run.wait()
    done = {p.stem for p in records.glob("*.json")}
    assert 1 <= len(done) < len(learners), "the kill should land between the first and the last learner"
    scores = read_scores("m01", root=course)
    assert all(scores[learner] == FULL for learner in done)   # what was recorded is in the gradebook

    report = grade_module("m01", root=course, workers=2)
    assert set(report.unchanged) == done
    assert set(report.regraded) == set(learners) - done
    assert all(r.state == states.GRADED for r in report.records.values())
    assert read_scores("m01", root=course) == {learner: FULL for learner in learners}
    leftovers = [p for p in (course / "grading" / ".work").iterdir() if p.is_dir()]
    assert not leftovers, f"working copies of the killed run were not cleaned up: {leftovers}"
    assert not list((course / "grading" / "autograded").glob("*/.m01.old-*"))


def test_a_rerun_grades_only_new_or_changed_submissions(tmp_path):
    course = make_course(tmp_path / "course")
    material = ModuleMaterial(get_module("m01", course))
    _submit(course, "b1", faults.kind(material, "complete"))
    _submit(course, "b2", faults.kind(material, "blank"))
    first = grade_module("m01", root=course, workers=2)
    assert sorted(first.regraded) == ["b1", "b2"]

    again = grade_module("m01", root=course)
    assert again.regraded == [] and sorted(again.unchanged) == ["b1", "b2"] and again.workers == 0

    _submit(course, "b2", faults.kind(material, "complete"))    # resubmitted, now answered
    _submit(course, "b3", faults.kind(material, "complete"))    # a new learner
    changed = grade_module("m01", root=course, workers=2)
    assert sorted(changed.regraded) == ["b2", "b3"] and changed.unchanged == ["b1"]
    assert read_scores("m01", root=course)["b2"] == FULL

    forced = grade_module("m01", root=course, learners=["b1"], force=True)
    assert forced.regraded == ["b1"] and forced.workers == 1


def test_a_second_run_on_the_same_module_is_refused(tmp_path):
    course = make_course(tmp_path / "course", build=False)
    with _BatchLock(course, "m01"):
        with pytest.raises(GradingError, match="another `policylab grade`"):
            grade_module("m01", root=course)


def test_the_demo_trainer_grades_written_answers_and_reports_see_them(tmp_path):
    """The demo's simulated trainer scores written answers; the export then has them, with comments."""
    from policylab.demo.cohort import (
        TRAINER_MARKS,
        simulate_cohort,
        simulate_trainer_grades,
    )
    from policylab.grading.export import build_snapshot

    course = make_course(tmp_path / "course")
    cohort = simulate_cohort(["m01"], root=course, learners=4, seed=11, broken=())
    grade_module("m01", root=course, workers=2)
    assert simulate_trainer_grades(cohort, "m01", root=course) == len(cohort.submissions)
    snapshot = build_snapshot(root=course)
    kinds = {s.learner: s.kind for s in cohort.submissions}
    written = {q["learner_id"]: q["score"] for q in snapshot["questions"] if q["question"] == "w1_answer"}
    assert {l: float(written[l]) for l in kinds} == {l: round(2.0 * TRAINER_MARKS[k][0] * 2) / 2
                                                    for l, k in kinds.items()}
    assert {c["learner_id"]: c["comment"] for c in snapshot["comments"]} == \
        {l: TRAINER_MARKS[k][1] for l, k in kinds.items()}
