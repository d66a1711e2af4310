"""The hub's check service and the learner's Validate button (issue 21), without a hub.

The admission rules (one check per learner at a time, the cool-down, the queue bound), the names a
notebook may be checked under, the real `policylab check --json` process the service runs (its answer
and its refusals, assessment mode told apart), and the reply the learner's Validate dialog renders
(escaped: nbgrader's dialog writes it as HTML). The whole path through a running hub and a browser is
in test_hub_e2e.py.
"""
from __future__ import annotations

import asyncio
import os
import re
import sys
from pathlib import Path

import nbformat
import pytest
import yaml
from conftest import copy_course

from policylab.course.build import build_exercises
from policylab.hub.learner_check import validate_reply
from policylab.hub.precheck_service import Limits, Refused, answer, notebook_name, run_check

pytestmark = pytest.mark.xdist_group("precheck")
POLICYLAB = [str(Path(sys.executable).parent / "policylab")]


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_one_check_per_learner_a_cooldown_and_a_bounded_queue():
    clock = Clock()
    limits = Limits(workers=1, queue=2, cooldown=10, clock=clock)
    limits.admit("kim01")
    with pytest.raises(Refused) as busy:
        limits.admit("kim01")  # a second check while the first runs: refused, not queued
    assert busy.value.status == 429 and "이미 확인하는 중" in busy.value.message
    limits.admit("lee02")
    limits.admit("park03")
    with pytest.raises(Refused) as full:
        limits.admit("choi04")  # one running + two waiting: the class cannot starve grading
    assert full.value.status == 503 and full.value.retry_after == 60
    # kim01's check finished
    limits.done("kim01")
    clock.now += 3
    with pytest.raises(Refused) as soon:
        limits.admit("kim01")
    assert soon.value.status == 429 and soon.value.retry_after == 8 and "8초 뒤" in soon.value.message
    limits.admit("choi04")  # kim01's place in the queue is free again
    clock.now += 8
    limits.done("lee02")
    limits.admit("kim01")  # the cool-down is over


@pytest.mark.parametrize("name", ["", "../m01.ipynb", "m01.html", "m01.ipynb\n", ".m01.ipynb", "a b.ipynb"])
def test_only_plain_notebook_names(name):
    if os.path.basename(name) == "m01.ipynb":  # a folder part is dropped, never followed
        assert notebook_name(name) == "m01.ipynb"
        return
    with pytest.raises(Refused) as refused:
        notebook_name(name)
    assert refused.value.status == 400


def test_the_validate_dialog_gets_escaped_korean_text():
    result = {"module": "m01", "learner": "kim01", "state": "graded", "reason": "", "attempt": 2, "remaining": 3,
              "questions": [{"grade_id": "q1_tests", "title": "<b>주차장 수</b>", "verdict": "named", "label": "틀렸습니다",
                             "text": "lots.size를 <script>썼습니다</script>", "misconception": "size"},
                            {"grade_id": "q2_tests", "title": "", "verdict": "right", "label": "맞았습니다",
                             "text": "", "misconception": None}]}
    reply = validate_reply({"ok": True, "result": result})
    failed = reply["value"]["failed"]
    assert reply["success"] and len(failed) == 1
    assert failed[0]["source"] == "q1_tests <b>주차장 수</b>: 틀렸습니다"  # the dialog writes source as text
    assert "&lt;script&gt;" in failed[0]["error"] and "<script>" not in failed[0]["error"]
    assert "2문제 중 1문제를 맞았습니다 (2번째 확인, 남은 확인 3번)" in failed[0]["error"]
    right = {**result, "questions": [result["questions"][1]]}
    assert validate_reply({"ok": True, "result": right}) == {"success": True, "value": {}}
    assert validate_reply({"ok": False, "message": "방금 확인했습니다."}) == {"success": False, "value": "방금 확인했습니다."}
    tampered = {**right, "state": "tampered", "state_label": "시험 셀 변경", "reason": "잠긴 셀을 <되돌렸습니다>."}
    first = validate_reply({"ok": True, "result": tampered})["value"]["failed"][0]
    assert first["source"] == "m01: 시험 셀 변경" and "&lt;되돌렸습니다&gt;" in first["error"]


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    from policylab.grading.roster import Learner, write_roster

    root = copy_course(tmp_path_factory.mktemp("precheck-service"), ["m01"])
    build_exercises(root=root, modules=["m01"])
    write_roster(root, [Learner("kim01", department="주차사업처", cohort="2025-1기", start_date="2025-03-03")])
    return root


def _check(course, body: bytes, name: str = "m01.ipynb", learner: str = "kim01") -> dict:
    """The service's whole answer to one request (admission, queue, check), but for the hub's login."""
    async def ask():
        return await answer(body, name, learner, limits=Limits(cooldown=0), slots=asyncio.Semaphore(1),
                            command=POLICYLAB, env={**os.environ, "POLICYLAB_ROOT": str(course)}, timeout=300)
    reply = asyncio.run(ask())
    assert reply["ok"] and all(q["label"] in ("맞았습니다", "틀렸습니다", "실행되지 않았습니다")
                               for q in reply["result"]["questions"])
    assert reply["text"].startswith("m01 제출 전 확인 (학습자 kim01")
    # the source notebook's test cells are not the released ones: restored and said so, in Korean
    assert (reply["result"]["state"], reply["result"]["state_label"]) == ("tampered", "시험 셀 변경")
    return reply["result"]


def test_the_service_runs_the_real_check_and_passes_its_refusals_on(course):
    bank = yaml.safe_load((course / "solutions" / "m01" / "misconceptions.yml").read_text(encoding="utf-8"))
    mistake = bank[1]
    nb = nbformat.read(course / "solutions" / "m01" / "m01.ipynb", as_version=4)
    next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == mistake["cell"]).source = mistake["code"]
    answer = _check(course, nbformat.writes(nb).encode())
    verdicts = {q["grade_id"]: (q["verdict"], q["misconception"]) for q in answer["questions"]}
    assert verdicts[mistake["targets"][0]] == ("named", mistake["id"]), verdicts
    assert answer["learner"] == "kim01" and answer["attempt"] == 1

    with pytest.raises(Refused) as broken:  # not a notebook: refused with the learner's file name, not the scratch path
        _check(course, b"not json")
    assert broken.value.status == 409 and broken.value.message.startswith("m01.ipynb") and not broken.value.assessment
    assert "policylab-precheck-" not in broken.value.message

    # a failure of the checker itself: the learner reads a Korean sentence, never a traceback or a trainer-side path
    crash = [sys.executable, "-c", "import sys; print('Traceback: /srv/course/solutions', file=sys.stderr); sys.exit(1)"]
    with pytest.raises(Refused) as crashed:
        asyncio.run(run_check(b"{}", "m01.ipynb", "kim01", command=crash, env=dict(os.environ), timeout=60))
    assert crashed.value.status == 500 and "강사에게 알려" in crashed.value.message
    assert "Traceback" not in crashed.value.message and "/srv" not in crashed.value.message

    config = (course / "course.yml").read_text(encoding="utf-8")
    (course / "course.yml").write_text(re.sub(r"(- id: m01\n)", r"\1    checks: off\n", config), encoding="utf-8")
    try:
        with pytest.raises(Refused) as off:
            _check(course, nbformat.writes(nb).encode())
    finally:
        (course / "course.yml").write_text(config, encoding="utf-8")
    assert off.value.assessment and off.value.status == 403 and "평가 모드" in off.value.message
