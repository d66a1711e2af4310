"""`policylab demo`: the whole cycle on simulated learners, as one function the CLI wraps.

build what is missing → release → simulate a cohort → autograde every ready module (in the
sandbox when this machine has one) → a simulated trainer's written-answer marks → feedback →
every report. It prints its progress through ``echo`` so the CLI decides where text goes.
"""
from __future__ import annotations

import os
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from policylab.course.build import build_exercises
from policylab.course.modules import load_modules
from policylab.course.paths import find_root
from policylab.demo.cohort import (
    FAST_BROKEN_KINDS,
    simulate_cohort,
    simulate_trainer_grades,
)
from policylab.grading import states
from policylab.grading.batch import grade_module, shared_pool
from policylab.grading.feedback import write_feedback
from policylab.grading.sandbox.configure import SandboxUnavailable, check_available
from policylab.pipeline import render_from_gradebook
from policylab.reports.render import ReportSummary


@dataclass
class DemoResult:
    root: Path
    summary: ReportSummary
    unexpected: list[str] = field(default_factory=list)  # simulated submissions whose state was not the planned one


def _print(message: str, *, err: bool = False) -> None:
    print(message, file=sys.stderr if err else sys.stdout)


def _no_bar(desc: str):
    return None, lambda: None


def _grade_one(module, *, root: Path, pool, sandbox: bool, cohort, workers, echo, grading_bar) -> list[str]:
    """Grade one module with the shared pool, mark its written answers, write its feedback; the
    submissions whose state was not the one the cohort planned."""
    progress, close_bar = grading_bar(f"[4/6] {module.id} 자동채점")
    try:
        report = grade_module(module.id, root=root, progress=progress, sandbox=sandbox, pool=pool)
    finally:
        close_bar()
    counts = {states.LABELS_KO[s]: len(v) for s, v in report.by_state().items()}
    echo(f"      {module.id}: " + ", ".join(f"{k} {n}명" for k, n in counts.items())
         + f" ({report.seconds:.0f}초)")
    expected = {k[0]: v for k, v in cohort.expected_states().items() if k[1] == module.id}
    unexpected = [f"{module.id} {l}: expected {expected[l]}, got {r.state}"
                  for l, r in report.records.items() if l in expected and r.state != expected[l]]

    marked = simulate_trainer_grades(cohort, module.id, root=root)
    if marked:
        echo(f"      {module.id}: 강사(가상)가 서술형 답안 {marked}건을 채점하고 의견을 남겼습니다.")
    return unexpected


def _feedback_written(fb, echo) -> None:
    echo(f"[5/6] {fb.module} 피드백 {len(fb.written) - len(fb.withheld)}명: "
         f"grading/feedback/<학습자>/{fb.module}/"
         + (f" (보류 {len(fb.withheld)}명)" if fb.withheld else ""))


def run_demo(*, root: str | os.PathLike | None = None, learners: int = 30, workers: int | None = None,
             echo: Callable[..., None] = _print, grading_bar: Callable = _no_bar) -> DemoResult:
    """Run the cycle; ``grading_bar(desc)`` returns (progress callback, close) for each module's grading."""
    root = Path(root).resolve() if root else find_root()
    modules = load_modules(root, ready_only=True)
    echo(f"PolicyLab 시연: 가상 학습자 {learners}명으로 준비된 모듈 {len(modules)}개"
         f"({', '.join(m.id for m in modules)})의 제출 → 자동채점 → 피드백 → 보고서를 실행합니다.")
    datasets = root / "datasets"
    if not (datasets / "MANIFEST.json").is_file():
        from policylab.data.publish import build_datasets

        echo(f"[1/6] 데이터: {datasets} 생성 중 …")
        build_datasets(root=root)
    else:
        echo("[1/6] 데이터: datasets/ 있음")
    missing = [m.id for m in modules if not m.release.is_file()]
    if missing:
        for path in build_exercises(root=root, modules=missing):
            echo(f"[2/6] 연습문제 생성: {path.relative_to(root)}")
    else:
        echo("[2/6] 연습문제: exercises/ 있음 (다시 만들려면 policylab build)")

    # The two kinds that loop forever each cost a full cell timeout; the demo leaves them out.
    cohort = simulate_cohort(root=root, learners=learners, broken=FAST_BROKEN_KINDS)
    echo(f"[3/6] 가상 학습자 {len(cohort.roster)}명, 제출물 {len(cohort.submissions)}건: grading/submitted/")

    try:
        check_available()
        use_sandbox = True
    except SandboxUnavailable as exc:
        # simulated learners are trusted code: the demo may grade without the sandbox, and says so
        echo(f"알림: {exc}\n      시연의 제출물은 가상 학습자의 것이므로 채점 샌드박스 없이 채점합니다 "
             "(실제 학습자의 제출물은 policylab grade가 샌드박스 없이는 채점하지 않습니다).", err=True)
        use_sandbox = False
    unexpected = []
    # one set of grading processes for every module; a module's feedback pages are written (in
    # processes of their own) while the next module is graded, on the cores grading leaves idle
    writing = None
    with ThreadPoolExecutor(1) as background:
        with shared_pool(root, workers) as pool:
            for module in modules:
                unexpected += _grade_one(module, root=root, pool=pool, sandbox=use_sandbox, cohort=cohort,
                                         workers=workers, echo=echo, grading_bar=grading_bar)
                if writing is not None:
                    _feedback_written(writing.result(), echo)
                writing = background.submit(write_feedback, module.id, root=root, workers=workers)
        # the reports read the gradebook, not the feedback pages: the last module's pages are written meanwhile
        echo("[6/6] 보고서")
        summary = render_from_gradebook(root=root, workers=workers)
        if writing is not None:
            _feedback_written(writing.result(), echo)
    return DemoResult(root, summary, unexpected)
