"""Autograde a module's submissions in parallel: grading/submitted/ → gradebook + state records.

``grade_module`` is the one entry point (the ``policylab grade`` command wraps it):

1. skips every submission whose files and source notebook are unchanged since its last
   recorded grading (unless ``force``);
2. starts ``workers`` processes at once (their imports overlap the rest of this list) and
   copies the module's definition from the course gradebook into a template SQLite file;
3. each worker grades in its own working copy, with a private copy of that template
   (:mod:`policylab.grading.autograde`, :mod:`policylab.grading.workers`), through nbgrader's converter;
4. as each result arrives, this process alone writes it into the course gradebook (one
   transaction; the roster's learners are added in one session before the first),
   installs the autograded notebook and writes the state record (:mod:`policylab.grading.states`).

Why private gradebooks and one writer: SQLite tolerates one writer at a time, nbgrader
opens the gradebook a dozen times per notebook, and a worker killed mid-notebook must not
leave a half-written grade. Workers never open the course gradebook, so the same code works
with a PostgreSQL ``db_url``.

A kill at any point loses only the learners in flight: the next run finds their records
missing or stale and grades them again. Scores are those of stock ``nbgrader autograde``:
same converter, same configuration, same cell definitions.
"""
from __future__ import annotations

import fcntl
import os
import shutil
import threading
import time
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from policylab.course.modules import get_module
from policylab.course.nbconfig import load_config, make_api
from policylab.course.paths import find_root
from policylab.grading import states
from policylab.grading.autograde import socket_dir
from policylab.grading.gradebook import (
    GradebookError,
    add_learners,
    merge_result,
    open_gradebook,
    read_extension,
    write_template,
)
from policylab.grading.roster import load_roster
from policylab.grading.signatures import cache_path, signatures
from policylab.grading.states import StateRecord
from policylab.grading.submissions import (
    find_submissions,
    fingerprint_dir,
    fingerprint_files,
    submission_dir,
    submitted_at,
    submitted_dir,
)
from policylab.grading.workers import WorkerPool, pid_alive

__all__ = ["GradingError", "GradeReport", "grade_module", "read_scores", "find_submissions", "export_snapshot"]


class GradingError(RuntimeError):
    """Grading cannot start; the message names the file and the fix."""


@dataclass
class GradeReport:
    """What a grading run did, learner by learner."""

    module: str
    records: dict[str, StateRecord] = field(default_factory=dict)   # every selected learner with a submission
    regraded: list[str] = field(default_factory=list)                # graded in this run
    unchanged: list[str] = field(default_factory=list)               # skipped: nothing changed
    missing: list[str] = field(default_factory=list)                 # on the roster (or asked for), no submission
    seconds: float = 0.0
    workers: int = 0
    sandbox: bool = True                                             # False: graded with --no-sandbox
    diagnosis_error: str = ""                                        # why failed answers were not diagnosed

    @property
    def problems(self) -> dict[str, StateRecord]:
        return {k: r for k, r in self.records.items() if r.problem}

    def by_state(self) -> dict[str, list[str]]:
        groups: dict[str, list[str]] = {s: [] for s in states.STATES}
        for learner, record in sorted(self.records.items()):
            groups[record.state].append(learner)
        groups[states.MISSING] = sorted(self.missing)
        return {k: v for k, v in groups.items() if v}


Progress = Callable[[int, int, "StateRecord | None"], None]


def _work_root(root: Path) -> Path:
    return root / "grading" / ".work"


class _BatchLock:
    """One grading run per module at a time (a second run would race on the same records)."""

    def __init__(self, root: Path, module_id: str) -> None:
        _work_root(root).mkdir(parents=True, exist_ok=True)
        self.path = _work_root(root) / f"grade-{module_id}.lock"
        self.fh = None

    def __enter__(self):
        self.fh = open(self.path, "w")
        try:
            fcntl.flock(self.fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self.fh.close()
            raise GradingError(f"{self.path}: another `policylab grade` is grading this module right now; "
                               "wait for it to finish.") from None
        self.fh.write(str(os.getpid()))
        self.fh.flush()
        return self

    def __exit__(self, *exc) -> None:
        fcntl.flock(self.fh, fcntl.LOCK_UN)
        self.fh.close()


def default_workers() -> int:
    """One grading process more than the cores: a worker spends part of each notebook waiting (its kernel's
    start, the sandbox's setup and replies), which left a fifth of two cores idle; a third worker graded the
    demo's whole course in 191 s instead of 218 s on two cores."""
    return (os.cpu_count() or 1) + 1


@contextmanager
def shared_pool(root: Path, workers: int | None = None):
    """A WorkerPool to grade several modules with, one after another (``grade_module(..., pool=)``):
    the workers' start, imports and zygotes are paid once instead of once per module."""
    workdir = _work_root(Path(root)) / f"pool-{os.getpid()}-{time.monotonic_ns()}"
    workdir.mkdir(parents=True)
    try:
        with WorkerPool(max(1, workers or default_workers()), workdir=workdir) as pool:
            yield pool
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _remove_stale_workdirs(root: Path) -> None:
    """Working copies left by a killed run (named <module>-<pid>-<n>) whose process is gone."""
    for folder in _work_root(root).glob("*-*-*"):
        try:
            pid = int(folder.name.split("-")[-2])
        except ValueError:
            continue
        if folder.is_dir() and not pid_alive(pid):
            for worker in folder.glob("w*"):
                shutil.rmtree(socket_dir(worker), ignore_errors=True)
            shutil.rmtree(folder, ignore_errors=True)


def _register_module(config, module) -> None:
    """Put the module's definition into the gradebook (nbgrader generate_assignment), releasing to scratch."""
    import tempfile

    with tempfile.TemporaryDirectory(prefix="policylab-register-") as tmp:
        scratch = config.copy()
        scratch.CourseDirectory.release_directory = str(Path(tmp) / "exercises")
        result = make_api(scratch).generate_assignment(module.id, force=True, create=True)
    if not result["success"]:
        raise GradingError(f"{module.source}: could not register {module.id} in the gradebook:\n"
                           f"{result.get('error') or result.get('log')}")


def _release_notebooks(module) -> list[str]:
    """Names of the released notebooks (exercises/<module>/): what the learners received."""
    folder = module.release.parent
    names = sorted(p.stem for p in folder.glob("*.ipynb")) if folder.is_dir() else []
    if not names:
        raise GradingError(f"{folder}: released notebooks not found; run `policylab build`.")
    return names


def _install(src: str | None, dest: Path) -> None:
    """Replace ``dest`` with the worker's autograded folder (same filesystem: a rename)."""
    old = dest.with_name(f".{dest.name}.old-{os.getpid()}")
    if dest.exists():
        dest.rename(old)
    try:
        if src is not None:
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(src, dest)
    finally:
        shutil.rmtree(old, ignore_errors=True)


def grade_module(module_id: str, *, root: Path | None = None, learners: list[str] | None = None,
                 workers: int | None = None, force: bool = False, timeout: int | None = None,
                 overrides: dict | None = None, progress: Progress | None = None,
                 sandbox: bool = True, limits=None, diagnose: bool = True, pool: WorkerPool | None = None) -> GradeReport:
    """Autograde every (or the named) learner's submission of ``module_id`` in parallel.

    ``workers``: processes (default: one more than the cores, ``default_workers``). ``force``: regrade unchanged
    submissions too. ``timeout``: seconds per cell (default: nbgrader_config.py).
    ``sandbox``: run learner code in the grading sandbox (:mod:`policylab.grading.sandbox.configure`); raises
    ``SandboxUnavailable`` (why, and how to fix it) where it cannot start. ``False`` is for
    trusted learners only and is recorded in every state record it writes. ``limits``: the
    sandbox's per-kernel limits (``policylab.grading.sandbox.configure.Limits``; default: its defaults).
    ``diagnose``: name the misconception behind each failed answer (policylab.grading.diagnosis;
    the bank's values are computed once per module and data, while the workers start).
    ``overrides``: more nbgrader configuration, {Class: {trait: value}}. ``progress(done,
    total, record)`` is called once before grading (record None) and after each learner. ``pool``: grade with
    these worker processes (which then outlive the batch) instead of starting ``workers`` new ones.
    """
    started = time.monotonic()
    root = Path(root) if root else find_root()
    module = get_module(module_id, root)
    overrides, signature_data = grading_overrides(root, module, sandbox=sandbox, limits=limits, diagnose=diagnose,
                                                  timeout=timeout, extra=overrides)
    config = load_config(root, **overrides)
    (root / "grading").mkdir(exist_ok=True)
    report = GradeReport(module=module_id, sandbox=sandbox)

    with _BatchLock(root, module_id):
        _remove_stale_workdirs(root)
        roster = load_roster(root)
        sources = sorted((root / "solutions" / module_id).glob("*.ipynb"))
        source_fp = fingerprint_files(sources)
        wanted = list(learners) if learners else sorted(set(find_submissions(module_id, root=root))
                                                        | {r.learner_id for r in roster})
        jobs = []
        for learner in wanted:
            folder = submission_dir(root, learner, module_id)
            if not os.path.lexists(folder):  # a link in its place is graded: refused with a reason
                report.missing.append(learner)
                continue
            fp = fingerprint_dir(folder, below=submitted_dir(root))
            record = states.read_state(root, module_id, learner)
            if (not force and record is not None and record.fingerprint == fp
                    and record.source_fingerprint == source_fp and (record.sandbox or not sandbox)):
                report.records[learner] = record
                report.unchanged.append(learner)
                continue
            jobs.append((learner, {"learner": learner}, fp))

        total = len(jobs)
        if progress:
            progress(0, total, None)
        if jobs:
            report.workers = len(pool.workers) if pool else max(1, min(workers or default_workers(), total))
            _run(root, module, config, roster, jobs, source_fp, report, progress, overrides, signature_data, pool)
    report.seconds = time.monotonic() - started
    return report


def grading_overrides(root: Path, module, *, sandbox: bool = True, limits=None, diagnose: bool = True,
                      timeout: int | None = None, extra: dict | None = None) -> tuple[dict, Path | None]:
    """The nbgrader configuration a module is graded with (the sandbox, the checks, the diagnosis), and
    the datasets folder whose signatures a batch computes up front (None: per learner draw, or none).
    ``policylab check`` grades with exactly the same."""
    from policylab.grading.sandbox import configure as sandboxing

    overrides = sandboxing.config_overrides(root=root, sandbox=sandbox, limits=limits)
    for section, values in (extra or {}).items():
        overrides.setdefault(section, {}).update(values)
    signature_data = None
    if diagnose and module.misconceptions.is_file() and not module.converted:
        signature_data = Path(os.environ.get("POLICYLAB_DATASETS") or root / "datasets")
        overrides.setdefault("RunHiddenTests", {}).update(
            signatures_file=str(cache_path(module.id, root=root, datasets=signature_data)))
    if diagnose and module.misconceptions.is_file():
        # a converted module's signatures are computed per learner draw, by the worker that grades it
        overrides.setdefault("RunHiddenTests", {}).update(bank_file=str(module.misconceptions),
                                                          lesson=module.lesson.name,
                                                          per_draw=module.converted)
    if timeout is not None:
        overrides.setdefault("Execute", {})["timeout"] = int(timeout)
    return overrides, signature_data


def module_template(config, module, dest: Path) -> Path:
    """The template gradebook holding only ``module``'s definition (registered first if it is not yet)."""
    db_url, course_id = config.CourseDirectory.db_url, config.CourseDirectory.course_id
    try:
        return write_template(db_url, course_id, module.id, dest)
    except GradebookError:  # not registered yet (or no gradebook): nbgrader generate_assignment
        _register_module(config, module)
        return write_template(db_url, course_id, module.id, dest)


class _Book:
    """The course gradebook, opened at the first result: importing nbgrader (about 2 s) then
    overlaps the workers' first notebooks instead of delaying them. The roster is added in the
    same session, in one go."""

    def __init__(self, db_url: str, course_id: str, roster: list) -> None:
        self.db_url, self.course_id, self.roster = db_url, course_id, roster
        self.gb = None

    def open(self):
        if self.gb is None:
            if self.roster:
                add_learners(self.db_url, self.course_id, self.roster)
            self.gb = open_gradebook(self.db_url, self.course_id)
        return self.gb

    def close(self) -> None:
        if self.gb is not None:
            self.gb.close()


def _prepare_signatures(root: Path, module_id: str, datasets: Path, report: GradeReport) -> threading.Thread:
    """Compute (or find cached) the bank's signatures in a thread, while the workers start."""
    def work() -> None:
        try:
            signatures(module_id, root=root, datasets=datasets)
        except Exception as exc:  # noqa: BLE001 - grading goes on; the answers are not diagnosed
            report.diagnosis_error = f"{type(exc).__name__}: {exc}"[:300]

    thread = threading.Thread(target=work, name=f"signatures-{module_id}", daemon=True)
    thread.start()
    return thread


def _run(root, module, config, roster, jobs, source_fp, report, progress, overrides, signature_data=None,
         shared: WorkerPool | None = None) -> None:
    module_id = module.id
    db_url, course_id = config.CourseDirectory.db_url, config.CourseDirectory.course_id
    workdir = shared.workdir if shared else _work_root(root) / f"{module_id}-{os.getpid()}-{time.monotonic_ns()}"
    workdir.mkdir(parents=True, exist_ok=True)
    try:
        # the workers start importing nbgrader now, while this process prepares the batch
        with nullcontext(shared) if shared else WorkerPool(report.workers, workdir=workdir) as pool:
            preparing = _prepare_signatures(root, module_id, signature_data, report) if signature_data else None
            template = module_template(config, module, workdir / f"template-{module_id}.db")
            releases = _release_notebooks(module)
            setup = {"root": str(root), "module_id": module_id, "template_db": str(template),
                     "release_dir": str(module.release.parent), "overrides": overrides,
                     "draws": module.converted, "roster": [r.learner_id for r in roster],
                     "many_modules": shared is not None}
            for worker in pool.workers:
                worker.configure(setup)   # they build their working copies while we go on
            extensions = read_extension(db_url, course_id, module_id, [j[0] for j in jobs])
            for learner, kwargs, _ in jobs:
                if learner in extensions:
                    kwargs["extension_seconds"] = extensions[learner].total_seconds()
            fingerprints = {learner: fp for learner, _, fp in jobs}
            timeout = config.Execute.get("timeout", 30)
            book = _Book(db_url, course_id, roster)
            try:
                def on_result(learner: str, result: dict) -> None:
                    record = _record(root, module_id, learner, result, fingerprints[learner], source_fp,
                                     releases, timeout, report.sandbox)
                    if result.get("ran") or "crashed" in result or "error" in result:
                        merge_result(book.open(), module_id, learner, timestamp=result.get("timestamp"),
                                     notebooks=result.get("notebooks"))
                    _install(result.get("autograded"), root / "grading" / "autograded" / learner / module_id)
                    states.write_state(root, record)
                    report.records[learner] = record
                    report.regraded.append(learner)
                    if progress:
                        progress(len(report.regraded), len(jobs), record)

                pool.run([(learner, kwargs) for learner, kwargs, _ in jobs], setup=setup, on_result=on_result)
            finally:
                book.close()
                if preparing is not None:
                    preparing.join()
    finally:
        if not shared:
            shutil.rmtree(workdir, ignore_errors=True)


def _record(root, module_id, learner, result, fp, source_fp, notebooks, timeout, sandbox) -> StateRecord:
    folder = submission_dir(root, learner, module_id)
    base = dict(learner=learner, module=module_id, fingerprint=fp, source_fingerprint=source_fp,
                sandbox=result.get("sandbox", sandbox), ended=result.get("ended") or "",
                submitted_at=states.iso_kst(result.get("timestamp")) or submitted_at(folder, notebooks),
                graded_at=states.now_iso(), seconds=result.get("seconds", 0.0))
    if "crashed" in result:
        reason = (f"채점 작업 프로세스가 두 번 비정상 종료되었습니다 (종료 코드 {result['crashed']}; "
                  "메모리 부족일 수 있습니다). 0점으로 기록합니다.")
        return StateRecord(state=states.KERNEL_DIED, reason=reason, details=[reason], auto_score=0.0, **base)
    if "error" in result:
        reason = "채점 중 예기치 않은 오류가 났습니다: " + result["error"].strip().splitlines()[-1][:200]
        return StateRecord(state=states.UNREADABLE, reason=reason, details=[result["error"][-2000:]], **base)
    return StateRecord(state=result["state"], reason=result["reason"], details=result["details"],
                       diagnoses=result.get("diagnoses") or {},
                       auto_score=result.get("auto_score") if result.get("ran") else None,
                       auto_max=result.get("auto_max") if result.get("ran") else None, **base)


def read_scores(module_id: str, *, root: Path | None = None) -> dict[str, dict[str, tuple[float, float]]]:
    """{learner: {grade cell id: (score, max_score)}} for autograded cells, read from the gradebook."""
    root = Path(root) if root else find_root()
    config = load_config(root)
    db_url = config.CourseDirectory.db_url
    try:
        gb = open_gradebook(db_url, config.CourseDirectory.course_id)
    except GradebookError as exc:
        raise GradingError(str(exc)) from None
    scores: dict[str, dict[str, tuple[float, float]]] = {}
    with gb:
        assignment = gb.find_assignment(module_id)
        for submission in assignment.submissions:
            cells = scores.setdefault(submission.student.id, {})
            for nb in submission.notebooks:
                for grade in nb.grades:
                    if grade.auto_score is not None or grade.cell_type == "code":
                        cells[grade.name] = (grade.score, grade.max_score)
    return scores


def export_snapshot(*, root: Path | None = None, out_dir: Path | None = None) -> dict[str, Path]:
    """The reports' snapshot (docs/snapshot.md); implemented in :mod:`policylab.grading.export`."""
    from policylab.grading.export import export_snapshot as export

    return export(root=root, out_dir=out_dir)
