"""Test integrity helpers: test-cell splitting, exported names, plain data and the checker process."""
from __future__ import annotations

import datetime as dt
import math
import os

import numpy as np
import pandas as pd
import pytest
from attacks.course import Q1_TESTS, Q2_TESTS
from nbformat.v4 import new_code_cell, new_output

from policylab.grading.checks import Checker, check_cell, free_names, split_test_cell
from policylab.grading.hidden_tests import display_source
from policylab.grading.sandbox.output_budget import LimitOutput
from policylab.grading.values import Unsupported, decode, encode, export_line


def roundtrip(value):
    return decode(encode(value))


def test_split_keeps_probe_visible_and_hidden_apart():
    parts = split_test_cell(Q2_TESTS)
    assert parts.probe.strip() == "fee_table = [fee(m) for m in (0, 1, 5, 6, 61)]"
    assert "assert type(fee_table) is list" in parts.visible and "HIDDEN" not in parts.visible
    assert "[0, 100, 100, 200, 1300]" in parts.hidden
    assert parts.exported_names == ["fee_table"]


def test_exported_names_are_the_learners_values_only():
    assert split_test_cell(Q1_TESTS).exported_names == ["total"]
    code = "import math\nx = 1\nassert all(isinstance(v, int) for v in answer)\nassert math.isclose(y + x, 2)\n"
    assert free_names(code) == ["answer", "y"]


def test_display_source_never_holds_hidden_lines():
    shown = display_source(Q1_TESTS)
    assert "_expected" not in shown and "HIDDEN-MARKER" not in shown
    assert shown.startswith('assert isinstance(total, int)') and "숨은 테스트" in shown


def test_export_line_reads_names_from_the_learners_namespace():
    line = export_line("n" * 32, "q1_tests", ["total"])
    assert line.startswith('__import__("policylab.grading.values", fromlist=["export"]).export(') and "globals()" in line


@pytest.mark.parametrize("value", [
    None, True, 3, -2**70, 1.5, float("inf"), "한글", [1, "a"], (1, 2), {1, 2}, {"a": [1, {"b": None}]},
    dt.date(2025, 1, 1), dt.datetime(2025, 1, 1, 9, 30),
])
def test_plain_values_round_trip(value):
    assert roundtrip(value) == value and type(roundtrip(value)) is type(value)


def test_nan_round_trips():
    assert math.isnan(roundtrip(float("nan")))


def test_numpy_and_pandas_round_trip():
    arr = np.arange(6, dtype="int32").reshape(2, 3)
    got = roundtrip(arr)
    assert got.dtype == arr.dtype and (got == arr).all()
    assert type(roundtrip(np.float64(2.5))) is np.float64
    frame = pd.DataFrame({"주차장": ["A", "B", None], "요금": [100, 200, 300], "비율": [0.1, None, 0.3],
                          "날짜": pd.to_datetime(["2025-01-01", None, "2025-03-01"]),
                          "등급": pd.Categorical(["x", "y", "x"], categories=["y", "x"], ordered=True)},
                         index=pd.Index([10, 20, 30], name="id"))
    pd.testing.assert_frame_equal(roundtrip(frame), frame)
    series = frame.set_index("주차장")["요금"]
    pd.testing.assert_series_equal(roundtrip(series), series)
    multi = frame.set_index(["주차장", "요금"])
    pd.testing.assert_frame_equal(roundtrip(multi), multi)


class AlwaysEqual(int):
    def __eq__(self, other):
        return True

    __hash__ = int.__hash__


class Anything:
    def __eq__(self, other):
        return True


@pytest.mark.parametrize("value", [AlwaysEqual(3), Anything(), [AlwaysEqual(1)], {"k": Anything()}, print])
def test_objects_that_equal_everything_become_unsupported(value):
    got = roundtrip(value)
    flat = got if isinstance(got, Unsupported) else next(iter(got.values())) if isinstance(got, dict) else got[0]
    assert isinstance(flat, Unsupported)
    assert flat != 3 and not (flat == flat.type_name)


def test_dtype_strings_are_allow_listed():
    with pytest.raises(ValueError):
        decode({"t": "ndarray", "dtype": "V8; import os", "shape": [0], "v": {"t": "list", "v": []}})


def test_check_cell_verdicts():
    code = split_test_cell(Q1_TESTS).checks
    assert check_cell("q1_tests", code, {"total": encode(2300)}).passed is False  # datasets not set: error
    ok = check_cell("q", "assert x == 2, '틀렸습니다'", {"x": encode(2)})
    bad = check_cell("q", "assert x == 2, '틀렸습니다'", {"x": encode(3)})
    missing = check_cell("q", "assert x == 2", {"x": {"t": "missing"}})
    weird = check_cell("q", "assert x == 2", {"x": encode(AlwaysEqual(2))})
    assert ok.passed and not bad.passed and bad.evalue == "틀렸습니다"
    assert missing.ename == "NameError" and not weird.passed


def test_checker_process_runs_cells_with_real_builtins_and_survives_hangs():
    checker = Checker()
    try:
        verdicts = checker.run([
            {"grade_id": "a", "code": "assert isinstance(x, int) and math.isclose(x, 2)", "values": {
                "x": encode(2), "isinstance": encode(1), "math": {"t": "module", "v": "math"}}},
            {"grade_id": "b", "code": "assert len(x) == 2", "values": {"x": encode([1])}},
        ], timeout=60)
        assert [v.passed for v in verdicts] == [True, False]
        hung = checker.run([{"grade_id": "c", "code": "while True: pass", "values": {}}], timeout=2)
        assert not hung[0].passed and hung[0].ename == "CheckerError"
    finally:
        checker.close()


def test_long_outputs_are_cut_with_a_korean_note():
    cell = new_code_cell("print('x' * 10**6)")
    cell.outputs = [new_output("stream", name="stdout", text="x" * 100_000),
                    new_output("display_data", data={"text/plain": "y" * 50_000, "text/html": "<b>" * 20_000}),
                    new_output("error", ename="E", evalue="v", traceback=[str(i) for i in range(500)])]
    step = LimitOutput(max_chars=1000, max_lines=50, max_traceback=20)
    cell, _ = step.preprocess_cell(cell, {}, 0)
    stream, rich, error = cell.outputs
    assert len(stream.text) < 1200 and "출력이 너무 길어" in stream.text
    assert set(rich.data) == {"text/plain"} and "채점 출력 제한" in rich.data["text/plain"]
    assert len(error.traceback) == 21 and "생략" in error.traceback[10]


def test_shared_checker_outlives_a_change_of_datasets_and_is_replaced_when_it_dies():
    # one checker per grader process, across learners: each job's checks see that job's datasets
    where = "import os\nassert os.environ['POLICYLAB_DATASETS'] == expected, os.environ['POLICYLAB_DATASETS']"
    first = Checker.shared(datasets="/a")
    assert first.run([{"grade_id": "a", "code": where, "values": {"expected": encode("/a")}}], timeout=60)[0].passed
    second = Checker.shared(datasets="/b")
    assert second is first and first.proc.poll() is None
    verdict = second.run([{"grade_id": "b", "code": where, "values": {"expected": encode("/b")}}], timeout=60)[0]
    assert verdict.passed, verdict
    # and so does the DATASETS constant hidden checks import (docs/authoring.md), though it was first imported
    # by an earlier job: a stale one read another learner's draw (or another course's data) in the checker
    constant = "from policylab.course.paths import DATASETS\nassert str(DATASETS) == expected, str(DATASETS)"
    for folder in ("/a", "/b"):
        first.datasets = folder
        verdict = first.run([{"grade_id": "d", "code": constant, "values": {"expected": encode(folder)}}], timeout=60)[0]
        assert verdict.passed, verdict
    # and each job's checks see that job's course root (the scratch courses of a test run, one after another)
    root = "import os\nassert os.environ['POLICYLAB_ROOT'] == expected, os.environ.get('POLICYLAB_ROOT')"
    for course in ("/course-one", "/course-two"):
        saved = os.environ.get("POLICYLAB_ROOT")
        os.environ["POLICYLAB_ROOT"] = course
        try:
            verdict = second.run([{"grade_id": "c", "code": root, "values": {"expected": encode(course)}}], timeout=60)[0]
        finally:
            os.environ.pop("POLICYLAB_ROOT") if saved is None else os.environ.__setitem__("POLICYLAB_ROOT", saved)
        assert verdict.passed, verdict
    second.proc.kill()
    second.proc.wait()
    third = Checker.shared(datasets="/b")
    assert third is not second and third.proc.poll() is None
    third.close()


def test_lint_flags_test_cells_that_break_the_convention():
    from attacks.course import source_notebook

    from policylab.grading.hidden_tests import lint_test_cells

    nb = source_notebook()
    assert lint_test_cells(nb) == []
    q2 = next(c for c in nb.cells if c.metadata["nbgrader"]["grade_id"] == "q2_tests")
    q2.source = "assert fee(5) == 100, '틀렸습니다'\n"
    nb.cells.insert(0, new_code_cell("import helpers_of_mine as h\n"))
    q1 = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "q1_tests")
    q1.source = "assert h.same(total, 2300)\n### BEGIN HIDDEN TESTS\n### END HIDDEN TESTS\n"
    problems = lint_test_cells(nb)
    assert any("q2_tests" in p and "'fee'" in p and "PROBE" in p for p in problems)
    assert any("q2_tests: no hidden tests" in p for p in problems)
    assert any("q1_tests" in p and "'h'" in p for p in problems)


def test_regex_figures_and_fits_travel_as_plain_data():
    import re

    import plotly.express as px
    import statsmodels.formula.api as smf

    pattern = roundtrip(re.compile(r"^01[016789]-?\d{3,4}", re.I))
    assert pattern.search("010-1234") and pattern.flags & re.I
    frame = pd.DataFrame({"월": pd.date_range("2025-01-01", periods=3, freq="MS"), "비율": [1.0, 2.5, 3.0]})
    fig = roundtrip(px.line(frame, x="월", y="비율", title="제목"))
    assert fig.layout.title.text == "제목" and list(fig.data[0].y) == [1.0, 2.5, 3.0]
    data = pd.DataFrame({"y": [1.0, 2.0, 2.9, 4.2, 5.1], "x": [1, 2, 3, 4, 5]})
    real = smf.ols("y ~ x", data=data).fit()
    fit = roundtrip(real)
    pd.testing.assert_series_equal(fit.params, real.params)
    assert fit.nobs == 5 and fit.model.formula == "y ~ x" and fit.conf_int().shape == (2, 2)
    verdict = check_cell("q", 'assert "x" in m.params.index\nassert np.isclose(m.params["x"], 1.04)\n',
                         {"m": encode(real)})
    assert verdict.passed, verdict
