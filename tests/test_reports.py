"""Learner reports and the dashboard: privacy, suppression, offline HTML, charts, clear errors.

One small batch (a dashboard and five learners, one worker so the kernel is reused across
learners) is rendered once for the module; the other tests read its output.
"""
from __future__ import annotations

import base64
import json
import math
import re
from pathlib import Path

import nbformat
import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from test_reports_snapshot import (
    REPO,
    SMALL_DEPARTMENT,
    make_course_root,
    shared,
    write_snapshot,
)

from policylab.grading.gradebook import GradebookError
from policylab.pipeline import render_from_gradebook
from policylab.reports import render as rn
from policylab.reports import template_api as rp

# learner-003 has no m01 submission, -004 timed out, -006 is unreadable, -009 tampered,
# -012 lost its kernel; -029 … -032 are the department of four.
pytestmark = pytest.mark.xdist_group("reports")  # one worker renders the shared batch once
CHOSEN = ["learner-004", "learner-006", "learner-009", "learner-012", "learner-030"]


@pytest.fixture()
def batch(tmp_path_factory):
    """A dashboard and five learners, rendered once per test session."""
    def build(base):
        root = make_course_root(base / "course")
        snapshot = write_snapshot(base / "data")
        summary = rn.render_reports(root=root, snapshot_dir=snapshot, learners=CHOSEN, dashboard=True,
                                    workers=1, progress=False)
        return root, snapshot, summary

    return shared(tmp_path_factory, "reports-batch", build)


def _html(summary, name: str) -> str:
    folder = summary.out_dir
    path = folder / "dashboard.html" if name == "dashboard" else folder / "learners" / f"{name}.html"
    return path.read_text(encoding="utf-8")


def _figures(page: str) -> dict[str, dict]:
    """chart id → {"data": [...], "layout": {...}} from the Plotly.newPlot calls in a page."""
    figures = {}
    decoder = json.JSONDecoder()
    for match in re.finditer(r'Plotly\.newPlot\(\s*"(chart-[a-z-]+)",\s*', page):
        data, end = decoder.raw_decode(page, match.end())
        rest = page[end:].lstrip().lstrip(",").lstrip()
        layout, _ = decoder.raw_decode(rest)
        figures[match.group(1)] = {"data": _plain(data), "layout": _plain(layout)}
    return figures


def _plain(value):
    """plotly writes numeric arrays as base64 typed arrays ({"dtype", "bdata"}): decode to lists, NaN → None."""
    if isinstance(value, dict) and set(value) >= {"dtype", "bdata"}:
        array = np.frombuffer(base64.b64decode(value["bdata"]), dtype=np.dtype(value["dtype"]))
        if "shape" in value:
            shape = [int(n) for n in str(value["shape"]).split(",")]
            return _plain(array.reshape(shape).tolist())
        return [None if isinstance(v, float) and math.isnan(v) else v for v in array.tolist()]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def test_batch_renders_every_report(batch):
    root, _, summary = batch
    assert not summary.failed, [r.error for r in summary.failed]
    assert len(summary.done) == len(CHOSEN) + 1
    out = root / "grading" / "out"
    for learner in CHOSEN:
        assert (out / "learners" / f"{learner}.html").is_file()
        assert (out / "learners" / f"{learner}.ipynb").is_file()  # the executed notebook is the record
    assert (out / "dashboard.ipynb").is_file()
    index = (out / "index.html").read_text(encoding="utf-8")
    assert 'href="dashboard.html"' in index
    assert all(f'href="learners/{learner}.html"' in index for learner in CHOSEN)


def test_learner_report_names_no_other_learner(batch):
    _, snapshot, summary = batch
    roster = pd.read_csv(snapshot / "roster.csv", dtype=str, keep_default_na=False)
    for learner in CHOSEN:
        others = roster[roster["learner_id"] != learner]
        for path in (summary.out_dir / "learners" / f"{learner}.html",
                     summary.out_dir / "learners" / f"{learner}.ipynb"):
            text = path.read_text(encoding="utf-8")
            assert learner in text
            leaked = [i for i in others["learner_id"] if i in text]
            leaked += [n for n in others["name"] if n and n in text]
            assert not leaked, f"{path.name} mentions {leaked[:3]}"


def test_learner_report_compares_with_quartiles_only(batch):
    """The module chart holds the learner's own percentages and the cohort's Q1/median/Q3, nothing else."""
    _, snapshot, summary = batch
    snap = rp.load_snapshot(snapshot)
    learner = "learner-009"
    cohort = snap.roster.set_index("learner_id").loc[learner, "cohort"]
    peers = snap.results[snap.results["learner_id"].isin(snap.roster.loc[snap.roster["cohort"] == cohort, "learner_id"])]
    peers = peers.assign(pct=100 * peers["score"] / peers["max_score"])
    mine = snap.results[snap.results["learner_id"] == learner].set_index("module")
    chart = _figures(_html(summary, learner))["chart-module-scores"]["data"]
    bars, quartiles = chart
    for module, value in zip(bars["x"], bars["y"]):
        own = 100 * mine.loc[module, "score"] / mine.loc[module, "max_score"]
        assert value == pytest.approx(0 if pd.isna(own) else own)
    for module, median, up, down in zip(quartiles["x"], quartiles["y"], quartiles["error_y"]["array"],
                                        quartiles["error_y"]["arrayminus"]):
        values = peers.loc[peers["module"] == module, "pct"].dropna()
        if len(values) < rp.MIN_GROUP:
            assert median is None and up is None and down is None
            continue
        assert median == pytest.approx(values.quantile(0.5))
        assert median + up == pytest.approx(values.quantile(0.75))
        assert median - down == pytest.approx(values.quantile(0.25))


def test_learner_report_shows_states_next_steps_and_comments(batch):
    _, snapshot, summary = batch
    page = _html(summary, "learner-004")
    assert rp.STATE_LABELS["timed_out"] in page
    assert "다음에 할 일" in page and "다시 볼 강의" in page
    comments = pd.read_csv(snapshot / "comments.csv", dtype=str)
    commented = [l for l in CHOSEN if l in set(comments["learner_id"])]
    assert commented, "the sample snapshot should give a chosen learner a trainer comment"
    learner = commented[0]
    for text in comments.loc[comments["learner_id"] == learner, "comment"]:
        assert text in _html(summary, learner)
    assert rp.STATE_LABELS["unreadable"] in _html(summary, "learner-006")
    assert rp.STATE_LABELS["tampered"] in _html(summary, "learner-009")


def test_learner_report_shows_their_own_checks_over_attempts(batch):
    """Issue 21: the checks before submitting, first and last, and the mistakes the last still named."""
    root, _, summary = batch
    stuck, fixed, none = _html(summary, "learner-012"), _html(summary, "learner-009"), _html(summary, "learner-030")
    assert "제출 전 확인" in stuck and "마지막 확인에도 남은 실수" in stuck and "q1_tests-mistake" in stuck
    assert "q1_tests-mistake" not in fixed and "없음" in fixed
    assert "제출 전 확인 기록이 없습니다" in none
    items = (root / "grading" / "out" / "items.html").read_text(encoding="utf-8")
    assert "제출 전 확인에서 반복된 실수" in items and "q1_tests-mistake" in items
    assert "learner-0" not in items  # counted, never named


def test_dashboard_suppresses_the_department_of_four(batch):
    _, snapshot, summary = batch
    page = _html(summary, "dashboard")
    rows = re.findall(r"<tr>\s*<th>([^<]+)</th>(.*?)</tr>", page, flags=re.S)
    small = [cells for name, cells in rows if name == SMALL_DEPARTMENT]
    assert len(small) == 2, "both department tables list the small department"
    for cells in small:
        values = re.findall(r"<td>(.*?)</td>", cells)
        assert values and all(v == rp.SUPPRESSION_NOTE["small"] for v in values), values
    figures = _figures(page)
    for chart in ("chart-dept-completion", "chart-dept-score"):
        grey, values = figures[chart]["data"]
        row = values["y"].index(SMALL_DEPARTMENT)
        assert all(v is None for v in values["z"][row]), "a suppressed cell's value never reaches the chart"
        assert all(t.startswith("비공개") for t in grey["text"][row])
    assert "5명 미만" in page
    # a second cell per column is hidden so the small one cannot be recovered from the total
    assert rp.SUPPRESSION_NOTE["secondary"] in page


def test_dashboard_shows_aggregates_only(batch):
    _, snapshot, summary = batch
    page = _html(summary, "dashboard")
    roster = pd.read_csv(snapshot / "roster.csv", dtype=str, keep_default_na=False)
    assert not [i for i in roster["learner_id"] if i in page]
    assert not [n for n in roster["name"] if n and n in page]
    assert "많은 학습자가 틀린 문항" in page and "월별 이용 건수 집계" in page  # the planted hard question


def test_html_loads_nothing_from_a_network(batch):
    root, _, summary = batch
    out = root / "grading" / "out"
    pages = [out / "index.html", out / "dashboard.html", *sorted((out / "learners").glob("*.html"))]
    assert len(pages) == len(CHOSEN) + 2
    for page in pages:
        text = page.read_text(encoding="utf-8")
        remote = re.findall(r"<(?:script|link|img|iframe)\b[^>]*\b(?:src|href)\s*=\s*[\"']?\s*(?:https?:)?//", text, re.I)
        remote += re.findall(r"@import\s+(?:url\()?[\"']?(?:https?:)?//", text, re.I)
        assert not remote, f"{page.name}: {remote[:2]}"
        sources = re.findall(r"<script\b[^>]*\bsrc=\"([^\"]+)\"", text)
        assert sources in ([], ["plotly.min.js"], ["../plotly.min.js"]), sources
        assert page.stat().st_size < 1_000_000, "plotly.js must not be embedded in each report"
        assert '<html lang="ko">' in text and 'charset="utf-8"' in text
    assert (out / "plotly.min.js").stat().st_size > 1_000_000


def test_every_template_chart_reaches_the_html(batch):
    _, _, summary = batch
    for kind, name in rn.TEMPLATES.items():
        template = nbformat.read(REPO / "grading" / "reports" / name, as_version=4)
        code = "\n".join(c.source for c in template.cells if c.cell_type == "code")
        charts = re.findall(r'show_chart\(\s*\w+\s*,\s*"([a-z-]+)"', code)
        assert len(charts) >= 2, name
        page = _html(summary, "dashboard" if kind == "dashboard" else CHOSEN[0])
        drawn = _figures(page)
        for chart in charts:
            assert f'id="chart-{chart}"' in page, f"{name}: chart {chart} missing from the HTML"
            assert drawn[f"chart-{chart}"]["data"] or drawn[f"chart-{chart}"]["layout"].get("annotations")


def test_html_has_no_code(batch):
    _, _, summary = batch
    for name in ("dashboard", CHOSEN[0]):
        page = _html(summary, name)
        assert 'class="jp-CodeMirrorEditor' not in page and "import pandas" not in page and "rp.show_chart" not in page


def test_templates_are_clean_parameterized_notebooks():
    for name in rn.TEMPLATES.values():
        nb = nbformat.read(REPO / "grading" / "reports" / name, as_version=4)
        nbformat.validate(nb)
        tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
        assert len(tagged) == 1, f"{name}: exactly one cell tagged 'parameters'"
        assert "charts_as_html" in tagged[0].source and "snapshot_dir" in tagged[0].source
        assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code"), f"{name}: clear outputs"
        assert nb.metadata["kernelspec"]["name"] == "python3"
        assert nb.cells[0].cell_type == "markdown" and nb.cells[0].source.startswith("# ")


# --------------------------------------------------------------------------- errors


def test_broken_snapshot_path_is_a_clear_error(tmp_path):
    root = make_course_root(tmp_path / "course")
    with pytest.raises(rp.ReportError, match=r"nowhere: snapshot folder not found"):
        rn.render_reports(root=root, snapshot_dir=tmp_path / "nowhere", progress=False)
    snapshot = write_snapshot(tmp_path / "data")
    (snapshot / "results.csv").unlink()
    with pytest.raises(rp.ReportError, match=r"data/results\.csv: snapshot file not found"):
        rn.render_reports(root=root, snapshot_dir=snapshot, progress=False)
    assert not list((root / "grading").glob("out/**/*.html")), "no empty report is written"


def test_broken_gradebook_path_is_a_clear_error(tmp_path, monkeypatch):
    root = make_course_root(tmp_path / "course")
    monkeypatch.setenv("POLICYLAB_DB_URL", f"sqlite:///{tmp_path}/typo/gradebook.db")
    with pytest.raises(GradebookError, match=r"typo/gradebook\.db: gradebook not found"):
        render_from_gradebook(root=root, progress=False)
    assert not (tmp_path / "typo").exists(), "the mistyped path must not be created"
    result = CliRunner().invoke(main_cli(), ["--root", str(root), "report"])
    assert result.exit_code == 1 and "typo/gradebook.db: gradebook not found" in result.output


def test_unknown_learner_is_refused(tmp_path):
    root = make_course_root(tmp_path / "course")
    snapshot = write_snapshot(tmp_path / "data")
    result = CliRunner().invoke(main_cli(), ["--root", str(root), "report", "--snapshot", str(snapshot),
                                             "--learner", "learner-999"])
    assert result.exit_code == 1
    assert "roster.csv: no learner 'learner-999' in the roster" in result.output


def main_cli():
    from policylab.cli import main

    return main


def test_one_failing_report_does_not_stop_the_others(tmp_path):
    """A template error and a dead kernel: those reports fail with their reason, the rest are
    written (one worker, so the learners after each failure get a fresh kernel)."""
    root = make_course_root(tmp_path / "course")
    snapshot = write_snapshot(tmp_path / "data")
    template = root / "grading" / "reports" / "learner_report.ipynb"
    nb = nbformat.read(template, as_version=4)
    nb.cells.insert(3, nbformat.v4.new_code_cell(
        'import os\n'
        'if learner_id == "learner-002":\n    raise ValueError("시험용 오류")\n'
        'if learner_id == "learner-003":\n    os._exit(1)  # the kernel dies'))
    nbformat.write(nb, template)
    stale = root / "grading" / "out" / "learners" / "learner-002.html"
    stale.parent.mkdir(parents=True)
    stale.write_text("an outdated report", encoding="utf-8")

    result = CliRunner().invoke(main_cli(), ["--root", str(root), "report", "--snapshot", str(snapshot),
                                             "--workers", "1", "--learner", "learner-001",
                                             "--learner", "learner-002", "--learner", "learner-003",
                                             "--learner", "learner-004"])
    assert result.exit_code == 1, result.output
    assert "완료 2건, 실패 2건" in result.output
    assert "learner-002: ValueError: 시험용 오류" in result.output
    assert re.search(r"learner-003: .*(Dead|died)", result.output), result.output
    out = root / "grading" / "out"
    assert (out / "learners" / "learner-001.html").is_file() and (out / "learners" / "learner-004.html").is_file()
    assert not stale.exists(), "a failed report removes its outdated HTML"
    assert (out / "learners" / "learner-002.ipynb").is_file(), "the failed run is kept as the record"
    assert "시험용 오류" in (out / "index.html").read_text(encoding="utf-8")


# --------------------------------------------------------------------------- privacy helpers


def test_suppress_cells_hides_small_groups_and_protects_them_from_subtraction():
    values = pd.DataFrame({"m01": [80.0, 60.0, 70.0, 90.0]}, index=["A", "B", "C", "D"])
    counts = pd.DataFrame({"m01": [4, 9, 6, 12]}, index=values.index)
    shown, status = rp.suppress_cells(values, counts)
    assert list(status["m01"]) == ["small", "", "secondary", ""]
    assert shown["m01"].isna().tolist() == [True, False, True, False]
    # two small groups that together describe five learners need no extra cell
    counts = pd.DataFrame({"m01": [2, 9, 3, 12]}, index=values.index)
    _, status = rp.suppress_cells(values, counts)
    assert list(status["m01"]) == ["small", "", "small", ""]
    # no learners is not a suppressed value, just no value
    counts = pd.DataFrame({"m01": [0, 9, 6, 12]}, index=values.index)
    _, status = rp.suppress_cells(values, counts)
    assert list(status["m01"]) == ["empty", "", "", ""]


def test_cohort_quartiles_need_five_learners():
    frame = pd.DataFrame({"module": ["m01"] * 5 + ["m02"] * 4, "pct": [10, 20, 30, 40, 50, 1, 2, 3, 4]})
    q = rp.cohort_quartiles(frame, "module", "pct").set_index("module")
    assert q.loc["m01", ["q1", "median", "q3"]].tolist() == [20, 30, 40]
    assert q.loc["m02", ["q1", "median", "q3"]].isna().all() and q.loc["m02", "n"] == 4


def test_skill_mastery_counts_each_tag_and_skips_ungraded():
    questions = pd.DataFrame({
        "learner_id": ["a", "a", "a"], "module": ["m01"] * 3, "question": ["q1", "q2", "w1"],
        "title": ["", "", ""], "skills": ["data-loading;python-basics", "python-basics", "policy-judgement"],
        "kind": ["auto", "auto", "manual"], "score": [1.0, 2.0, float("nan")], "max_score": [2.0, 2.0, 3.0],
    })
    mastery = rp.skill_mastery(questions).set_index("skill")
    assert mastery.loc["python-basics", "pct"] == pytest.approx(75.0)
    assert mastery.loc["data-loading", "pct"] == pytest.approx(50.0)
    assert "policy-judgement" not in mastery.index
