"""The grading pipeline on a batch holding every kind of broken submission, with real kernels.

One batch is graded once per test run (shared by the xdist workers): PolicyLab's
parallel `grade_module` in one copy of a tiny course, stock serial `nbgrader autograde`
in another copy of the same course and submissions, at the same time. Then a trainer
grades a written answer through the Gradebook API, feedback is written and the snapshot
exported. The tests below only read the results.
"""
from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from fixtures import faults
from fixtures.shared import build_once
from fixtures.tiny_course import HIDDEN_Q1, HIDDEN_Q2, make_course

from policylab.course.modules import get_module
from policylab.demo.cohort import BROKEN_KINDS, ModuleMaterial
from policylab.grading import states
from policylab.grading.batch import grade_module, read_scores
from policylab.grading.export import export_snapshot
from policylab.grading.feedback import write_feedback
from policylab.grading.leaks import find_leaks, html_text, known_to_learner, secret_lines
from policylab.grading.roster import Learner, write_roster
from policylab.grading.submissions import checksums

pytestmark = pytest.mark.slow
BIN = Path(sys.executable).parent
TIMEOUT = 2  # seconds per cell: the loops cost this much, not nbgrader_config.py's 60

EXPECTED = {
    "complete": states.GRADED,
    "partial": states.GRADED,
    "misconception": states.GRADED,
    "blank": states.GRADED,
    "invalid-json": states.UNREADABLE,
    "infinite-loop": states.TIMED_OUT,
    "ignores-interrupt": states.TIMED_OUT,
    "kernel-exit": states.KERNEL_DIED,
    "edited-test-cell": states.TAMPERED,
    "deleted-test-cell": states.TAMPERED,
    "duplicated-cell": states.TAMPERED,
    "json-but-not-a-notebook": states.UNREADABLE,
    "empty-file": states.UNREADABLE,
    "missing-notebook": states.UNREADABLE,
    "duplicated-answer-cell": states.GRADED,
    "reads-grading-environment": states.GRADED,
    "answer-shares-a-hidden-line": states.GRADED,
    "fails-hidden-tests": states.GRADED,
    "fails-visible-test": states.GRADED,
    "prints-input-history": states.GRADED,
    "kills-the-grader": states.GRADED,  # in the sandbox its parent is the sandbox's own: the grader lives on
}
ABSENT = "absent"                     # on the roster, never submitted
NOT_IN_STOCK = {"kills-the-grader"}   # it would kill the stock nbgrader process itself
UNSANDBOXED = "kills-the-grader"      # graded once more with --no-sandbox, in a copy of its own
MANUAL = ("complete", 1.5, "근거가 분명합니다. 다음에는 불확실성도 적어 보세요.")


def _submissions(material: ModuleMaterial) -> dict[str, str]:
    built = {}
    for name in EXPECTED:
        builder = getattr(faults, name.replace("-", "_"), None)
        if name in ("complete", "partial", "misconception", "blank") or name in BROKEN_KINDS:
            built[name] = faults.kind(material, name)
        elif builder is not None:
            built[name] = builder(material)
    built["missing-notebook"] = faults.kind(material, "complete")
    return built


def _env(root: Path) -> dict:
    env = dict(os.environ, POLICYLAB_ROOT=str(root))
    env["PATH"] = os.pathsep.join([str(BIN), env.get("PATH", "")])
    env.pop("POLICYLAB_DB_URL", None)
    return env


def _build(base: Path) -> None:
    course = make_course(base / "course", timeout=TIMEOUT)
    material = ModuleMaterial(get_module("m01", course))
    for learner, text in _submissions(material).items():
        folder = course / "grading" / "submitted" / learner / "m01"
        folder.mkdir(parents=True)
        name = "answers.ipynb" if learner == "missing-notebook" else "m01.ipynb"
        (folder / name).write_text(text, encoding="utf-8")
        (folder / "timestamp.txt").write_text("2025-03-06T10:00:00+09:00\n", encoding="utf-8")
    write_roster(course, [Learner(l, department="주차사업처", cohort="2025-1기", start_date="2025-03-03")
                          for l in [*EXPECTED, ABSENT]])
    stock = base / "stock"
    shutil.copytree(course, stock, symlinks=True)
    for learner in NOT_IN_STOCK:
        shutil.rmtree(stock / "grading" / "submitted" / learner)
    (base / "before.json").write_text(json.dumps(checksums(course / "grading" / "submitted")))
    unsandboxed = base / "unsandboxed"
    shutil.copytree(course, unsandboxed, symlinks=True)

    with open(base / "stock.log", "w") as log:
        stock_run = subprocess.Popen([str(BIN / "nbgrader"), "autograde", "m01"], cwd=stock, env=_env(stock),
                                     stdout=log, stderr=subprocess.STDOUT)
        try:
            report = grade_module("m01", root=course, workers=2)
        finally:
            stock_run.wait(timeout=600)
    (base / "report.json").write_text(json.dumps({"regraded": report.regraded, "missing": report.missing,
                                                  "workers": report.workers, "sandbox": report.sandbox}))
    # without the sandbox the same kill reaches the worker: the pipeline survives and says so
    grade_module("m01", root=unsandboxed, learners=[UNSANDBOXED, "prints-input-history"], workers=1, sandbox=False)
    write_feedback("m01", root=unsandboxed, learners=["prints-input-history"])
    # a trainer grades the written answer of one learner in formgrader (here: nbgrader's Gradebook API)
    from nbgrader.api import Gradebook

    learner, points, comment = MANUAL
    with Gradebook(f"sqlite:///{course / 'grading' / 'gradebook.db'}", "policylab") as gb:
        gb.find_grade("w1_answer", "m01", "m01", learner).manual_score = points
        gb.find_comment("w1_answer", "m01", "m01", learner).manual_comment = comment
        gb.db.commit()
    feedback = write_feedback("m01", root=course, workers=2)  # `policylab feedback` on two cores
    pages = _pages(course)
    serial = write_feedback("m01", root=course, workers=1)
    (base / "feedback.json").write_text(json.dumps({
        "withheld": feedback.withheld, "written": list(feedback.written), "serial_withheld": serial.withheld,
        "serial_written": list(serial.written), "same_pages": pages == _pages(course) and len(pages)},
        ensure_ascii=False))
    export_snapshot(root=course, out_dir=base / "snapshot")
    # stock nbgrader's own feedback for the same learner, to show what the leak check catches (#917)
    subprocess.run([str(BIN / "nbgrader"), "generate_feedback", "m01", "--student", "fails-hidden-tests"],
                   cwd=stock, env=_env(stock), capture_output=True, timeout=300)


def _pages(course: Path) -> dict[str, str]:
    import hashlib

    return {str(p.relative_to(course)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted((course / "grading" / "feedback").rglob("*.html"))}


@pytest.fixture(scope="module")
def batch(tmp_path_factory) -> Path:
    return build_once(tmp_path_factory, "grading-batch", _build)


@pytest.fixture(scope="module")
def recorded(batch) -> dict[str, states.StateRecord]:
    return {learner: r for (learner, _), r in states.read_states(batch / "course", "m01").items()}


def _csv(path: Path) -> list[dict]:
    with open(path, encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def test_every_submission_ends_in_its_state(batch, recorded):
    got = {learner: r.state for learner, r in recorded.items()}
    assert got == EXPECTED
    report = json.loads((batch / "report.json").read_text())
    assert report["missing"] == [ABSENT] and report["workers"] == 2
    assert sorted(report["regraded"]) == sorted(EXPECTED)


def test_the_sandbox_is_on_and_recorded(batch, recorded):
    assert json.loads((batch / "report.json").read_text())["sandbox"] is True
    assert all(r.sandbox for r in recorded.values())
    assert recorded["complete"].ended == "completed" and recorded["kernel-exit"].ended == "kernel_died"
    # the kill aimed at the grader hit only the sandbox: q2 was still graded
    assert read_scores("m01", root=batch / "course")["kills-the-grader"]["q2_tests"] == (3.0, 3.0)
    assert states.read_state(batch / "unsandboxed", "m01", UNSANDBOXED).sandbox is False


def test_failures_say_why_in_korean(recorded):
    assert "JSON" in recorded["invalid-json"].reason
    assert "노트북 형식이 아닙니다" in recorded["json-but-not-a-notebook"].reason
    assert "비어 있습니다" in recorded["empty-file"].reason
    assert "m01.ipynb 파일이 없습니다" in recorded["missing-notebook"].reason
    assert "answers.ipynb" in recorded["missing-notebook"].reason
    assert "q1_answer" in recorded["infinite-loop"].reason
    assert "중단 요청에도 멈추지 않았습니다" in recorded["ignores-interrupt"].reason
    assert "삭제" in recorded["deleted-test-cell"].reason
    assert "내용이 바뀌었습니다" in recorded["edited-test-cell"].reason
    assert "2번" in recorded["duplicated-cell"].reason
    assert "채점 샌드박스" not in "".join(r.reason for r in recorded.values())
    assert all(r.reason for r in recorded.values() if r.state != states.GRADED)
    assert not any(r.reason for r in recorded.values() if r.state == states.GRADED)


def test_scores_are_stock_nbgraders(batch, recorded):
    """Every submission stock nbgrader could grade got the same score on every cell."""
    ours, stock = read_scores("m01", root=batch / "course"), read_scores("m01", root=batch / "stock")
    unreadable = {l for l, r in recorded.items() if r.state == states.UNREADABLE}
    duplicated = {"duplicated-cell", "duplicated-answer-cell"}
    compared = set(EXPECTED) - unreadable - NOT_IN_STOCK - duplicated
    assert compared <= set(ours) and compared <= set(stock)
    assert {l: ours[l] for l in compared} == {l: stock[l] for l in compared}
    assert ours["complete"] == {"q1_tests": (2.0, 2.0), "q2_tests": (3.0, 3.0)}
    # stock nbgrader 0.9.6 crashes on any copy-pasted nbgrader cell (KeyError 'grade_id' in
    # add_missing_cells) and leaves 0; PolicyLab drops the earlier copy's metadata, as nbgrader's
    # DeduplicateIds intends, and grades the rest as usual
    for learner in duplicated:
        assert all(score == 0 for score, _ in stock[learner].values())
        assert ours[learner] == ours["complete"]
    assert (batch / "stock.log").read_text().count("KeyError: 'grade_id'") >= 2


def test_a_dead_kernel_never_counts_as_a_pass(batch, recorded):
    ours = read_scores("m01", root=batch / "course")
    learner = "kernel-exit"
    assert recorded[learner].auto_score == 0
    assert all(score == 0 for score, _ in ours[learner].values())
    killed = states.read_state(batch / "unsandboxed", "m01", UNSANDBOXED)
    assert killed.state == states.KERNEL_DIED and "두 번 비정상 종료" in killed.reason and killed.auto_score == 0
    assert all(score == 0 for score, _ in read_scores("m01", root=batch / "unsandboxed")[UNSANDBOXED].values())
    rows = {(r["learner_id"]): r for r in _csv(batch / "snapshot" / "results.csv")}
    assert rows["kernel-exit"]["score"] == "0" and rows["kernel-exit"]["state"] == states.KERNEL_DIED


def test_tampered_cells_are_graded_as_released(batch, recorded):
    ours = read_scores("m01", root=batch / "course")
    for learner in ("edited-test-cell", "deleted-test-cell"):
        assert ours[learner]["q1_tests"] == (0.0, 2.0)   # the answer was left blank: the restored test fails
        graded = nbformat.read(batch / "course" / "grading" / "autograded" / learner / "m01" / "m01.ipynb", 4)
        sources = "\n".join(c.source for c in graded.cells)
        # the released test is back; its hidden part ran in the grader and is not in the learner's notebook
        assert 'assert isinstance(answer, int), "answer는 정수(int)여야 합니다."' in sources
        assert HIDDEN_Q1 not in sources and "pass" != graded.cells[2].source.strip()


def test_submitted_files_are_never_modified(batch):
    before = json.loads((batch / "before.json").read_text())
    assert before and checksums(batch / "course" / "grading" / "submitted") == before


def test_grading_runs_with_nbgrader_execution_set(batch):
    assert read_scores("m01", root=batch / "course")["reads-grading-environment"]["q1_tests"] == (2.0, 2.0)


def test_no_working_copies_are_left_behind(batch):
    assert not [p for p in (batch / "course" / "grading" / ".work").iterdir() if p.is_dir()]


def test_feedback_never_shows_hidden_tests(batch):
    course = batch / "course"
    secrets = secret_lines([nbformat.read(course / "solutions" / "m01" / "m01.ipynb", 4)],
                           [nbformat.read(course / "exercises" / "m01" / "m01.ipynb", 4)])
    assert HIDDEN_Q1 in secrets and HIDDEN_Q2 in secrets
    files = sorted((course / "grading" / "feedback").glob("*/m01/m01.html"))
    assert {f.parents[1].name for f in files} == set(EXPECTED)
    for path in files:
        page = path.read_text(encoding="utf-8")
        own = known_to_learner(secrets, course / "grading" / "submitted" / path.parents[1].name / "m01")
        assert not [line for line in find_leaks(page, secrets) if line not in own], path
        assert "BEGIN HIDDEN TESTS" not in page and "근거 2점" not in page, path
    # no learner loses feedback to a false alarm: a right answer that holds a hidden line is theirs
    assert json.loads((batch / "feedback.json").read_text())["withheld"] == {}
    shared = (course / "grading" / "feedback" / "answer-shares-a-hidden-line" / "m01" / "m01.html").read_text("utf-8")
    assert HIDDEN_Q1 in html_text(shared) and "통과" in html_text(shared)
    # the check is real: stock nbgrader's feedback for the same submission shows the hidden assert
    stock_page = (batch / "stock" / "grading" / "feedback" / "fails-hidden-tests" / "m01" / "m01.html")
    assert find_leaks(stock_page.read_text(encoding="utf-8"), secrets)


def test_feedback_written_in_processes_is_what_one_process_writes(batch):
    """write_feedback shares the learners between processes (the CLI's and the demo's default): the same
    learners in the same order, the same verdicts, byte-identical pages."""
    done = json.loads((batch / "feedback.json").read_text())
    assert done["written"] == done["serial_written"] == sorted(EXPECTED)
    assert done["withheld"] == done["serial_withheld"]
    assert done["same_pages"] == len(EXPECTED)


def test_feedback_is_korean_with_hints(batch):
    def text(learner: str) -> str:
        return html_text((batch / "course" / "grading" / "feedback" / learner / "m01" / "m01.html")
                         .read_text(encoding="utf-8"))

    assert "숨은 테스트를 통과하지 못했습니다" in text("fails-hidden-tests")
    assert "answer는 정수(int)여야 합니다" in text("fails-visible-test")
    complete = text("complete")
    assert "채점 결과" in complete and "통과" in complete and "정답 값" in complete
    assert MANUAL[2] in complete and "총점 6.5 / 7.0" in complete
    assert "읽을 수 없음" in text("invalid-json") and "JSON" in text("invalid-json")
    assert "커널 중단" in text("kernel-exit")
    # a wrong answer that matches the bank is named, with its Korean explanation and where to look again
    named = text("misconception")
    assert "알려진 실수와 일치합니다" in named and "다시 볼 곳" in named
    assert "하나 적게 셌습니다" in named or "두 배 대신 제곱했습니다" in named
    assert "알려진 실수" not in text("complete")
    # hidden checks run in the grader, never in the kernel (with or without the sandbox), so
    # printing the kernel's input history shows none and there is nothing to redact
    for course in ("course", "unsandboxed"):
        page = html_text((batch / course / "grading" / "feedback" / "prints-input-history" / "m01" / "m01.html")
                         .read_text(encoding="utf-8"))
        assert "print(In)" in page and HIDDEN_Q1 not in page and "BEGIN HIDDEN" not in page


def test_snapshot_follows_the_contract(batch):
    snap = batch / "snapshot"
    results = {r["learner_id"]: r for r in _csv(snap / "results.csv")}
    assert list(_csv(snap / "results.csv")[0]) == ["learner_id", "department", "cohort", "module", "state",
                                                   "reason", "score", "max_score", "auto_score", "auto_max",
                                                   "manual_score", "manual_max", "submitted_at", "graded_at"]
    assert set(results) == set(EXPECTED) | {ABSENT}
    assert results[ABSENT]["state"] == states.MISSING and results[ABSENT]["score"] == ""
    assert results[ABSENT]["submitted_at"] == ""
    assert results["invalid-json"]["score"] == "" and results["invalid-json"]["reason"]
    assert results["complete"]["score"] == "6.5" and results["complete"]["manual_score"] == "1.5"
    assert results["complete"]["auto_score"] == "5" and results["complete"]["max_score"] == "7"
    assert results["complete"]["submitted_at"] == "2025-03-06T10:00:00+09:00"
    assert results["blank"]["manual_score"] == "0"        # an untouched written answer is a graded 0
    assert results["partial"]["department"] == "주차사업처"
    questions = [q for q in _csv(snap / "questions.csv") if q["learner_id"] == "complete"]
    assert {q["question"]: (q["title"], q["skills"], q["kind"], q["score"]) for q in questions} == {
        "q1_tests": ("정답 값", "python-basics", "auto", "2"),
        "q2_tests": ("두 배 함수", "aggregation", "auto", "3"),
        "w1_answer": ("정책 시사점", "policy-judgement", "manual", "1.5")}
    assert _csv(snap / "comments.csv") == [{"learner_id": "complete", "module": "m01", "question": "w1_answer",
                                             "comment": MANUAL[2]}]
    assert {r["learner_id"] for r in _csv(snap / "roster.csv")} == set(EXPECTED) | {ABSENT}


def test_the_commands_summarise_and_fail_on_problems(batch, tmp_path):
    from click.testing import CliRunner

    from policylab.cli import main

    course = str(batch / "course")
    graded = CliRunner().invoke(main, ["--root", course, "grade", "m01"])   # nothing changed: no kernels
    assert graded.exit_code == 1, graded.output
    assert "시간 초과" in graded.output and "ignores-interrupt" in graded.output
    assert "채점 샌드박스: 사용" in graded.output
    assert f"건너뜀 {len(EXPECTED)}명" in graded.output
    out = tmp_path / "hr.csv"
    exported = CliRunner().invoke(main, ["--root", course, "export", "--out", str(out)])
    assert exported.exit_code == 0, exported.output
    assert out.read_bytes().startswith(b"\xef\xbb\xbf")          # Excel reads the Korean
    assert len(out.read_text(encoding="utf-8-sig").splitlines()) == len(EXPECTED) + 2
    # the trainers' item analysis beside it: share right and the named mistakes, no learner's id
    items = (tmp_path / "item_analysis.csv").read_text(encoding="utf-8-sig")
    assert "(정답)" in items and ("off-by-one" in items or "square-not-double" in items)
    assert not {f for line in items.splitlines()[1:] for f in line.split(",")} & set(EXPECTED)


def test_grade_refuses_without_the_sandbox_unless_told(batch, tmp_path):
    """Where bubblewrap is missing, `policylab grade` grades nothing and says how to fix it."""
    course = tmp_path / "course"
    shutil.copytree(batch / "course", course, symlinks=True)
    before = checksums(course / "grading")
    env = dict(_env(course), PATH=str(BIN))  # no /usr/bin: no bwrap
    done = subprocess.run([str(BIN / "policylab"), "--root", str(course), "grade", "m01", "--learner", "complete"],
                          env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "bubblewrap" in done.stderr and "--no-sandbox" in done.stderr and "apt-get install" in done.stderr
    after = checksums(course / "grading")
    assert {k: v for k, v in after.items() if ".sandbox" not in k} == \
        {k: v for k, v in before.items() if ".sandbox" not in k}


def test_a_right_answer_is_not_a_leak_but_a_hidden_line_is():
    """The leak check matches whole hidden lines, not the tail of a learner's own longer name."""
    secrets = ['_levels = {"A": 1, "B": 3}', 'assert answer == 42, "값이 기대와 다릅니다."']
    assert find_leaks('<pre>smsl_levels = {"A": 1, "B": 3}</pre>', secrets) == []
    assert find_leaks('<pre>_levels = {"A": 1, "B": 3}</pre>', secrets) == [secrets[0]]
    assert find_leaks('<pre>&gt;&gt;&gt; assert answer == 42, "값이 기대와 다릅니다."</pre>', secrets) == [secrets[1]]


def test_a_chart_in_feedback_becomes_a_korean_note():
    """Feedback pages are static: a plotly figure becomes one line naming it, not a dropped output."""
    from policylab.grading.feedback import _chart_note

    figure = nbformat.v4.new_output("display_data", data={
        "application/vnd.plotly.v1+json": {"data": [], "layout": {"title": {"text": "월별 장기주차 비율"}}}})
    assert _chart_note(figure)["data"] == {"text/plain": "[차트: 월별 장기주차 비율] 차트는 제출한 노트북에서 볼 수 있습니다."}
    picture = nbformat.v4.new_output("display_data", data={"image/png": "iVBOR", "text/plain": "<Figure>"})
    assert _chart_note(picture) is picture
