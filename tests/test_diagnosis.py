"""The diagnosis names mistakes it can tell apart, and only those (issue 17).

The comparator's edges, on plain values, and the trusted kernel a grading worker keeps between draws.
Bank coverage is in test_quality_gates.py: every entry of every module's bank, on five learners' draws
(the data learners are graded on), loses its marks and is named by the detector, and the same names
are reached through real grading.
"""
from __future__ import annotations

import math
from pathlib import Path

from conftest import REPO

from policylab.grading.bank import load_bank
from policylab.grading.diagnosis import UNEXPLAINED, diagnose, same
from policylab.grading.values import decode, encode


def test_comparison_tolerates_rounding_but_not_a_different_value():
    import numpy as np
    import pandas as pd

    assert same(encode(3.0), encode(3.0 + 1e-9))
    assert not same(encode(3.0), encode(3.01))
    assert not same(encode(1), encode(True)) and not same(encode("3800"), encode(3800))
    assert same(encode(float("nan")), encode(math.nan))
    frame = pd.DataFrame({"a": [1.0, 2.0], "b": ["x", "y"]})
    assert same(encode(frame), encode(frame.assign(a=[1.0, 2.0 + 1e-10])))
    assert not same(encode(frame), encode(frame.assign(a=[1.0, 2.5])))
    assert same(encode(np.array([1, 2, 3])), encode(np.array([1.0, 2.0, 3.0])))
    # a statsmodels fit travels as its results: the same fit up to floating-point noise is the same
    import statsmodels.formula.api as smf

    data = pd.DataFrame({"y": [1.0, 2.0, 2.5, 4.0, 5.5], "x": [1.0, 2.0, 3.0, 4.0, 5.0]})
    fit = smf.ols("y ~ x", data=data).fit()
    noisy = smf.ols("y ~ x", data=data.assign(y=data["y"] * (1 + 1e-12))).fit()
    assert same(encode(fit), encode(noisy))
    assert not same(encode(fit), encode(smf.ols("y ~ x", data=data.assign(y=data["y"] * 1.1)).fit()))
    assert not same(encode([1, 2]), encode([1, 2, 3]))
    assert same({"t": "missing"}, {"t": "missing"})  # both never defined the name: the same mistake
    assert not same({"t": "missing"}, encode(1)) and not same({"t": "unsupported", "type": "x"}, encode(1))


def test_an_unknown_wrong_answer_is_said_to_be_unexplained(tmp_path):
    from policylab.grading.bank import Misconception
    from policylab.grading.signatures import Signatures

    bank = [Misconception("floor-division", "q1_answer", ("q1_tests",), "몫(//)으로 버렸습니다.", "x = 7 // 2")]
    sig = Signatures("m00", solution={"q1_tests": {"x": encode(3.5)}},
                     misconceptions={"floor-division": {"q1_tests": {"x": encode(3)}}})
    assert diagnose("q1_tests", {"x": encode(3)}, sig, bank).misconception == "floor-division"
    assert "다시 볼 곳" in diagnose("q1_tests", {"x": encode(3)}, sig, bank).text
    unknown = diagnose("q1_tests", {"x": encode(4.0)}, sig, bank)
    assert unknown.misconception is None and unknown.text == UNEXPLAINED


def test_a_blank_answer_is_not_the_mistake_that_raises():
    """A misconception whose code raises leaves its names undefined, and so does a blank answer:
    only a learner whose answer cell raised the same error is told they made that mistake."""
    from policylab.grading.bank import Misconception
    from policylab.grading.signatures import Signatures

    bank = [Misconception("relative-data-path", "q3_answer", ("q3_tests",), "상대 경로로 읽었습니다.",
                          'lots = pd.read_csv("../datasets/x.csv")')]
    sig = Signatures("m00", solution={"q3_tests": {"lots": encode(20)}},
                     misconceptions={"relative-data-path": {"q3_tests": {"lots": {"t": "missing"}}}},
                     errors={"relative-data-path": "FileNotFoundError"})
    blank = {"lots": {"t": "missing"}}
    assert diagnose("q3_tests", blank, sig, bank, {}).misconception is None
    assert diagnose("q3_tests", blank, sig, bank, {"q3_answer": "NameError"}).misconception is None
    assert diagnose("q3_tests", blank, sig, bank, {"q3_answer": "FileNotFoundError"}).misconception == \
        "relative-data-path"


def test_an_unanswered_question_is_known_unexplained_without_trials(tmp_path):
    """The grader skips the draw's trial kernel for a question left as released (issue 19): no value reached
    its test and its answer cells raised nbgrader's NotImplementedError or nothing. That is sound only
    while no bank entry raises NotImplementedError, which the bank refuses."""
    import pytest

    from policylab.grading.bank import BankError, Misconception
    from policylab.grading.hidden_tests import _unanswered

    bank = [Misconception("relative-data-path", "q3_answer", ("q3_tests",), "상대 경로로 읽었습니다.", "lots = 1")]
    blank = {"grade_id": "q3_tests", "values": {"lots": {"t": "missing"}}}
    assert _unanswered(blank, bank, {"q3_answer": "NotImplementedError", "q3_tests": "NameError"})
    assert _unanswered(blank, bank, {})
    assert not _unanswered(blank, bank, {"q3_answer": "FileNotFoundError"})  # that may be the entry's own error
    assert not _unanswered({"grade_id": "q3_tests", "values": {"lots": encode(3)}}, bank, {})  # a value to match
    (tmp_path / "bank.yml").write_text("- id: lazy\n  cell: q1_answer\n  targets: [q1_tests]\n  description: x\n"
                                       "  code: raise NotImplementedError()\n", encoding="utf-8")
    with pytest.raises(BankError, match="NotImplementedError"):
        load_bank(tmp_path / "bank.yml")


def test_a_mistake_of_kind_is_named_even_on_values_changed_by_an_earlier_mistake():
    """A number where a name was asked, after a wrong filter upstream: no values match, the kind does."""
    from policylab.grading.bank import Misconception
    from policylab.grading.signatures import Signatures

    bank = [Misconception("spaces-instead-of-name", "q7_answer", ("q7_tests",), "숫자를 이름 대신 담았습니다.", "x"),
            Misconception("smallest-instead-of-biggest", "q7_answer", ("q7_tests",), "가장 작은 곳을 골랐습니다.", "x")]
    sig = Signatures("m00", solution={"q7_tests": {"biggest_name": encode("중앙로 공영주차장")}},
                     misconceptions={"spaces-instead-of-name": {"q7_tests": {"biggest_name": encode(120)}},
                                     "smallest-instead-of-biggest": {"q7_tests": {"biggest_name": encode("솔뫼 주차장")}}})
    assert diagnose("q7_tests", {"biggest_name": encode(35)}, sig, bank).misconception == "spaces-instead-of-name"
    # a wrong name of the right kind is not guessed at
    assert diagnose("q7_tests", {"biggest_name": encode("새내 주차장")}, sig, bank).misconception is None


def test_a_mistake_made_on_top_of_an_upstream_mistake_is_named_and_the_upstream_alone_is_not():
    from policylab.grading.bank import Misconception
    from policylab.grading.signatures import Signatures

    bank = [Misconception("free-instead-of-paid", "q5_answer", ("q5_tests",), "무료만 남겼습니다.", "x"),
            Misconception("index-instead-of-name", "q7_answer", ("q7_tests",), "행 번호를 담았습니다.", "x")]
    sig = Signatures("m00", solution={"q7_tests": {"biggest_name": encode("중앙로")}},
                     misconceptions={"index-instead-of-name": {"q7_tests": {"biggest_name": encode(2)}}},
                     pairs={"free-instead-of-paid+index-instead-of-name": {"q7_tests": {"biggest_name": encode(9)}}},
                     upstream={"free-instead-of-paid": {"q7_tests": {"biggest_name": encode("솔뫼")}}})
    assert diagnose("q7_tests", {"biggest_name": encode(9)}, sig, bank).misconception == "index-instead-of-name"
    assert diagnose("q7_tests", {"biggest_name": encode("솔뫼")}, sig, bank).misconception is None


def test_an_unseeded_draw_is_named_by_its_spread_and_a_far_value_is_not():
    import numpy as np

    from policylab.grading.bank import Misconception
    from policylab.grading.signatures import Signatures

    bank = [Misconception("unseeded-bootstrap", "q7_answer", ("q7_tests",), "시드 없이 뽑았습니다.", "rng = x")]

    def run(seed):
        draws = np.random.default_rng(seed).normal(72, 6, 2000)
        return {"boot": encode(draws), "ci": encode(tuple(np.percentile(draws, [2.5, 97.5])))}

    sig = Signatures("m00", solution={"q7_tests": run(606)}, misconceptions={"unseeded-bootstrap": {"q7_tests": run(1)}},
                     repeats={"unseeded-bootstrap": [{"q7_tests": run(2)}, {"q7_tests": run(3)}]})
    assert diagnose("q7_tests", run(99), sig, bank).misconception == "unseeded-bootstrap"
    shifted = {"boot": encode(np.random.default_rng(5).normal(80, 6, 2000)), "ci": encode((68.0, 92.0))}
    assert diagnose("q7_tests", shifted, sig, bank).misconception is None
    assert diagnose("q7_tests", run(606), sig, bank).misconception is None  # the seeded answer is right


def test_a_kept_kernel_gives_each_draw_what_a_fresh_kernel_gives(tmp_path):
    """A grading worker resets one trusted kernel between learners instead of starting one per draw:
    the reset must leave nothing of the last draw (names, files, the datasets it read)."""
    from policylab.data.synth.draws.build import build_draw
    from policylab.grading import signatures as sigs
    from policylab.grading import trial_kernel

    key = b"a-test-variant-key-that-is-long-enough"
    source = REPO / "solutions" / "m01" / "m01.ipynb"
    bank = load_bank(REPO / "solutions" / "m01" / "misconceptions.yml")
    target = bank[0].targets[0]
    bank = [m for m in bank if target in m.targets]  # what one learner's failed cell asks for
    draws = [build_draw("m01", learner, key=key, root=tmp_path) for learner in ("kim01", "lee02")]

    def compute(data):
        return sigs.compute_signatures("m01", source, bank, root=REPO, datasets=data, targets={target})

    fresh = [compute(d).to_json() for d in draws]
    assert fresh[0] != fresh[1]  # two draws, two sets of values: a leak would show
    trial_kernel.keep_kernels(True)
    try:
        first = compute(draws[0])
        kept = next(iter(trial_kernel._parked.values()))
        kept.run("from policylab.course.paths import DATASETS")  # as a module's setup cell may
        second = compute(draws[1])
        assert next(iter(trial_kernel._parked.values())) is kept  # the same kernel served both draws
        assert [first.to_json(), second.to_json()] == fresh
        # the DATASETS constant a cell imports follows the draw too, though its module stayed loaded
        shown = kept.run("from policylab.course.paths import DATASETS\nprint(DATASETS)")
        assert [o.get("text", "").strip() for o in shown] == [str(Path(draws[1]).resolve())], shown
    finally:
        trial_kernel.keep_kernels(False)
    assert not trial_kernel._parked and not kept.started


def _tiny_source(tmp_path, setup: str):
    """A two-question source notebook: q1 reads a table the setup cell made, q2 reads it again later."""
    import nbformat
    from nbformat.v4 import new_code_cell, new_notebook

    def meta(gid, **kw):
        return {"nbgrader": {"grade_id": gid, "schema_version": 3, "locked": False, "grade": False,
                             "solution": False, **kw}}

    nb = new_notebook(cells=[
        new_code_cell(setup, metadata=meta("setup", locked=True)),
        new_code_cell("### BEGIN SOLUTION\ntotal = int(df['fee'].sum())\n### END SOLUTION", metadata=meta("q1_answer", solution=True)),
        new_code_cell("assert isinstance(total, int)", metadata=meta("q1_tests", grade=True, locked=True, points=1)),
        new_code_cell("### BEGIN SOLUTION\nbiggest = int(df['fee'].max())\n### END SOLUTION", metadata=meta("q2_answer", solution=True)),
        new_code_cell("assert isinstance(biggest, int)", metadata=meta("q2_tests", grade=True, locked=True, points=1)),
    ])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path = tmp_path / "m00.ipynb"
    nbformat.write(nb, path)
    return path


def test_a_trial_that_changes_shared_data_in_place_leaves_no_trace(tmp_path, monkeypatch):
    """A mistake that doubles the shared table in place: its own values show it, and the next trials and the
    solution see the clean table again, put back from the snapshot (one kernel start) or, when the namespace
    cannot be copied (a generator), by a restart and a replay, with the same values."""
    from policylab.grading import trial_kernel
    from policylab.grading.bank import Misconception
    from policylab.grading.signatures import compute_signatures

    bank = [Misconception("doubled-in-place", "q1_answer", ("q1_tests",), "x", "df['fee'] *= 2\ntotal = int(df['fee'].sum())"),
            Misconception("sum-not-max", "q2_answer", ("q2_tests",), "x", "biggest = int(df['fee'].sum())")]
    starts = []
    real_start = trial_kernel.TrialKernel.start
    monkeypatch.setattr(trial_kernel.TrialKernel, "start", lambda self: (starts.append(1), real_start(self))[1])
    setup = "import pandas as pd\ndf = pd.DataFrame({'fee': [100, 300, 600]})\n"
    results = []
    for extra, kernels in (("", 1), ("gen = (i for i in range(3))\n", 2)):
        starts.clear()
        sig = compute_signatures("m00", _tiny_source(tmp_path, setup + extra), bank, root=tmp_path, datasets=tmp_path)
        assert len(starts) == kernels, (extra, starts)
        results.append(sig.to_json())
        values = {k: {g: {n: decode(v) for n, v in d.items()} for g, d in t.items()} for k, t in sig.misconceptions.items()}
        assert values["doubled-in-place"]["q1_tests"] == {"total": 2000}
        assert values["sum-not-max"]["q2_tests"] == {"biggest": 1000}  # the table as the setup made it
        assert {g: {n: decode(v) for n, v in d.items()} for g, d in sig.solution.items()} == \
            {"q1_tests": {"total": 1000}, "q2_tests": {"biggest": 600}}
    assert results[0] == results[1]


def test_a_kept_trial_kernel_serves_the_next_module_clean(tmp_path):
    """A grading worker in a pool keeps its trusted kernel from module to module (no second start, no second
    import of pandas): the next module's trials find none of the last one's names, and exactly that module's
    environment (a variable only the last one had is gone)."""
    import os

    from policylab.grading import trial_kernel

    first_env = dict(os.environ, POLICYLAB_DATASETS=str(tmp_path / "a"), POLICYLAB_ONLY_FIRST="1")
    trial_kernel.keep_kernels(True)
    try:
        first = trial_kernel.kernel_for(tmp_path / "m01.ipynb", [], first_env, 60)
        first.run("import pandas\nleftover = 41")
        trial_kernel.release(tmp_path / "m01.ipynb", first, True)
        second_env = dict(os.environ, POLICYLAB_DATASETS=str(tmp_path / "b"))
        second = trial_kernel.kernel_for(tmp_path / "m04.ipynb", [], second_env, 60)
        assert second is first, "the parked kernel was not reused for another module"
        shown = "".join(o.get("text", "") for o in second.run(
            "import os, sys\nprint('leftover' in globals(), 'pandas' in sys.modules, "
            "os.environ['POLICYLAB_DATASETS'], os.environ.get('POLICYLAB_ONLY_FIRST'))"))
        assert shown.split() == ["False", "True", str(tmp_path / "b"), "None"], shown
        trial_kernel.release(tmp_path / "m04.ipynb", second, True)
    finally:
        trial_kernel.keep_kernels(False)
    assert not trial_kernel._parked
