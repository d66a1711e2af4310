"""Simulated learners: realistic submissions of any ready module, deterministic from a seed.

For the demo, the tests and the benchmark. A submission is built from what a learner
actually has, the released notebook, with answers taken from the module's own
material: the solution cells of the source notebook (complete), some of them (partial),
answers from the misconception bank (misconception), none (blank), complete but after
the due date (late), and the broken kinds a real cohort produces:

=====================  ======================================================  ==============
kind                   what the learner did                                    expected state
=====================  ======================================================  ==============
invalid-json           the file was cut off mid-upload                         unreadable
infinite-loop          ``while True: pass`` in an answer                       timed_out
ignores-interrupt      the same loop after ``signal(SIGINT, SIG_IGN)``         timed_out
kernel-exit            ``os._exit(1)`` in an answer                            kernel_died
edited-test-cell       a failing test cell replaced by ``pass``                tampered
deleted-test-cell      a failing test cell deleted                             tampered
duplicated-cell        a test cell copied and pasted (JupyterLab keeps its     tampered
                       nbgrader metadata)
=====================  ======================================================  ==============

The two loop kinds each cost one cell timeout (``Execute.timeout``) when graded.
Learner ids are ``sim-001`` …; the simulator never touches another learner's files.
"""
from __future__ import annotations

import copy
import random
import shutil
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path

import nbformat
import yaml

from policylab.course.modules import Module, get_module, load_modules
from policylab.course.paths import find_root
from policylab.grading import states
from policylab.grading.roster import Learner, load_roster, roster_path, write_roster
from policylab.grading.submissions import TIMESTAMP_FILE, submission_dir

PREFIX = "sim-"
GOOD_KINDS = ("complete", "partial", "misconception", "blank", "late")
BROKEN_KINDS = ("invalid-json", "infinite-loop", "ignores-interrupt", "kernel-exit",
                "edited-test-cell", "deleted-test-cell", "duplicated-cell")
SLOW_KINDS = ("infinite-loop", "ignores-interrupt")
FAST_BROKEN_KINDS = tuple(k for k in BROKEN_KINDS if k not in SLOW_KINDS)
EXPECTED_STATE = {
    **{k: states.GRADED for k in GOOD_KINDS},
    "invalid-json": states.UNREADABLE, "infinite-loop": states.TIMED_OUT,
    "ignores-interrupt": states.TIMED_OUT, "kernel-exit": states.KERNEL_DIED,
    "edited-test-cell": states.TAMPERED, "deleted-test-cell": states.TAMPERED,
    "duplicated-cell": states.TAMPERED,
}
# How often each well-formed kind occurs among the learners who submit.
WEIGHTS = {"complete": 0.35, "partial": 0.22, "misconception": 0.28, "blank": 0.05, "late": 0.10}

DEPARTMENTS = ("주차사업처", "체육사업처", "시설관리처", "기획조정실", "경영지원실", "고객홍보실")
COHORTS = ("2025-1기", "2025-2기")
SURNAMES = "김이박최정강조윤장임한오서신권황안송류홍"
GIVEN = "민서지현준우예은도윤하진수영태호성아연희재원동혁다빈유나"
WRITTEN = (
    "공단의 공영주차장은 대부분 유료이며, 요금 수준은 주차장마다 차이가 큽니다. "
    "요금을 바꾸기 전에 이용 자료로 효과를 확인해야 합니다.",
    "유료 주차장이 주차면의 대부분을 차지하므로 요금 개편의 영향을 받는 시민이 많습니다. "
    "다만 이 자료만으로는 원인을 말하기 어렵고 추가 분석이 필요합니다.",
    "기본요금 중앙값을 보면 시민 부담은 크지 않아 보입니다. 비싼 도심 주차장은 따로 살펴보겠습니다.",
)
LOOP = "while True:  # 반복을 멈추는 조건을 빠뜨렸습니다\n    pass\n"
STUBBORN_LOOP = ("import signal\n\nsignal.signal(signal.SIGINT, signal.SIG_IGN)  # 중단 요청을 무시합니다\n"
                 "while True:\n    pass\n")
KERNEL_EXIT = "import os\n\nos._exit(1)  # 파이썬을 강제로 끝냅니다\n"


class CohortError(RuntimeError):
    pass


@dataclass(frozen=True)
class SimulatedSubmission:
    learner: str
    module: str
    kind: str
    submitted_at: str            # ISO 8601, KST
    detail: str = ""             # which cells the kind touched (misconceptions applied …)

    @property
    def expected_state(self) -> str:
        return EXPECTED_STATE[self.kind]


@dataclass
class Cohort:
    roster: list[Learner]
    submissions: list[SimulatedSubmission] = field(default_factory=list)

    def expected_states(self) -> dict[tuple[str, str], str]:
        return {(s.learner, s.module): s.expected_state for s in self.submissions}

    def kinds(self) -> dict[tuple[str, str], str]:
        return {(s.learner, s.module): s.kind for s in self.submissions}


# ----------------------------------------------------------------------------- notebooks
def _meta(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {})


def _strip_markers(source: str) -> str:
    lines = [l for l in source.split("\n") if "BEGIN SOLUTION" not in l and "END SOLUTION" not in l]
    return "\n".join(lines).strip("\n")


class ModuleMaterial:
    """What the simulator builds submissions from: the release, the solutions, the bank."""

    def __init__(self, module: Module) -> None:
        self.module = module
        if not module.release.is_file():
            raise CohortError(f"{module.release}: released notebook missing; run `policylab build`.")
        self.release = nbformat.read(module.release, as_version=4)
        source = nbformat.read(module.source, as_version=4)
        self.answers: dict[str, str] = {}
        self.written: list[str] = []
        for cell in source.cells:
            meta = _meta(cell)
            if meta.get("solution") and meta.get("grade_id"):
                if cell.cell_type == "code":
                    self.answers[meta["grade_id"]] = _strip_markers(cell.source)
                else:
                    self.written.append(meta["grade_id"])
        self.bank = []
        if module.misconceptions.is_file():
            self.bank = yaml.safe_load(module.misconceptions.read_text(encoding="utf-8")) or []
        # (answer cell, the first test cell after it) in notebook order
        self.questions: list[tuple[str, str]] = []
        answer = None
        for cell in self.release.cells:
            meta = _meta(cell)
            if meta.get("grade_id") in self.answers:
                answer = meta["grade_id"]
            elif meta.get("grade") and meta.get("locked") and cell.cell_type == "code" and answer:
                self.questions.append((answer, meta["grade_id"]))
                answer = None
        if not self.questions:
            raise CohortError(f"{module.source}: no answer cell followed by an autograded test cell")

    def notebook(self, answers: dict[str, str], written: str | None) -> nbformat.NotebookNode:
        nb = copy.deepcopy(self.release)
        for cell in nb.cells:
            grade_id = _meta(cell).get("grade_id")
            if grade_id in answers:
                cell.source = answers[grade_id]
            elif written is not None and grade_id in self.written:
                cell.source = written
        return nb


def _cell(nb, grade_id: str):
    return next(c for c in nb.cells if _meta(c).get("grade_id") == grade_id)


def build_notebook(material: ModuleMaterial, kind: str, rng: random.Random) -> tuple[str, str]:
    """(notebook file text, detail) for one simulated learner of one module."""
    answers = dict(material.answers)
    written = rng.choice(WRITTEN)
    detail = ""
    if kind == "blank":
        answers, written = {}, None
    elif kind == "partial":
        ids = list(material.answers)
        keep = set(rng.sample(ids, rng.randint(1, max(1, len(ids) - 1))))
        answers = {k: v for k, v in answers.items() if k in keep}
        written = written if rng.random() < 0.5 else None
        detail = "답한 문항: " + ", ".join(sorted(keep))
    elif kind == "misconception" and material.bank:
        chosen, cells, wanted = [], set(), rng.randint(1, 2)
        for entry in rng.sample(material.bank, len(material.bank)):
            if entry["cell"] not in cells and entry["cell"] in answers:
                chosen.append(entry)
                cells.add(entry["cell"])
            if len(chosen) == wanted:
                break
        for entry in chosen:
            answers[entry["cell"]] = entry["code"].rstrip("\n")
        detail = "오개념: " + ", ".join(e["id"] for e in chosen)
    first_answer, first_test = material.questions[0] if material.questions else (None, None)
    if kind == "infinite-loop":
        answers[first_answer] = LOOP + answers[first_answer]
        detail = first_answer
    elif kind == "ignores-interrupt":
        answers[first_answer] = STUBBORN_LOOP + answers[first_answer]
        detail = first_answer
    elif kind == "kernel-exit":
        middle = material.questions[len(material.questions) // 2][0]
        answers[middle] = KERNEL_EXIT + answers[middle]
        detail = middle
    elif kind in ("edited-test-cell", "deleted-test-cell"):
        answers.pop(first_answer, None)   # the learner could not answer, so they went after the test
        detail = first_test
    nb = material.notebook(answers, written)
    if kind == "edited-test-cell":
        _cell(nb, first_test).source = "# 테스트가 자꾸 실패해서 지웠습니다\npass"
    elif kind == "deleted-test-cell":
        nb.cells.remove(_cell(nb, first_test))
    elif kind == "duplicated-cell":
        original = _cell(nb, first_test)
        duplicate = copy.deepcopy(original)
        duplicate["id"] = (str(original.get("id") or "cell") + "-copy")[:64]
        nb.cells.insert(nb.cells.index(original) + 1, duplicate)
        detail = first_test
    text = nbformat.writes(nb)
    if kind == "invalid-json":
        text = text[: int(len(text) * 0.6)]
        detail = "파일이 중간에 잘림"
    return text, detail


# ----------------------------------------------------------------------------- the cohort
def _name(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + rng.choice(GIVEN) + rng.choice(GIVEN)


def simulated_roster(n: int, *, seed: int = 0, start: date = date(2025, 3, 3)) -> list[Learner]:
    rng = random.Random(f"roster:{seed}")
    roster = []
    for i in range(1, n + 1):
        cohort = COHORTS[0] if i <= (n + 1) // 2 else COHORTS[1]
        begin = start if cohort == COHORTS[0] else start + timedelta(weeks=1)
        roster.append(Learner(learner_id=f"{PREFIX}{i:03d}", department=rng.choice(DEPARTMENTS),
                              cohort=cohort, start_date=begin.isoformat(), name=_name(rng)))
    return roster


def due_date(learner: Learner, module_index: int) -> datetime:
    """Each module is due a week after the previous one, Friday 18:00 KST."""
    begin = date.fromisoformat(learner.start_date)
    return datetime.combine(begin + timedelta(weeks=module_index, days=4), time(18, 0), tzinfo=states.KST)


def _allocate(learners: list[Learner], rng: random.Random, broken: tuple[str, ...],
              module_index: int) -> dict[str, str | None]:
    """learner → kind (None: did not submit). Each broken kind goes to one learner."""
    ids = [l.learner_id for l in learners]
    order = rng.sample(ids, len(ids))
    kinds: dict[str, str | None] = {}
    for learner, kind in zip(order, broken):
        kinds[learner] = kind
    submit_rate = max(0.5, 0.95 - 0.08 * module_index)
    names, weights = zip(*WEIGHTS.items())
    for learner in order[len(broken):]:
        kinds[learner] = rng.choices(names, weights)[0] if rng.random() < submit_rate else None
    return kinds


def _forget(root: Path, module_id: str, learner: str, *, withdrawn: bool = False) -> None:
    """Remove what grading recorded for a simulated learner's module.

    A changed submission keeps its gradebook entry (grading overwrites it); a withdrawn one
    loses it too, so that nothing reports a score for a submission that no longer exists.
    """
    states.remove_state(root, module_id, learner)
    for folder in ("autograded", "feedback"):
        shutil.rmtree(root / "grading" / folder / learner / module_id, ignore_errors=True)
    if withdrawn:
        from policylab.course.nbconfig import load_config
        from policylab.grading.gradebook import remove_submission

        config = load_config(root)
        remove_submission(config.CourseDirectory.db_url, config.CourseDirectory.course_id, module_id, learner)


def _remove(folder: Path) -> None:
    """Remove a learner's module folder, and the learner's folder once it is empty."""
    shutil.rmtree(folder)
    if not any(folder.parent.iterdir()):
        folder.parent.rmdir()


def _write_submission(folder: Path, notebook_name: str, text: str, stamp: str) -> bool:
    """Write (only if different); returns whether anything changed."""
    target = folder / f"{notebook_name}.ipynb"
    stamp_file = folder / TIMESTAMP_FILE
    if (target.is_file() and target.read_text(encoding="utf-8") == text and stamp_file.is_file()
            and stamp_file.read_text(encoding="utf-8").strip() == stamp):
        return False
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    target.write_text(text, encoding="utf-8")
    stamp_file.write_text(stamp + "\n", encoding="utf-8")
    return True


def simulate_cohort(module_ids: list[str] | None = None, *, root: Path | None = None, learners: int = 30,
                    seed: int = 0, broken: tuple[str, ...] = BROKEN_KINDS, start: date = date(2025, 3, 3),
                    replace: bool = False) -> Cohort:
    """Write grading/roster.csv and grading/submitted/sim-NNN/<module>/ for ``learners`` learners.

    ``module_ids``: default every ready module. ``broken``: the broken kinds to include, each
    once per module (``FAST_BROKEN_KINDS`` skips the two that cost a timeout). Refuses to
    overwrite a roster with real learners unless ``replace``. Deterministic: the same
    arguments write the same bytes, and unchanged submissions are left untouched (so a
    rerun of ``policylab grade`` has nothing to do).
    """
    root = Path(root) if root else find_root()
    modules = [get_module(m, root) for m in module_ids] if module_ids else load_modules(root, ready_only=True)
    unknown = set(broken) - set(BROKEN_KINDS)
    if unknown:
        raise CohortError(f"unknown broken kind(s) {sorted(unknown)}; known: {BROKEN_KINDS}")
    existing = load_roster(root)
    real = [l.learner_id for l in existing if not l.learner_id.startswith(PREFIX)]
    if real and not replace:
        raise CohortError(f"{roster_path(root)} lists real learners ({', '.join(real[:3])} …); the simulator "
                          "will not overwrite it. Use another course directory, or replace=True.")
    roster = simulated_roster(learners, seed=seed, start=start)
    write_roster(root, roster)
    cohort = Cohort(roster=roster)
    order = [m.id for m in load_modules(root)]
    keep = {l.learner_id for l in roster}
    for module in modules:
        material = ModuleMaterial(module)
        rng = random.Random(f"{seed}:{module.id}")
        index = order.index(module.id)
        kinds = _allocate(roster, rng, tuple(broken), index)
        for learner in roster:
            folder = submission_dir(root, learner.learner_id, module.id)
            kind = kinds[learner.learner_id]
            if kind is None:
                if folder.exists():
                    _remove(folder)
                    _forget(root, module.id, learner.learner_id, withdrawn=True)
                continue
            due = due_date(learner, index)
            when = (due + timedelta(hours=rng.randint(20, 96)) if kind == "late"
                    else due - timedelta(hours=rng.randint(2, 140), minutes=rng.randint(0, 59)))
            stamp = when.isoformat(timespec="seconds")
            text, detail = build_notebook(material, kind, rng)
            if _write_submission(folder, module.id, text, stamp):
                _forget(root, module.id, learner.learner_id)
            cohort.submissions.append(SimulatedSubmission(learner.learner_id, module.id, kind, stamp, detail))
        # simulated learners from an earlier, larger run
        base = root / "grading" / "submitted"
        for stale in sorted(base.glob(f"{PREFIX}*/{module.id}")):
            if stale.parent.name not in keep:
                _remove(stale)
                _forget(root, module.id, stale.parent.name, withdrawn=True)
    return cohort


# ----------------------------------------------------------------------------- the trainer
# What a trainer gives a written answer in formgrader, by what the simulated learner did.
TRAINER_MARKS = {
    "complete": (1.0, "근거와 한계를 함께 적어 주셔서 좋습니다. 다음에는 수치를 하나 더 인용해 보십시오."),
    "late": (1.0, "내용은 충실합니다. 다음 모듈은 기한 안에 제출해 주십시오."),
    "partial": (0.5, "방향은 맞습니다. 자료의 한계와 추가로 확인할 점을 함께 적어 주십시오."),
    "misconception": (0.5, "결론 일부가 분석 결과와 맞지 않습니다. 강의의 '흔한 실수' 절을 다시 보십시오."),
    "blank": (0.0, "답이 비어 있습니다. 다음 제출에서는 꼭 작성해 주십시오."),
}


def simulate_trainer_grades(cohort: Cohort, module_id: str, *, root: Path | None = None) -> int:
    """Score and comment every written answer of the simulated submissions, as a trainer would
    in formgrader, so the demo's feedback and reports show trainers' comments. Demo only.
    Returns the number of answers graded."""
    from nbgrader.api import MissingEntry

    from policylab.course.nbconfig import load_config
    from policylab.grading.gradebook import open_gradebook

    config = load_config(Path(root) if root else find_root())
    graded = 0
    with open_gradebook(config.CourseDirectory.db_url, config.CourseDirectory.course_id) as gb:
        for sub in cohort.submissions:
            if sub.module != module_id or sub.kind not in TRAINER_MARKS:
                continue
            try:
                submission = gb.find_submission(module_id, sub.learner)
            except MissingEntry:
                continue
            share, comment = TRAINER_MARKS[sub.kind]
            for notebook in submission.notebooks:
                comments = {c.name: c for c in notebook.comments}
                for grade in notebook.grades:
                    if grade.cell_type != "markdown" or not grade.needs_manual_grade:
                        continue
                    if not grade.max_score:  # the question's 0-point task cell: marked seen
                        grade.manual_score = 0.0
                        continue
                    grade.manual_score = round(grade.max_score * share * 2) / 2  # half points, as trainers give
                    if grade.name in comments:
                        comments[grade.name].manual_comment = comment
                    graded += 1
        gb.db.commit()
    return graded
