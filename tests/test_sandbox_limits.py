"""Resource attacks end their own submission, recorded as such, and nothing else.

A memory bomb, a fork loop, a 50 MB print, a disk-filling loop, an oversized file and a CPU
spin are graded in one batch between honest learners; each attack ends with its own outcome
and no points, and the honest learners graded after them still get their full score.
"""
from __future__ import annotations

from pathlib import Path

import pytest
from attacks import LIMITS, Context, load
from attacks.course import (
    MODULE,
    checksums,
    read_scores,
    released_course,
    run_once,
    source_notebook,
    submit,
)

from policylab.course.nbconfig import load_config
from policylab.grading import states
from policylab.grading.batch import grade_module
from policylab.grading.sandbox import configure as sandbox

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("sandbox-limits")]

TEST_LIMITS = sandbox.Limits(memory_mb=1024, cpu_seconds=4, processes=48, file_mb=8, disk_mb=32, tmp_mb=16,
                             output_mb=2)


def _grade_batch(folder: Path) -> dict:
    """The batch goes through the grading pipeline (`policylab grade`), two workers at once."""
    root, release = released_course(folder)
    config = load_config(root)
    ctx = Context(root=root, port=9)
    submissions = {"first_full": source_notebook(),
                   **{name: load(name).build(release, ctx) for name in LIMITS},
                   "last_full": source_notebook()}
    for learner, nb in submissions.items():
        submit(root, learner, nb)
    before = checksums(root)
    report = grade_module(MODULE, root=root, workers=2, limits=TEST_LIMITS, timeout=30)
    return {"root": str(root), "before": before,
            "states": {learner: [r.state, r.reason, r.sandbox] for learner, r in report.records.items()},
            "scores": read_scores(config, list(submissions))}


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    result = run_once("sandbox-limits", tmp_path_factory, _grade_batch)
    return {**result, "root": Path(result["root"])}


def test_learners_around_the_attacks_get_full_marks(batch):
    for learner in ("first_full", "last_full"):
        assert batch["scores"][learner]["_total"] == 5.0
        assert batch["states"][learner][0] in (states.GRADED, states.TAMPERED)  # the source notebook: tampered
        assert [o["ended"] for o in sandbox.read_outcomes(MODULE, learner, root=batch["root"])] == ["completed"]


@pytest.mark.parametrize("name", LIMITS)
def test_limit_ends_the_submission_and_is_recorded(batch, name):
    outcomes = sandbox.read_outcomes(MODULE, name, root=batch["root"])
    assert [o["ended"] for o in outcomes] == [load(name).ENDS], outcomes
    assert batch["scores"][name]["_total"] == 0.0
    state, reason, sandboxed = batch["states"][name]
    assert sandboxed and state == states.LIMIT_EXCEEDED and "한도" in reason, batch["states"][name]


def test_submitted_files_untouched(batch):
    assert checksums(batch["root"]) == batch["before"]
