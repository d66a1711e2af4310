"""Links and non-regular files in a submission are refused, never followed (issue 16).

A batch goes through the grading pipeline (``grade_module``, sandbox on, two workers): honest
learners before and after learners whose folder holds a link to the source notebook (absolute),
a relative link to the solutions folder, a link to the gradebook, a FIFO, or whose submission
folder is itself a link to solutions/. Each attack: no points, the ``unreadable`` state with the
Korean reason naming the file, nothing autograded; the submitted files (links and the FIFO
included) are byte-identical; the honest learners are graded as usual; a rerun sees nothing
changed (fingerprints count a link by its target text and never open the FIFO).
Fixture builders: tests/attacks/ (``LINKS``).
"""
from __future__ import annotations

from pathlib import Path

import pytest
from attacks import LINKS, Context, load
from attacks.course import (
    HIDDEN_MARKERS,
    MODULE,
    Q1,
    checksums,
    released_course,
    run_once,
    source_notebook,
    submit,
    with_answers,
)

from policylab.course.nbconfig import load_config
from policylab.grading import states
from policylab.grading.batch import grade_module
from policylab.grading.sandbox import configure as sandbox

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("sandbox-links")]

HONEST = {"first_full": 5.0, "honest_partial": 2.0, "last_full": 5.0}


def _scores(config, learners) -> dict[str, float | None]:
    """{learner: total score in the course gradebook, or None when it holds no submission}."""
    from nbgrader.api import Gradebook, MissingEntry

    out = {}
    with Gradebook(config.CourseDirectory.db_url) as gb:
        for learner in learners:
            try:
                out[learner] = float(gb.find_submission(MODULE, learner).score)
            except MissingEntry:
                out[learner] = None
    return out


def _grade_batch(folder: Path) -> dict:
    root, release = released_course(folder)
    config = load_config(root)
    ctx = Context(root=root, port=9)
    submissions = {"first_full": source_notebook(),
                   "honest_partial": with_answers(release, {"q1_answer": Q1}),
                   **{name: load(name).build(release, ctx) for name in LINKS},
                   "last_full": source_notebook()}
    for learner, nb in submissions.items():
        path = submit(root, learner, nb)
        if learner in LINKS:
            load(learner).plant(path.parent, ctx)
    before = checksums(root)
    report = grade_module(MODULE, root=root, workers=2, timeout=30)
    again = grade_module(MODULE, root=root, workers=2, timeout=30)
    return {"root": str(root), "before": before, "after": checksums(root),
            "records": {learner: {"state": r.state, "reason": r.reason, "details": r.details,
                                  "auto_score": r.auto_score, "sandbox": r.sandbox}
                        for learner, r in report.records.items()},
            "scores": _scores(config, list(submissions)),
            "unchanged_on_rerun": sorted(again.unchanged), "regraded_on_rerun": sorted(again.regraded)}


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    result = run_once("sandbox-links", tmp_path_factory, _grade_batch)
    return {**result, "root": Path(result["root"])}


def test_honest_learners_around_the_attacks_are_graded(batch):
    for learner, total in HONEST.items():
        assert batch["scores"][learner] == total, learner
        assert batch["records"][learner]["state"] in (states.GRADED, states.TAMPERED)  # source notebook: tampered
        assert batch["records"][learner]["sandbox"] is True


@pytest.mark.parametrize("name", LINKS)
def test_link_or_fifo_is_refused_named_and_earns_nothing(batch, name):
    record = batch["records"][name]
    assert record["state"] == states.UNREADABLE, record
    assert record["reason"] == load(name).REFUSED
    assert load(name).REFUSED in record["details"]
    assert record["auto_score"] is None and batch["scores"][name] is None
    assert not (batch["root"] / "grading" / "autograded" / name).exists()
    assert sandbox.read_outcomes(MODULE, name, root=batch["root"]) == []  # no kernel ever started for it


def test_submitted_files_links_and_fifo_are_untouched(batch):
    assert batch["after"] == batch["before"]
    kinds = {key.split("/")[2]: value for key, value in batch["before"].items()
             if value.startswith(("link:", "kind:"))}
    assert set(kinds) == set(LINKS), kinds
    assert kinds["fifo_in_submission"] == "kind:p"


def test_nothing_of_the_answers_reached_an_autograded_notebook(batch):
    files = list((batch["root"] / "grading" / "autograded").rglob("*.ipynb"))
    assert {p.parts[-3] for p in files} == set(HONEST)
    for path in files:
        text = path.read_text(encoding="utf-8")
        assert not [m for m in HIDDEN_MARKERS if m in text], path


def test_a_rerun_sees_nothing_changed(batch):
    assert batch["regraded_on_rerun"] == []
    assert batch["unchanged_on_rerun"] == sorted(set(HONEST) | set(LINKS))
