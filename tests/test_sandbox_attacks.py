"""The attack suite: a batch of honest and malicious submissions graded through real nbgrader.

Honest learners are graded before and after the attackers, in the same course, with the same
gradebook; then: every honest score is right, every submitted (and source) file is
byte-identical, no autograded notebook or feedback holds hidden test source, each attack earned
nothing and its execution is recorded as expected. Fixture builders: tests/attacks/.
"""
from __future__ import annotations

import importlib.util
import os
import socket
import threading
from pathlib import Path

import nbformat
import pytest
from attacks import DAMAGE_AND_INTEGRITY, Context, load
from attacks.course import (
    HIDDEN_MARKERS,
    MODULE,
    POINTS,
    Q1,
    Q2,
    build_course,
    checksums,
    read_scores,
    run_once,
    source_notebook,
    submit,
    with_answers,
)

from policylab.course.nbconfig import load_config, make_api
from policylab.data.privacy import KEY_FILE_ENV
from policylab.grading.sandbox import configure as sandbox

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("sandbox-attacks")]

LIMITS = sandbox.Limits(memory_mb=1536, cpu_seconds=30, processes=64, file_mb=8, disk_mb=32, tmp_mb=16, output_mb=2)
HONEST = {  # learner: expected points per test cell
    "honest_full": {"q1_tests": 2.0, "q2_tests": 2.0, "q3_tests": 1.0},
    "honest_partial": {"q1_tests": 2.0, "q2_tests": 0.0, "q3_tests": 0.0},
    "honest_blank": {"q1_tests": 0.0, "q2_tests": 0.0, "q3_tests": 0.0},
    "honest_late_full": {"q1_tests": 2.0, "q2_tests": 2.0, "q3_tests": 1.0},
}


class Listener:
    """A loopback TCP server that records whether anyone connected."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
                self.connections += 1
                conn.close()
            except OSError:
                pass

    def close(self):
        self.stop.set()
        self.thread.join(2)
        self.sock.close()


def _plant_truth_and_key(root: Path) -> Path:
    """What read_truth_module looks for, present and readable outside the sandbox: the truth module
    compiled into __pycache__, and a pseudonymization key file named by the environment."""
    import py_compile

    import policylab.data.synth.truth as truth

    py_compile.compile(truth.__file__, cfile=importlib.util.cache_from_source(truth.__file__), doraise=True)
    key = root.parent / "pseudonym.key"
    key.write_text("attack-suite-secret-key-0123456789\n", encoding="utf-8")
    return key


def _grade_batch(folder: Path) -> dict:
    root = build_course(folder / "course")
    key = _plant_truth_and_key(root)
    saved_key_env = os.environ.get(KEY_FILE_ENV)
    os.environ[KEY_FILE_ENV] = str(key)  # as a trainer's shell would have it while grading
    try:
        return _grade_batch_inner(root)
    finally:
        if saved_key_env is None:
            os.environ.pop(KEY_FILE_ENV, None)
        else:
            os.environ[KEY_FILE_ENV] = saved_key_env


def _grade_batch_inner(root: Path) -> dict:
    listener = Listener()
    overrides = sandbox.config_overrides(root=root, limits=LIMITS)
    overrides["Execute"] = {"timeout": 20}
    config = load_config(root, **overrides)
    api = make_api(config)
    assert api.generate_assignment(MODULE, force=True, create=True)["success"]
    release = nbformat.read(root / "exercises" / MODULE / f"{MODULE}.ipynb", as_version=4)
    ctx = Context(root=root, port=listener.port)
    submissions = {
        "honest_full": source_notebook(),
        "honest_partial": with_answers(release, {"q1_answer": Q1, "q2_answer": "def fee(m):\n    return 0\n"}),
        "honest_blank": release,
        **{name: load(name).build(release, ctx) for name in DAMAGE_AND_INTEGRITY},
        "honest_late_full": with_answers(release, {"q1_answer": Q1, "q2_answer": Q2,
                                                   "q3_answer": "avg_fee = 575.0\n"}),
    }
    for learner, nb in submissions.items():
        submit(root, learner, nb)
    before = checksums(root)
    for learner in submissions:
        api.autograde(MODULE, learner, force=True, create=True)
    for learner in submissions:
        api.generate_feedback(MODULE, learner, force=True)
    listener.close()
    return {"root": str(root), "before": before, "scores": read_scores(config, list(submissions)),
            "connections": listener.connections}


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    result = run_once("sandbox-attacks", tmp_path_factory, _grade_batch)
    return {**result, "root": Path(result["root"])}


def test_honest_learners_keep_their_scores(batch):
    for learner, expected in HONEST.items():
        got = batch["scores"][learner]
        assert {k: got[k] for k in expected} == expected, learner
        assert got["_max"] == sum(POINTS.values())


def test_every_submitted_and_source_file_is_byte_identical(batch):
    assert checksums(batch["root"]) == batch["before"]


@pytest.mark.parametrize("name", DAMAGE_AND_INTEGRITY)
def test_attack_earns_nothing_and_is_recorded(batch, name):
    scores = batch["scores"][name]
    assert scores["_total"] == 0.0, scores
    assert scores["_max"] == sum(POINTS.values()), "forged points changed the maximum"
    outcomes = sandbox.read_outcomes(MODULE, name, root=batch["root"])
    assert [o["ended"] for o in outcomes] == [load(name).ENDS], outcomes
    assert outcomes[0]["sandbox"] is True


def test_no_hidden_test_source_in_autograded_notebooks_or_feedback(batch):
    root = batch["root"]
    files = list((root / "grading" / "autograded").rglob("*.ipynb")) + list((root / "grading" / "feedback").rglob("*.html"))
    assert len(files) >= len(HONEST)
    for path in files:
        text = path.read_text(encoding="utf-8", errors="replace")
        leaked = [m for m in HIDDEN_MARKERS if m in text]
        assert not leaked, f"{path}: {leaked}"


def test_nothing_reached_the_network(batch):
    assert batch["connections"] == 0


def test_read_truth_module_got_nothing(batch):
    """The truth module and the key exist and are readable outside; inside, the learner read nothing."""
    import policylab.data.synth.truth as truth

    assert Path(truth.__file__).is_file() and list(Path(truth.__file__).parent.glob("__pycache__/truth.*.pyc"))
    assert (batch["root"].parent / "pseudonym.key").read_text()
    nb = nbformat.read(batch["root"] / "grading" / "autograded" / "read_truth_module" / MODULE / f"{MODULE}.ipynb",
                       as_version=4)
    printed = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []))
    assert "LEAKED []" in printed, printed
    assert "blocked import" in printed and "blocked truth.py" in printed, printed


def test_failing_hidden_test_shows_its_korean_message(batch):
    nb = nbformat.read(batch["root"] / "grading" / "autograded" / "honest_partial" / MODULE / f"{MODULE}.ipynb",
                       as_version=4)
    cell = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "q2_tests")
    assert [o.output_type for o in cell.outputs] == ["error"]
    assert "요금 계산이 맞지 않습니다" in cell.outputs[0].evalue


# Control: the same tricks against stock nbgrader (no overrides), to show the fixtures are real attacks.
FOOLS_STOCK = ["read_solutions", "read_truth_module", "patch_isclose", "always_equal_object",
               "rewrite_cells_at_runtime", "forge_partial_credit"]


@pytest.mark.xdist_group("sandbox-stock-control")
def test_the_integrity_attacks_do_fool_stock_nbgrader(tmp_path):
    root = build_course(tmp_path / "stock")
    config = load_config(root, Execute={"timeout": 20})
    api = make_api(config)
    assert api.generate_assignment(MODULE, force=True, create=True)["success"]
    release = nbformat.read(root / "exercises" / MODULE / f"{MODULE}.ipynb", as_version=4)
    ctx = Context(root=root, port=9)
    for name in FOOLS_STOCK + ["read_hidden_tests_from_working_copy"]:
        submit(root, name, load(name).build(release, ctx))
        api.autograde(MODULE, name, force=True, create=True)
    scores = read_scores(config, FOOLS_STOCK)
    assert all(scores[name]["_total"] > 0 for name in FOOLS_STOCK), scores
    leaked = (root / "grading" / "autograded" / "read_hidden_tests_from_working_copy" / MODULE / f"{MODULE}.ipynb")
    assert "HIDDEN-MARKER" in leaked.read_text(encoding="utf-8")


@pytest.mark.xdist_group("sandbox-no-sandbox")
def test_no_sandbox_mode_still_checks_outside_the_kernel_and_says_so(tmp_path):
    root = build_course(tmp_path / "plain")
    # This once scored the solution 2 of 5 when an earlier test of the same pytest worker had left its checker
    # process running: the checker's DATASETS constant still named that test's datasets (now computed at each
    # import, policylab.course.paths; test_sandbox_checks covers it). No limit is tested here
    config = load_config(root, **sandbox.config_overrides(root=root, sandbox=False), Execute={"timeout": 20})
    api = make_api(config)
    assert api.generate_assignment(MODULE, force=True, create=True)["success"]
    release = nbformat.read(root / "exercises" / MODULE / f"{MODULE}.ipynb", as_version=4)
    submit(root, "full", source_notebook())
    submit(root, "trick", load("always_equal_object").build(release, Context(root=root, port=9)))
    for learner in ("full", "trick"):
        api.autograde(MODULE, learner, force=True, create=True)
    scores = read_scores(config, ["full", "trick"])
    assert scores["full"]["_total"] == 5.0 and scores["trick"]["_total"] == 0.0, (
        scores, sandbox.read_outcomes(MODULE, "full", root=root))
    assert [o["sandbox"] for o in sandbox.read_outcomes(MODULE, "full", root=root)] == [False]
