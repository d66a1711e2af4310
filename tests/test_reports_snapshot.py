"""A realistic grading snapshot (docs/snapshot.md) for the report tests, and its contract checks.

``write_snapshot`` stands in for grading's ``export_snapshot`` so that reports are tested on
their own: 32 learners in six departments (감사실 has 4, so its cells must be suppressed),
three modules, every submission state, manual grades pending and given, trainer comments,
and one question most learners get wrong.
"""
from __future__ import annotations

import csv
import fcntl
import os
import pickle
import random
import shutil
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]

DEPARTMENTS = {"주차사업처": 7, "체육사업처": 6, "경영지원처": 5, "기획조정실": 5, "시설관리처": 5, "감사실": 4}
SMALL_DEPARTMENT = "감사실"
FAMILY = "김이박최정강조윤장임한오서신권황안송류홍"
GIVEN = ["민준", "서연", "도윤", "지우", "하준", "서윤", "시우", "지민", "주원", "수아", "예준", "하은", "지호",
         "채원", "준서", "지유", "건우", "윤서", "현우", "다은", "우진", "소율", "선우", "예린", "연우", "수빈",
         "유준", "지원", "정우", "하린", "승우", "가은", "민재", "나은"]

# module → questions: (grade_id, title, skills, kind, max points, difficulty)
QUESTIONS = {
    "m01": [
        ("q1_tests", "주차요금 계산", "python-basics", "auto", 2, 0.2),
        ("q2_tests", "주차장 목록 불러오기", "data-loading", "auto", 2, 0.2),
        ("q3_tests", "주차구획 합계", "data-loading;python-basics", "auto", 3, 0.35),
        ("w1_answer", "요금 개편 의견 서술", "policy-judgement", "manual", 3, 0.3),
    ],
    "m02": [
        ("q1_tests", "CP949 파일 읽기", "data-loading", "auto", 2, 0.3),
        ("q2_tests", "금액 문자열 정리", "data-cleaning", "auto", 3, 0.45),
        ("q3_tests", "월별 이용 건수 집계", "aggregation", "auto", 5, 0.8),  # most learners fail it
    ],
    "m03": [
        ("q1_tests", "민원 추이 그래프", "visualization", "auto", 4, 0.3),
        ("w1_answer", "시민 눈높이 설명", "communication", "manual", 6, 0.3),
    ],
}
COMMENTS = ["근거가 분명합니다. 요금 변화가 이용자에게 미치는 영향도 한 줄 덧붙여 보십시오.",
            "결론은 좋습니다만 표본의 한계를 언급해 주십시오.",
            "표현이 쉽고 명확합니다."]


def learner_ids(n: int) -> list[str]:
    return [f"learner-{i:03d}" for i in range(1, n + 1)]


def _checks(learners: list[str], module: str) -> list[dict]:
    """Checks before submitting of the first module: the k-th learner checked 1 + k % 3 times, wrong with a
    named mistake on every auto question before the last check, and at the last still wrong when k is odd."""
    rows = []
    for k, learner in enumerate(learners):
        attempts = 1 + k % 3
        for attempt in range(1, attempts + 1):
            for grade_id, _, _, kind, _, _ in QUESTIONS[module]:
                if kind == "auto":
                    named = attempt < attempts or k % 2 == 1
                    rows.append({"learner_id": learner, "module": module, "attempt": attempt,
                                 "checked_at": f"2025-03-0{attempt}T10:00:00+09:00", "question": grade_id,
                                 "verdict": "named" if named else "right",
                                 "misconception": f"{grade_id}-mistake" if named else ""})
    return rows


def write_snapshot(folder: Path, *, seed: int = 7, departments: dict[str, int] | None = None,
                   modules: tuple[str, ...] = ("m01", "m02", "m03")) -> Path:
    """Write roster/results/questions/comments.csv into ``folder``; returns ``folder``."""
    rng = random.Random(seed)
    named_rng = random.Random(seed + 1)  # its own stream: the other tables stay as they were
    departments = departments or DEPARTMENTS
    folder.mkdir(parents=True, exist_ok=True)
    roster, results, questions, comments = [], [], [], []
    learners = [(d, i) for d, n in departments.items() for i in range(n)]
    ids = learner_ids(len(learners))
    names = [f"{FAMILY[k % len(FAMILY)]}{GIVEN[k % len(GIVEN)]}" for k in range(len(ids))]
    start = datetime(2025, 3, 3, 9, 0)
    for k, (learner, (department, _)) in enumerate(zip(ids, learners)):
        cohort = "2025-1기" if k % 3 else "2025-2기"
        roster.append({"learner_id": learner, "department": department, "cohort": cohort,
                       "start_date": "2025-03-03", "name": names[k] if k % 5 else ""})
        ability = rng.uniform(0.35, 1.0)
        for m, module in enumerate(modules):
            state = "graded"
            roll = rng.random()
            special = {(3, "m01"): "timed_out", (5, "m01"): "unreadable", (8, "m02"): "tampered",
                       (11, "m01"): "kernel_died", (2, "m01"): "missing", (13, "m02"): "limit_exceeded"}
            if (k, module) in special:
                state = special[(k, module)]
            elif m >= 1 and roll < 0.25 + 0.15 * m:
                state = "missing"
            row = {"learner_id": learner, "department": department, "cohort": cohort, "module": module,
                   "state": state, "reason": "", "score": "", "max_score": "", "auto_score": "",
                   "auto_max": "", "manual_score": "", "manual_max": "", "submitted_at": "", "graded_at": ""}
            qs = QUESTIONS[module]
            auto_max = sum(q[4] for q in qs if q[3] == "auto")
            manual_max = sum(q[4] for q in qs if q[3] == "manual")
            row.update(max_score=auto_max + manual_max, auto_max=auto_max, manual_max=manual_max or "")
            if state == "missing":
                results.append(row)
                continue
            submitted = start + timedelta(days=7 * m + rng.randint(0, 16), hours=rng.randint(0, 8))
            row.update(submitted_at=submitted.isoformat(timespec="seconds"),
                       graded_at=(submitted + timedelta(hours=2)).isoformat(timespec="seconds"))
            if state == "unreadable":
                row.update(reason="노트북 파일이 올바른 JSON 형식이 아닙니다.", max_score=auto_max + manual_max)
                results.append(row)
                continue
            reasons = {"timed_out": "셀 실행이 60초 제한을 넘었습니다.",
                       "kernel_died": "실행 중 커널이 종료되었습니다(0점 처리).",
                       "limit_exceeded": "메모리 한도를 넘어 채점을 중단했습니다. 0점으로 기록합니다.",
                       "tampered": "잠긴 테스트 셀이 수정되어 원본으로 복원한 뒤 채점했습니다."}
            row["reason"] = reasons.get(state, "")
            auto = manual = 0.0
            manual_done = rng.random() < 0.7
            for grade_id, title, skills, kind, points, difficulty in qs:
                if state in ("kernel_died", "limit_exceeded"):
                    score = 0.0
                elif kind == "manual" and not manual_done:
                    score = None
                else:
                    chance = ability * (1 - difficulty) + 0.25
                    score = float(points) if rng.random() < chance else float(rng.randint(0, points - 1))
                    if state == "timed_out" and grade_id != "q1_tests":
                        score = 0.0
                named = kind == "auto" and score is not None and score < points and named_rng.random() < 0.7
                questions.append({"learner_id": learner, "module": module, "question": grade_id,
                                  "title": title, "skills": skills, "kind": kind,
                                  "score": "" if score is None else score, "max_score": points,
                                  "misconception": f"{grade_id}-mistake" if named else "",
                                  "mistake": f"{title}에서 단위를 잘못 바꾸었습니다. 다시 볼 곳: 2절." if named else ""})
                if kind == "auto":
                    auto += score
                elif score is not None:
                    manual += score
                    if rng.random() < 0.6:
                        comments.append({"learner_id": learner, "module": module, "question": grade_id,
                                         "comment": rng.choice(COMMENTS)})
            row.update(auto_score=auto, manual_score=manual if manual_done and manual_max else "",
                       score=auto + (manual if manual_done else 0.0))
            results.append(row)
    tables = {
        "roster.csv": roster, "results.csv": results, "questions.csv": questions, "comments.csv": comments,
        "checks.csv": _checks(ids[:12], modules[0]),
    }
    columns = {
        "roster.csv": ["learner_id", "department", "cohort", "start_date", "name"],
        "results.csv": ["learner_id", "department", "cohort", "module", "state", "reason", "score",
                        "max_score", "auto_score", "auto_max", "manual_score", "manual_max",
                        "submitted_at", "graded_at"],
        "questions.csv": ["learner_id", "module", "question", "title", "skills", "kind", "score", "max_score",
                          "misconception", "mistake"],
        "comments.csv": ["learner_id", "module", "question", "comment"],
        "checks.csv": ["learner_id", "module", "attempt", "checked_at", "question", "verdict", "misconception"],
    }
    for name, rows in tables.items():
        with open(folder / name, "w", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, fieldnames=columns[name])
            writer.writeheader()
            writer.writerows(rows)
    return folder


def make_course_root(folder: Path, *, ready: tuple[str, ...] = ("m01", "m02", "m03")) -> Path:
    """A course directory for report tests: course.yml with ``ready`` modules, the templates."""
    folder.mkdir(parents=True, exist_ok=True)
    course = yaml.safe_load((REPO / "course.yml").read_text(encoding="utf-8"))
    for module in course["modules"]:
        module["status"] = "ready" if module["id"] in ready else "planned"
    (folder / "course.yml").write_text(yaml.safe_dump(course, allow_unicode=True, sort_keys=False), encoding="utf-8")
    shutil.copy2(REPO / "nbgrader_config.py", folder / "nbgrader_config.py")
    shutil.copytree(REPO / "grading" / "reports", folder / "grading" / "reports",
                    ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    return folder


def shared(tmp_path_factory, name: str, build):
    """``build(folder)`` once per test session, also across pytest-xdist workers.

    Workers wait on a file lock and unpickle the first one's result (``--dist loadgroup``
    does not keep a module's tests on one worker with every pytest/xdist pair).
    """
    base = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        base = base.parent  # shared by the workers of this session
    folder = base / f"shared-{name}"
    folder.mkdir(exist_ok=True)
    with open(folder / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        result = folder / "result.pickle"
        if result.is_file():
            return pickle.loads(result.read_bytes())
        value = build(folder)
        result.write_bytes(pickle.dumps(value))
        return value


# --------------------------------------------------------------------------- contract checks


@pytest.fixture()
def snapshot(tmp_path: Path) -> Path:
    return write_snapshot(tmp_path / "data")


def test_sample_snapshot_follows_the_contract(snapshot: Path) -> None:
    from policylab.reports.snapshot import load_snapshot
    from policylab.snapshot import SNAPSHOT_COLUMNS, STATES

    snap = load_snapshot(snapshot)
    for name, columns in SNAPSHOT_COLUMNS.items():
        header = (snapshot / name).read_text(encoding="utf-8").splitlines()[0].split(",")
        assert header == list(columns), name
    assert set(snap.results["state"]) == set(STATES)
    assert (snap.roster["department"] == SMALL_DEPARTMENT).sum() == 4
    assert str(snap.roster["learner_id"].dtype) == "str"  # pandas 3: text is `str`, not object
    assert snap.results["score"].dtype == "float64"


def test_missing_snapshot_file_names_the_file(snapshot: Path) -> None:
    from policylab.reports.snapshot import ReportError, load_snapshot

    (snapshot / "questions.csv").unlink()
    with pytest.raises(ReportError, match=r"questions\.csv: snapshot file not found"):
        load_snapshot(snapshot)


def test_missing_snapshot_folder_names_the_folder(tmp_path: Path) -> None:
    from policylab.reports.snapshot import ReportError, load_snapshot

    with pytest.raises(ReportError, match="no-such-folder: snapshot folder not found"):
        load_snapshot(tmp_path / "no-such-folder")


def test_malformed_snapshot_says_where(snapshot: Path) -> None:
    from policylab.reports.snapshot import ReportError, load_snapshot

    text = (snapshot / "results.csv").read_text(encoding="utf-8").splitlines()
    cells = text[1].split(",")
    cells[6] = "열점"  # score
    text[1] = ",".join(cells)
    (snapshot / "results.csv").write_text("\n".join(text) + "\n", encoding="utf-8")
    with pytest.raises(ReportError, match=r"results\.csv: line 2: column 'score' is not a number"):
        load_snapshot(snapshot)


def test_snapshot_without_a_column_is_refused(snapshot: Path) -> None:
    from policylab.reports.snapshot import ReportError, load_snapshot

    (snapshot / "roster.csv").write_text("learner_id,department\nlearner-001,감사실\n", encoding="utf-8")
    with pytest.raises(ReportError, match=r"roster\.csv: missing column\(s\) cohort, start_date, name"):
        load_snapshot(snapshot)
