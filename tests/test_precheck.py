"""`policylab check` (issue 21): a learner's notebook graded before submitting, through the grading pipeline.

Real nbgrader, real sandboxed kernels, the learner's own draw: the check's per-question answer equals what
`policylab grade` records for the same notebook, names the bank's mistake, shows no expected value or test
line, writes nothing a grade is made of, and obeys course.yml's per-module setting.
"""
from __future__ import annotations

import json
import os
import re

import nbformat
import pytest
import yaml
from click.testing import CliRunner
from conftest import copy_course

from policylab.cli import main
from policylab.course.build import build_exercises
from policylab.grading import states
from policylab.grading.batch import grade_module, read_scores
from policylab.grading.leaks import secret_lines
from policylab.grading.precheck import NAMED, RIGHT, CheckRefused, as_text, check_notebook, read_attempts

pytestmark = pytest.mark.xdist_group("precheck")
LEARNER = "kim01"
GRADED = ("kim012", "kim013", "kim014")
ENV = ("POLICYLAB_ROOT", "POLICYLAB_DATASETS", "NBGRADER_EXECUTION")  # the same notebooks, submitted and graded


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    from policylab.grading.roster import Learner, write_roster

    root = copy_course(tmp_path_factory.mktemp("precheck"), ["m01"])
    build_exercises(root=root, modules=["m01"])
    write_roster(root, [Learner(l, department="주차사업처", cohort="2025-1기", start_date="2025-03-03")
                        for l in (LEARNER, "lee02", "park03", *GRADED)])
    return root


def _answered(root, cell: str, code: str) -> nbformat.NotebookNode:
    nb = nbformat.read(root / "solutions" / "m01" / "m01.ipynb", as_version=4)
    next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == cell).source = code
    return nb


def test_the_check_answers_per_question_as_the_grader_grades(course, tmp_path):
    bank = yaml.safe_load((course / "solutions" / "m01" / "misconceptions.yml").read_text(encoding="utf-8"))
    mistake = bank[0]
    notebooks = {
        "solution": nbformat.read(course / "solutions" / "m01" / "m01.ipynb", as_version=4),
        "release": nbformat.read(course / "exercises" / "m01" / "m01.ipynb", as_version=4),
        "mistake": _answered(course, mistake["cell"], mistake["code"]),
    }
    checked = {}
    environ = {k: os.environ.get(k) for k in ENV}
    for name, nb in notebooks.items():
        path = tmp_path / name / "m01.ipynb"
        path.parent.mkdir()
        nbformat.write(nb, path)
        checked[name] = check_notebook(path, learner=LEARNER, root=course)

    assert all(q.verdict == RIGHT for q in checked["solution"].questions), as_text(checked["solution"])
    assert not any(q.verdict in (RIGHT, NAMED) for q in checked["release"].questions), as_text(checked["release"])
    named = {q.grade_id: q.misconception for q in checked["mistake"].questions if q.verdict == NAMED}
    assert all(named.get(t) == mistake["id"] for t in mistake["targets"]), as_text(checked["mistake"])
    # the answer never holds a hidden test's line or the expected value
    sources = [nbformat.read(course / "solutions" / "m01" / "m01.ipynb", as_version=4)]
    secrets = secret_lines(sources, [notebooks["release"]])
    for result in checked.values():
        text = as_text(result)
        assert "맞았습니다" in text or "틀렸습니다" in text
        assert not [line for line in secrets if line in text]
    # the caller's process gets its environment back (a check runs in-process: the hub's service, this test)
    assert {k: os.environ.get(k) for k in ENV} == environ
    # nothing a grade is made of was written: no state record, no gradebook submission
    assert not list((course / "grading").glob("states/m01/*"))
    assert not read_scores("m01", root=course)
    assert [a["attempt"] for a in read_attempts(course, "m01", LEARNER)] == [1, 2, 3]
    assert read_attempts(course, "m01", LEARNER)[2]["questions"][mistake["targets"][0]]["misconception"] == mistake["id"]

    # the grader, on the same notebooks as three learners' submissions: same questions right, same names
    learners = dict(zip(notebooks, GRADED))
    for name, learner in learners.items():
        folder = course / "grading" / "submitted" / learner / "m01"
        folder.mkdir(parents=True)
        nbformat.write(notebooks[name], folder / "m01.ipynb")
        again = check_notebook(folder / "m01.ipynb", learner=learner, root=course)
        checked[name] = again
    grade_module("m01", root=course, learners=list(learners.values()))
    scores = read_scores("m01", root=course)
    for name, learner in learners.items():
        record = states.read_state(course, "m01", learner)
        right = {gid for gid, (score, top) in scores[learner].items() if gid.endswith("_tests") and score >= top}
        assert right == {q.grade_id for q in checked[name].questions if q.verdict == RIGHT}, name
        named = {gid: m for gid, m in record.diagnoses.items() if m}
        assert named == {q.grade_id: q.misconception for q in checked[name].questions if q.verdict == NAMED}, name


def test_assessment_mode_and_a_spent_allowance_refuse_in_korean(course, tmp_path):
    path = tmp_path / "m01.ipynb"
    nbformat.write(nbformat.read(course / "exercises" / "m01" / "m01.ipynb", as_version=4), path)
    config = (course / "course.yml").read_text(encoding="utf-8")
    try:
        (course / "course.yml").write_text(re.sub(r"(- id: m01\n)", r"\1    checks: off\n", config), encoding="utf-8")
        with pytest.raises(CheckRefused, match="평가 모드"):
            check_notebook(path, learner="lee02", root=course)
        (course / "course.yml").write_text(re.sub(r"(- id: m01\n)", r"\1    checks: 1\n", config), encoding="utf-8")
        first = check_notebook(path, learner="lee02", root=course)
        assert first.attempt == 1 and first.remaining == 0
        with pytest.raises(CheckRefused, match="1번 모두"):
            check_notebook(path, learner="lee02", root=course)
        assert len(read_attempts(course, "m01", "lee02")) == 1
    finally:
        (course / "course.yml").write_text(config, encoding="utf-8")


def test_links_and_other_notebooks_are_refused_naming_the_file(course, tmp_path):
    link = tmp_path / "m01.ipynb"
    link.symlink_to(course / "solutions" / "m01" / "m01.ipynb")
    with pytest.raises(CheckRefused, match=r"m01\.ipynb: 링크"):
        check_notebook(link, learner="park03", root=course)
    other = tmp_path / "m01_other.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1")]), other)
    with pytest.raises(CheckRefused, match="m01 연습문제 노트북이 아닙니다"):
        check_notebook(other, learner="park03", root=course)
    broken = tmp_path / "m01_broken.ipynb"
    broken.write_text("{not json", encoding="utf-8")
    with pytest.raises(CheckRefused, match="m01_broken.ipynb"):
        check_notebook(broken, learner="park03", root=course)
    assert not read_attempts(course, "m01", "park03")


def test_the_command_prints_korean_or_json(course, tmp_path):
    path = tmp_path / "m01.ipynb"
    nbformat.write(nbformat.read(course / "solutions" / "m01" / "m01.ipynb", as_version=4), path)
    before = len(read_attempts(course, "m01", LEARNER))
    result = CliRunner().invoke(main, ["--root", str(course), "check", str(path), "--learner", LEARNER])
    assert result.exit_code == 0, result.output
    assert "8문제 중 8문제를 맞았습니다" in result.output and "성적에 기록되지 않으며" in result.output
    result = CliRunner().invoke(main, ["--root", str(course), "check", str(path), "--learner", LEARNER, "--json"])
    assert json.loads(result.output)["attempt"] == before + 2
    refused = CliRunner().invoke(main, ["--root", str(course), "check", str(tmp_path / "없음.ipynb"), "--module", "m01",
                                        "--learner", LEARNER])
    assert refused.exit_code != 0 and "파일이 없습니다" in refused.output
    stranger = CliRunner().invoke(main, ["--root", str(course), "check", str(path), "--learner", "choi04"])
    assert stranger.exit_code != 0 and "명단(grading/roster.csv)에 없어" in stranger.output


def test_a_working_copy_gives_its_process_back_what_it_changed(tmp_path, monkeypatch):
    """WorkingCopy sets the course's environment and a grading worker's caches in its process; a check runs in
    its caller's process (the CLI, a test worker), which gets them back on close() and when setting up fails."""
    from conftest import REPO

    from policylab.grading import autograde, hidden_tests

    monkeypatch.setenv("NBGRADER_EXECUTION", "validate")
    monkeypatch.delenv("POLICYLAB_DATASETS", raising=False)
    before = {k: os.environ.get(k) for k in ENV}
    (tmp_path / "template.db").write_bytes(b"")
    setup = dict(root=str(REPO), module_id="m01", workdir=str(tmp_path / "work"), template_db=str(tmp_path / "template.db"),
                 release_dir=str(REPO / "exercises" / "m01"))
    copy = autograde.WorkingCopy(**setup)
    assert os.environ["NBGRADER_EXECUTION"] == "autograde" and hidden_tests.KEEP_SOURCE_CELLS
    copy.close()
    assert {k: os.environ.get(k) for k in ENV} == before and not hidden_tests.KEEP_SOURCE_CELLS

    def broken(*args, **kwargs):
        raise RuntimeError("nbgrader_config.py could not be read")

    monkeypatch.setattr(autograde, "load_config", broken)
    with pytest.raises(RuntimeError):
        autograde.WorkingCopy(**setup)
    assert {k: os.environ.get(k) for k in ENV} == before and not hidden_tests.KEEP_SOURCE_CELLS
