"""`policylab check`: a learner's notebook graded before they submit, per question, nothing recorded as a grade.

The notebook goes through exactly what `policylab grade` does to a submission (the same worker class,
sandbox, checker, references and misconception detector, on the learner's own draw), in a scratch
working copy: nothing is written to the gradebook, grading/submitted, grading/autograded or the state
records. The answer says, per autograded question, right, wrong with the named mistake and the lesson
section to revisit, wrong and unexplained, or did not run (the state's Korean reason). It never holds
an expected value or a line of a test: only what the learner's feedback page would show, and less.

course.yml decides per module (``checks``): unlimited (training, the default), a number of checks per
learner, or off (assessment mode). Every check is recorded, trainer-side, in
``grading/checks/<module>/<learner>.jsonl`` (time, state, per-question verdict and mistake), for the
learner's progress over attempts and the item analysis. One check per learner at a time.
"""
from __future__ import annotations

import fcntl
import json
import os
import re
import tempfile
import time
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path

import nbformat

from policylab.course.modules import get_module
from policylab.course.nbconfig import load_config
from policylab.course.paths import find_root
from policylab.data.draw_identity import check_learner_id
from policylab.data.draws import DrawError, local_learner
from policylab.grading import states
from policylab.grading.attempts import attempts_file, read_attempts
from policylab.grading.bank import load_bank
from policylab.grading.roster import load_roster
from policylab.grading.submissions import Unreadable, read_notebook

RIGHT, NAMED, UNEXPLAINED, NOT_RUN = "right", "named", "unexplained", "not_run"
VERDICTS_KO = {RIGHT: "맞았습니다", NAMED: "틀렸습니다", UNEXPLAINED: "틀렸습니다", NOT_RUN: "실행되지 않았습니다"}


class CheckRefused(RuntimeError):
    """The check cannot run; the Korean message names the file or setting and what to do.
    ``assessment``: refused because the module is in assessment mode (the Validate button then falls
    back to nbgrader's own format check)."""

    def __init__(self, message: str, *, assessment: bool = False) -> None:
        super().__init__(message)
        self.assessment = assessment


@dataclass
class Question:
    grade_id: str
    title: str
    verdict: str                    # RIGHT, NAMED, UNEXPLAINED or NOT_RUN
    text: str = ""                  # Korean: the named mistake and where to look again, or the reason
    misconception: str | None = None


@dataclass
class CheckResult:
    module: str
    learner: str
    state: str
    reason: str
    questions: list[Question] = field(default_factory=list)
    attempt: int = 0                # this learner's checks of this module, this one included
    remaining: int | None = None    # None: unlimited
    seconds: float = 0.0

    @property
    def right(self) -> int:
        return sum(q.verdict == RIGHT for q in self.questions)


def _module_of(path: Path, module_id: str | None, root: Path):
    if module_id:
        return get_module(module_id, root)
    match = re.match(r"(m\d\d)", path.name)
    if not match:
        raise CheckRefused(f"{path}: 파일 이름으로 모듈을 알 수 없습니다. --module m01처럼 모듈을 지정하세요.")
    return get_module(match.group(1), root)


def _read(path: Path, module) -> nbformat.NotebookNode:
    """The learner's notebook, refused (never followed or half-read) when it is a link, not a file or not this module's."""
    if path.is_symlink():
        raise CheckRefused(f"{path}: 링크(심볼릭 링크)는 확인하지 않습니다. 노트북 파일 자체를 지정하세요.")
    if not path.is_file():
        raise CheckRefused(f"{path}: 파일이 없습니다.")
    try:
        nb = read_notebook(path)
    except Unreadable as exc:
        raise CheckRefused(str(exc)) from None
    release = nbformat.read(module.release, as_version=4)
    wanted = {c.metadata.get("nbgrader", {}).get("grade_id") for c in release.cells} - {None}
    mine = {c.get("metadata", {}).get("nbgrader", {}).get("grade_id") for c in nb.cells} - {None}
    if wanted and not wanted & mine:
        raise CheckRefused(f"{path}: {module.id} 연습문제 노트북이 아닙니다 (이 모듈의 문제 셀이 하나도 없습니다). "
                           "확인할 모듈의 연습문제 노트북을 지정하세요.")
    return nb


class _OneAtATime:
    """One check per learner and module at a time (a second one is refused, not queued)."""

    def __init__(self, root: Path, module_id: str, learner: str) -> None:
        # beside the attempts: the hub's check service writes there, and nothing else of the course's
        self.path = attempts_file(root, module_id, learner).with_name(f".{learner}.lock")

    def __enter__(self):
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.fh = open(self.path, "w")
        try:
            fcntl.flock(self.fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self.fh.close()
            raise CheckRefused("이미 이 모듈을 확인하는 중입니다. 앞의 확인이 끝난 뒤 다시 요청하세요.") from None
        return self

    def __exit__(self, *exc) -> None:
        fcntl.flock(self.fh, fcntl.LOCK_UN)
        self.fh.close()


def check_notebook(notebook: str | os.PathLike, *, learner: str | None = None, module_id: str | None = None,
                   root: Path | None = None, sandbox: bool = True, limits=None,
                   timeout: int | None = None) -> CheckResult:
    """Grade ``notebook`` as ``learner``'s submission of its module, in scratch; record the attempt; never raise
    for anything the notebook does (that is a state), only CheckRefused for what stops a check."""
    from policylab.grading.autograde import WorkingCopy
    from policylab.grading.batch import grading_overrides, module_template

    started = time.monotonic()
    root = Path(root).resolve() if root else find_root()  # the checker runs from /: never a relative root
    path = Path(notebook)
    module = _module_of(path, module_id, root)
    if not module.checks:
        raise CheckRefused(f"{module.id}은(는) 평가 모드라서 제출 전 확인을 쓸 수 없습니다 (강사가 course.yml의 checks를 "
                           "off로 정했습니다). 제출한 뒤 강사의 채점을 기다려 주세요.", assessment=True)
    learner = learner or local_learner()
    if not learner:
        raise CheckRefused("학습자 ID를 알 수 없습니다. $POLICYLAB_LEARNER에 학습자 ID를 넣거나 --learner로 지정하세요.")
    try:
        learner = check_learner_id(learner)
    except DrawError as exc:
        raise CheckRefused(str(exc)) from None
    nb = _read(path, module)
    with _OneAtATime(root, module.id, learner):
        before = read_attempts(root, module.id, learner)
        if module.check_limit is not None and len(before) >= module.check_limit:
            raise CheckRefused(f"{module.id}의 제출 전 확인을 {module.check_limit}번 모두 썼습니다. "
                               "제출한 뒤 강사의 채점을 기다려 주세요.")
        overrides, _ = grading_overrides(root, module, sandbox=sandbox, limits=limits, timeout=timeout)
        config = load_config(root, **overrides)
        roster = [r.learner_id for r in load_roster(root)]
        if roster and learner not in roster:
            raise CheckRefused(f"학습자 {learner}는 명단(grading/roster.csv)에 없어 개인별 자료를 정할 수 없으므로 "
                               "확인하지 않았습니다. 강사에게 명단 추가를 요청하세요.")
        # WorkingCopy sets the course's and the draw's environment and a grading worker's caches in this
        # process; its close() gives the caller's process them back
        with tempfile.TemporaryDirectory(prefix="policylab-check-") as tmp:
            tmp = Path(tmp)
            folder = tmp / "submitted" / learner / module.id
            folder.mkdir(parents=True)
            # the learner's file under the name the release has (a learner may have saved a copy under another)
            nbformat.write(nb, folder / module.release.name)
            template = module_template(config, module, tmp / "template.db")
            copy = WorkingCopy(root=str(root), module_id=module.id, workdir=str(tmp / "work"), template_db=str(template),
                               release_dir=str(module.release.parent), overrides=overrides, draws=module.converted,
                               roster=roster, submitted=str(tmp / "submitted"))
            try:
                with warnings.catch_warnings():  # nbgrader's SQLAlchemy notices are not the learner's to read
                    warnings.simplefilter("ignore")
                    result = copy.grade(learner)
            finally:
                copy.close()
        out = CheckResult(module=module.id, learner=learner, state=result["state"], reason=result["reason"],
                          questions=_questions(module, result), attempt=len(before) + 1,
                          seconds=round(time.monotonic() - started, 2))
        if module.check_limit is not None:
            out.remaining = module.check_limit - out.attempt
        _record(root, out)
    return out


def _questions(module, result: dict) -> list[Question]:
    source = nbformat.read(module.source, as_version=4)
    tests = [(c.metadata["nbgrader"]["grade_id"], c.metadata.get("policylab", {}).get("title", ""))
             for c in source.cells if c.cell_type == "code" and c.metadata.get("nbgrader", {}).get("grade")
             and not c.metadata["nbgrader"].get("solution")]
    grades = {gid: g for nb in (result.get("notebooks") or {}).values() for gid, g in nb["grades"].items()}
    scored = result.get("ran") and result.get("notebooks") is not None and result["state"] not in states.ZEROED
    bank = {m.id: m for m in load_bank(module.misconceptions, lesson=module.lesson.name)}
    diagnoses = result.get("diagnoses") or {}
    out = []
    for gid, title in tests:
        grade = grades.get(gid)
        if not scored or grade is None:
            out.append(Question(gid, title, NOT_RUN, result.get("reason") or "채점기가 이 문제를 실행하지 못했습니다."))
        elif (grade["auto_score"] or 0) >= grade["max_score"]:
            out.append(Question(gid, title, RIGHT))
        elif diagnoses.get(gid) in bank:
            m = bank[diagnoses[gid]]
            out.append(Question(gid, title, NAMED, m.feedback(), m.id))
        else:
            out.append(Question(gid, title, UNEXPLAINED,
                                f"알려진 실수와 맞지 않습니다. 수업 노트북({module.lesson.name})에서 이 문제의 방법을 다시 확인하세요."))
    return out


def _record(root: Path, result: CheckResult) -> None:
    path = attempts_file(root, result.module, result.learner)
    path.parent.mkdir(parents=True, exist_ok=True)
    row = {"time": states.now_iso(), "module": result.module, "learner": result.learner, "state": result.state,
           "attempt": result.attempt, "seconds": result.seconds,
           "questions": {q.grade_id: {"verdict": q.verdict, "misconception": q.misconception} for q in result.questions}}
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(json.dumps(row, ensure_ascii=False) + "\n")


def as_text(result: CheckResult) -> str:
    """What the learner reads (Korean)."""
    head = f"{result.module} 제출 전 확인 (학습자 {result.learner}, {result.attempt}번째 확인"
    head += f", 남은 확인 {result.remaining}번)" if result.remaining is not None else ")"
    lines = [head + ":"]
    if result.state not in (states.GRADED, states.TAMPERED) and result.reason:
        lines.append(f"  상태: {states.LABELS_KO.get(result.state, result.state)} — {result.reason}")
    elif result.state == states.TAMPERED:
        lines.append(f"  알림: {result.reason} (원래 셀로 되돌려 확인했습니다. 제출 전에 고쳐 두세요.)")
    for q in result.questions:
        label = f"{q.grade_id}" + (f" {q.title}" if q.title else "")
        lines.append(f"  {label}: {VERDICTS_KO[q.verdict]}" + (f" — {q.text}" if q.text and q.verdict != NOT_RUN else ""))
    lines.append(f"  {len(result.questions)}문제 중 {result.right}문제를 맞았습니다. 이 확인은 성적에 기록되지 않으며, "
                 "제출은 평소처럼 하세요.")
    return "\n".join(lines)


def as_dict(result: CheckResult) -> dict:
    return asdict(result)
