"""Hostile outputs never run in a page someone opens: learner feedback and formgrader.

One batch (tests/attacks/: ``html_script_output``, ``event_handler_output``,
``javascript_output``, each in an answer cell of a submission) is graded through
``grade_module`` in the sandbox and rendered with ``write_feedback``; then formgrader's
exporter, built the way nbgrader's server extension builds it from the course's
``nbgrader_config.py``, renders the same autograded notebooks. No page may keep the learner's
``<script>``, an ``on*=`` handler, a ``javascript:`` URL or the JavaScript output, and each
attack earns nothing. tests/test_browser.py opens such a page in Chromium.
"""
from __future__ import annotations

import html
import re
from pathlib import Path

import nbformat
import pytest
from attacks import PAGES, Context, load
from attacks.course import MODULE, Q1, Q2, Q3, build_course, run_once, submit, with_answers

from policylab.course.nbconfig import load_config, make_api
from policylab.grading import states
from policylab.grading.batch import grade_module, read_scores
from policylab.grading.feedback import write_feedback
from policylab.safe_html import active_content

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("page-attacks")]
MARKERS = {"html_script_output": "PWNED-HTML-SCRIPT", "event_handler_output": "PWNED-EVENT-HANDLER",
           "javascript_output": "PWNED-JAVASCRIPT"}


def _grade_and_render(folder: Path) -> dict:
    root = build_course(folder / "course")
    api = make_api(load_config(root))
    assert api.generate_assignment(MODULE, force=True, create=True)["success"]
    release = nbformat.read(root / "exercises" / MODULE / f"{MODULE}.ipynb", as_version=4)
    submit(root, "honest_full", with_answers(release, {"q1_answer": Q1, "q2_answer": Q2, "q3_answer": Q3}))
    for name in PAGES:
        submit(root, name, load(name).build(release, Context(root=root, port=9)))
    report = grade_module(MODULE, root=root, workers=1, timeout=30)
    feedback = write_feedback(MODULE, root=root)
    scores = {learner: sum(s for s, _ in cells.values()) for learner, cells in read_scores(MODULE, root=root).items()}
    return {"root": str(root), "states": {k: r.state for k, r in report.records.items()},
            "scores": scores, "withheld": feedback.withheld}


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    result = run_once("page-attacks", tmp_path_factory, _grade_and_render)
    return {**result, "root": Path(result["root"])}


def feedback_page(root: Path, learner: str) -> str:
    return (root / "grading" / "feedback" / learner / MODULE / f"{MODULE}.html").read_text(encoding="utf-8")


def assert_inert(page: str, name: str, *, own_scripts: int = 0) -> None:
    """No learner script, handler, javascript: URL or JavaScript output in ``page``."""
    marker = MARKERS[name]
    assert page.lower().count("<script") == own_scripts, "a learner's <script> survived"
    assert not re.search(r"<[^>]*\son\w+\s*=", page, re.I), "an on*= handler attribute survived"
    assert not re.search(r"""(href|src)\s*=\s*["']?\s*javascript:""", page, re.I), "a javascript: URL survived"
    if name == "javascript_output":
        assert marker not in page, "the JavaScript output reached the page"
    else:
        assert marker in page, "the rest of the learner's output should still show, as inert HTML"


def test_attacks_are_graded_and_earn_nothing(batch):
    assert batch["states"] == {"honest_full": states.GRADED, **{n: states.GRADED for n in PAGES}}, batch["states"]
    assert batch["scores"]["honest_full"] == 5.0
    for name in PAGES:
        assert batch["scores"][name] == 0.0, (name, batch["scores"][name])


@pytest.mark.parametrize("name", PAGES)
def test_feedback_page_holds_no_active_content(batch, name):
    page = feedback_page(batch["root"], name)
    assert name not in batch["withheld"], batch["withheld"]  # rendered inert, not merely withheld
    assert "채점 결과" in page and "학습자 답안" in page  # the Korean page is still there
    assert_inert(page, name)
    assert active_content(page) == []
    meta = re.search(r'<meta[^>]*http-equiv="Content-Security-Policy"[^>]*>', page)
    assert meta and "script-src 'none'" in html.unescape(re.search(r'content="([^"]+)"', meta.group(0)).group(1))


def test_honest_feedback_still_reads_well(batch):
    page = feedback_page(batch["root"], "honest_full")
    assert "<h1" in page and "통과" in page and "&lt;h1" not in page and "&lt;p&gt;" not in page
    assert active_content(page) == []


def test_write_feedback_withholds_a_page_that_still_holds_script(batch, monkeypatch):
    """The last guard: if sanitizing were off, the page would be withheld, never shipped."""
    from policylab.grading import feedback

    monkeypatch.setattr(feedback, "exporter_config", lambda: {"sanitize_html": False})
    report = write_feedback(MODULE, root=batch["root"], learners=["html_script_output"])
    try:
        assert "스크립트" in report.withheld.get("html_script_output", ""), report.withheld
        assert "PWNED-HTML-SCRIPT" not in feedback_page(batch["root"], "html_script_output")
    finally:
        monkeypatch.undo()
        write_feedback(MODULE, root=batch["root"], learners=["html_script_output"])


def formgrader_exporter(root: Path, monkeypatch):
    """The HTMLExporter formgrader renders a submission with, configured as its server extension
    configures it: FormgradeExtension.initialize() loads the course's nbgrader_config.py."""
    from nbconvert.exporters import HTMLExporter
    from nbgrader.server_extensions.formgrader.formgrader import FormgradeExtension

    monkeypatch.chdir(root)
    extension = FormgradeExtension()
    extension.root_dir = str(root)
    extension.initialize([])
    return HTMLExporter(config=extension.config)


@pytest.mark.parametrize("name", PAGES)
def test_formgrader_shows_the_submission_inert(batch, name, monkeypatch):
    root = batch["root"]
    exporter = formgrader_exporter(root, monkeypatch)
    assert exporter.sanitize_html and exporter.template_name == "formgrade"
    resources = {"assignment_id": MODULE, "notebook_id": MODULE, "submission_id": "x", "index": 0, "total": 1,
                 "base_url": "/", "student": name, "last_name": "", "first_name": "",
                 "notebook_path": f"grading/autograded/{name}/{MODULE}/{MODULE}.ipynb"}
    page, _ = exporter.from_filename(str(root / "grading" / "autograded" / name / MODULE / f"{MODULE}.ipynb"),
                                     resources=resources)
    # formgrader's own scripts (its grading form) are pages of nbgrader's, loaded by src; none is inline
    # except what formgrader itself writes, none of which holds the learner's payload
    scripts = re.findall(r"(?is)<script\b[^>]*>(.*?)</script>", page)
    assert not [s for s in scripts if "__pwned" in s], "a learner's script reached formgrader"
    assert not re.search(r"<[^>]*\son\w+\s*=\s*[\"']?window", page, re.I), "an on*= handler reached formgrader"
    assert not re.search(r"""(href|src)\s*=\s*["']?\s*javascript:""", page, re.I)
    if name == "javascript_output":
        assert MARKERS[name] not in page
    else:
        assert MARKERS[name] in page


def test_formgrader_shows_a_written_answer_inert(batch, monkeypatch):
    """A markdown answer: raw HTML and a ``javascript:`` link (which only becomes a link once rendered)."""
    from nbformat.v4 import new_markdown_cell, new_notebook

    exporter = formgrader_exporter(batch["root"], monkeypatch)
    meta = {"nbgrader": {"grade": True, "solution": True, "grade_id": "w1", "points": 1, "schema_version": 3}}
    nb = new_notebook(cells=[new_markdown_cell(
        "## 답안\n\n효과는 **3%** 입니다. <img src=x onerror=\"window.__pwned=1\"><script>window.__pwned=1</script>"
        " [근거](javascript:window.__pwned=1)", metadata=meta)])
    resources = {"assignment_id": MODULE, "notebook_id": MODULE, "submission_id": "x", "index": 0, "total": 1,
                 "base_url": "/", "student": "s", "last_name": "", "first_name": "", "notebook_path": "x.ipynb"}
    page, _ = exporter.from_notebook_node(nb, resources=resources)
    assert "효과는 <strong>3%</strong> 입니다" in page
    assert not [s for s in re.findall(r"(?is)<script\b[^>]*>(.*?)</script>", page) if "__pwned" in s]
    assert not re.search(r"<[^>]*\son\w+\s*=\s*[\"']?window", page, re.I)
    assert not re.search(r"""(href|src)\s*=\s*["']?\s*javascript:""", page, re.I)


def test_cleaned_text_is_remembered_but_not_a_huge_output():
    """Feedback pages repeat their module's cells, so cleaned text is remembered per process; a learner's
    huge output is still cleaned (its script gone) but not kept in memory."""
    from policylab import safe_html

    safe_html._clean.cache_clear()
    small = "<p>합계</p><script>alert(1)</script>"
    assert safe_html.clean_html(small) == safe_html.clean_html(small) == "<p>합계</p>alert(1)"
    assert safe_html._clean.cache_info().hits == 1
    huge = "<p>x</p>" * (safe_html.REMEMBERED // 8 + 1) + "<script>alert(2)</script>"
    assert "<script" not in safe_html.clean_html(huge)
    assert safe_html._clean.cache_info().currsize == 1
