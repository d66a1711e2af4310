"""Autograde one submission in a private working copy, through nbgrader's own converter.

A :class:`WorkingCopy` is one worker's course directory: the module's source folder, a
private SQLite gradebook holding only the module's definition, and scratch ``submitted``
and ``autograded`` folders. Grading a learner copies their submission in (the original
is only ever read), runs nbgrader's ``Autograde`` converter on it with the course's
configuration (per-cell timeout, ``add_missing_cells``), and returns plain data: the
recorded state, the reason, and the scores nbgrader saved, for the parent process to
write into the course gradebook.

States, in order of precedence: ``unreadable`` (a link or a non-regular file in the submission,
refused before anything is copied or run; not a notebook: checked before nbgrader runs; or nbgrader failed on it twice, for a reason other than those below), ``kernel_died`` (nbclient's DeadKernelError: scores cleared, never a pass),
``limit_exceeded`` (the sandbox ended it at a memory, CPU, process, file-size, disk or output
limit: scored 0), ``timed_out`` (a cell hit the timeout: either interrupted and graded as
nbgrader grades it, or unresponsive to interrupts and scored 0), ``tampered`` (a read-only cell differs
from the release: graded with nbgrader's restored cells), ``graded``.

Two settings differ from nbgrader's defaults, neither of which changes a score: kernels
talk over Unix sockets instead of TCP ports (parallel workers would race for ports), and a
kernel is stopped at once when its notebook has run instead of being asked to exit.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import nbformat

from policylab.course.nbconfig import load_config
from policylab.data.draws import DrawError
from policylab.grading import hidden_tests, states, untrusted
from policylab.grading.gradebook import extract_result
from policylab.grading.submissions import (
    TIMESTAMP_FILE,
    Unreadable,
    drop_duplicate_ids,
    find_tampering,
    locked_cells,
    parse_timestamp,
    read_notebook,
    submitted_dir,
)

TIMEOUT_ERRORS = ("CellTimeoutError", "UnresponsiveKernelError", "TimeoutError")
DEAD_KERNEL_ERRORS = ("DeadKernelError",)
_ENV = ("POLICYLAB_ROOT", "POLICYLAB_DATASETS", "NBGRADER_EXECUTION")  # what a working copy sets in its process


def socket_dir(workdir: Path | str) -> Path:
    """Where a worker's kernels put their Unix sockets: short (the limit is 107 bytes) and
    derived from the worker's folder, so the parent can remove it even after a kill."""
    digest = hashlib.sha1(str(workdir).encode()).hexdigest()[:12]
    return Path(tempfile.gettempdir()) / f"policylab-grade-ipc-{digest}"


def _autograde_class():
    """nbgrader's Autograde converter, remembering the exception that stopped a notebook.

    nbgrader logs the exception and moves on; the state depends on its type, so keep it.
    """
    from nbgrader.converters import Autograde

    class RecordingAutograde(Autograde):
        failure: BaseException | None = None

        def convert_single_notebook(self, notebook_filename: str) -> None:
            try:
                super().convert_single_notebook(notebook_filename)
            except Exception as exc:
                self.failure = exc
                raise

    return RecordingAutograde


def preload() -> None:
    """Import what grading needs (nbgrader, nbconvert, jupyter_client) ahead of the first job."""
    import nbgrader.api  # noqa: F401
    import nbgrader.apps  # noqa: F401
    import nbgrader.converters  # noqa: F401
    import nbgrader.preprocessors  # noqa: F401


def _cell_name(cell, index: int) -> str:
    grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
    return grade_id or f"{index + 1}번째 셀"


def find_timeouts(nb: nbformat.NotebookNode) -> list[str]:
    """Cells of an autograded notebook that nbgrader interrupted at the timeout."""
    return [_cell_name(cell, i) for i, cell in enumerate(nb.cells)
            if any(out.get("output_type") == "error" and out.get("ename") == "CellTimeoutError"
                   for out in cell.get("outputs", []))]


class WorkingCopy:
    """One worker's private course directory for one module."""

    def __init__(self, *, root: str, module_id: str, workdir: str, template_db: str, release_dir: str,
                 overrides: dict | None = None, draws: bool = False, roster: list[str] | None = None,
                 submitted: str | None = None, many_modules: bool = False) -> None:
        from policylab.grading.gradebook import ensure_tools_on_path

        self.many_modules = many_modules  # in a pool that grades module after module: one zygote for all

        self.root = Path(root)
        self.module_id = module_id
        self.draws = draws  # a converted module: each learner is graded on their own draw
        self.roster = set(roster or ())
        # where submissions are read from (<learner>/<module>/): the course's grading/submitted, or the
        # scratch folder `policylab check` copies a learner's notebook into
        self.submitted = Path(submitted) if submitted else submitted_dir(self.root)
        self.shared_data = os.environ.get("POLICYLAB_DATASETS") or str(self.root / "datasets")
        releases = self._releases = {p.stem: nbformat.read(p, as_version=4) for p in sorted(Path(release_dir).glob("*.ipynb"))}
        self.notebooks = sorted(releases)
        self.locked = {name: locked_cells(nb) for name, nb in releases.items()}
        self.course = Path(workdir) / "course"
        if self.course.exists():
            shutil.rmtree(self.course)
        (self.course / "submitted").mkdir(parents=True)
        (self.course / "autograded").mkdir()
        shutil.copytree(self.root / "solutions" / module_id, self.course / "solutions" / module_id)
        self.db = self.course / "gradebook.db"
        shutil.copyfile(template_db, self.db)
        ensure_tools_on_path()
        # what this process had before: close() puts it back (a check runs in its caller's process), and
        # so does a failure below
        self._saved_env = {k: os.environ.get(k) for k in _ENV}
        self._saved_keep_cells = hidden_tests.KEEP_SOURCE_CELLS
        try:
            self._set_up(overrides, workdir)
        except BaseException:
            self._give_back()
            raise

    def _set_up(self, overrides: dict | None, workdir: str) -> None:
        from nbgrader.apps import NbGraderAPI
        from nbgrader.coursedir import CourseDirectory

        # Notebooks find this course's datasets through policylab.course.paths from any folder.
        os.environ["POLICYLAB_ROOT"] = str(self.root)
        # The hidden checks run in this process (policylab.grading.hidden_tests) with the working copy as
        # the course root, which has no datasets/: point them at the course's own.
        os.environ.setdefault("POLICYLAB_DATASETS", str(self.root / "datasets"))
        os.environ["NBGRADER_EXECUTION"] = "autograde"
        overrides = dict(overrides or {})
        course_dir = dict(overrides.pop("CourseDirectory", {}))
        course_dir.update(root=str(self.course), source_directory="solutions",
                          submitted_directory="submitted", autograded_directory="autograded",
                          feedback_directory="feedback", db_url=f"sqlite:///{self.db}")
        self.config = load_config(self.root, CourseDirectory=course_dir, **overrides)
        self.config.CourseDirectory.root = str(self.course)
        if "transport" not in self.config.KernelManager:
            # Unix sockets (in this worker's socket_dir) instead of TCP ports: kernels
            # started at the same moment by parallel workers cannot pick the same port (upstream
            # #174's zmq binding errors), and nothing listens on the network.
            self.sockets = socket_dir(workdir)
            self.sockets.mkdir(mode=0o700, exist_ok=True)
            self.config.KernelManager.transport = "ipc"
            self.config.KernelManager.ip = str(self.sockets / "k")
        if "shutdown_kernel" not in self.config.Execute:
            # The notebook has run and every output is in: stop the kernel at once instead of
            # asking it to exit (nbclient's "graceful" costs about 0.2 s of CPU per notebook).
            self.config.Execute.shutdown_kernel = "immediate"
        # SandboxExecute (policylab.grading.sandbox.configure.config_overrides) runs kernels in bubblewrap unless told not to
        self.sandboxed = "SandboxExecute" in self.config and bool(self.config.SandboxExecute.get("sandbox", True))
        if self.sandboxed and self.config.SandboxExecute.get("kernel_name"):
            from policylab.grading.sandbox.execute import start_zygote

            start_zygote(self.config.SandboxKernelManager.get("kernel_dirs", []), self.config.SandboxExecute.kernel_name,
                         None if self.many_modules else
                         [c.source for nb in self._releases.values() for c in nb.cells if c.cell_type == "code"])
        self.coursedir = CourseDirectory(config=self.config)
        self.api = NbGraderAPI(coursedir=self.coursedir, config=self.config)
        self.autograde_class = _autograde_class()
        # the checker (policylab.grading.checks) serves every learner of this batch: started now,
        # its imports overlap the first kernel instead of waiting for the first test cell
        from policylab.grading.checks import Checker

        Checker.shared(datasets=os.environ["POLICYLAB_DATASETS"])
        # and the diagnosis's trusted kernel (our solution code only) is reset, not restarted, between draws
        from policylab.grading.trial_kernel import keep_kernels

        keep_kernels(True)
        # the private gradebook's source cells are fixed for the batch: read once, not three times a notebook
        hidden_tests.KEEP_SOURCE_CELLS = True

    def close(self, *, keep_helpers: bool = False) -> None:
        """Remove the socket folder (the working copy itself is the parent's to remove), give the process
        back the environment and caches it had before this copy, and stop the kept helpers: the checker and
        the diagnosis's trusted kernel. ``keep_helpers``: the next module's copy in this worker takes them
        over (a pool that grades module after module): both are told each job's course and draw, so they
        serve any module, and their imports are paid once per worker."""
        from policylab.grading.checks import Checker
        from policylab.grading.trial_kernel import keep_kernels

        if not keep_helpers:
            keep_kernels(False)
            Checker.close_shared()
        if getattr(self, "sockets", None) is not None:
            shutil.rmtree(self.sockets, ignore_errors=True)
        self._give_back()

    def _give_back(self) -> None:
        for key, value in self._saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        hidden_tests.KEEP_SOURCE_CELLS = self._saved_keep_cells
        hidden_tests._SOURCE_CELLS.clear()

    def autograded_dir(self, learner: str) -> Path:
        return self.course / "autograded" / learner / self.module_id

    def grade(self, learner: str, *, extension_seconds: float | None = None) -> dict:
        """Grade one learner's submission; never raises for anything the submission does."""
        started = time.monotonic()
        result = self._grade(learner, extension_seconds)
        if result["ran"] and (result["state"] == states.UNREADABLE or result.get("ended") == "sandbox_error"):
            # nbgrader stopped for a reason that is neither the learner's kernel dying nor a
            # timeout (a kernel that failed to start on a loaded machine, say): try once more
            result = self._grade(learner, extension_seconds)
            result["details"].append("채점기 오류로 한 번 다시 채점했습니다.")
        result["seconds"] = round(time.monotonic() - started, 3)
        result["learner"] = learner
        return result

    def _grade(self, learner: str, extension_seconds: float | None) -> dict:
        from nbgrader.utils import capture_log

        original = self.submitted / learner / self.module_id
        work = self.course / "submitted" / learner / self.module_id
        if work.parent.exists():
            shutil.rmtree(work.parent)
        shutil.rmtree(self.autograded_dir(learner).parent, ignore_errors=True)
        try:
            # nbgrader reads the copy; the original is never handed to it. A link or a FIFO in the
            # submission (a link to solutions/ would hand the kernel the answers) is refused, not followed.
            untrusted.copy_tree(original, work, below=self.submitted)
        except untrusted.Refused as exc:
            return {"state": states.UNREADABLE, "reason": str(exc), "details": exc.reasons, "ran": False}
        try:
            data = self._learner_data(learner)
        except DrawError as exc:  # never graded against another draw, nor silently the shared data
            return {"state": states.UNREADABLE, "reason": str(exc), "details": [str(exc)], "ran": False}
        # the sandbox launcher mounts this folder as the kernel's datasets; the checker and the
        # diagnosis read it too (policylab.data.draws.exercise_data finds it there)
        os.environ["POLICYLAB_DATASETS"] = data

        notes, tampering = [], []
        stamp = work / TIMESTAMP_FILE
        if stamp.is_file() and parse_timestamp(stamp.read_text(encoding="utf-8", errors="replace")) is None:
            # nbgrader would stop on it (dateutil's ValueError); grade without a time instead
            stamp.unlink()
            notes.append("제출 시각 파일(timestamp.txt)을 읽을 수 없어 시각 없이 채점했습니다.")
        present = [name for name in self.notebooks if (work / f"{name}.ipynb").exists()]
        try:
            if not present:
                read_notebook(work / f"{self.notebooks[0]}.ipynb")  # raises with the reason
            for name in present:
                nb = read_notebook(work / f"{name}.ipynb")
                prefix = f"{name}: " if len(self.notebooks) > 1 else ""
                tampering += [prefix + f for f in find_tampering(nb, self.locked.get(name, {}))]
                if drop_duplicate_ids(nb):
                    nbformat.write(nb, work / f"{name}.ipynb")  # the worker's copy, not the submission
        except Unreadable as exc:
            return {"state": states.UNREADABLE, "reason": str(exc), "details": [str(exc)], "ran": False}

        if extension_seconds:
            with self._gradebook() as gb:
                gb.update_or_create_student(learner)
                gb.update_or_create_submission(self.module_id, learner,
                                               extension=timedelta(seconds=extension_seconds))
        self.coursedir.assignment_id = self.module_id
        self.coursedir.student_id = learner
        app = self.autograde_class(coursedir=self.coursedir, parent=self.api)
        app.force = True
        app.create_student = True
        outcome = capture_log(app)
        failure = app.failure

        saved = extract_result(self.db, self.module_id, learner)

        state, reason = self._classify(outcome, failure, tampering, learner)
        details = ([] if state in (states.GRADED, states.TAMPERED) else [reason]) + tampering + notes
        auto_score = auto_max = 0.0
        for nb in saved["notebooks"].values():
            for grade in nb["grades"].values():
                if grade["cell_type"] == "code":
                    auto_score += grade["auto_score"] or 0.0
                    auto_max += grade["max_score"]
        out = self.autograded_dir(learner)
        diagnoses = _diagnoses(out, self.notebooks) if outcome["success"] else {}
        return {
            "diagnoses": diagnoses,
            "state": state, "reason": reason, "details": details, "ran": True,
            "sandbox": self.sandboxed, "ended": getattr(failure, "ended", None) or self._ended(learner),
            "timestamp": saved["timestamp"], "notebooks": saved["notebooks"] if outcome["success"] else None,
            "auto_score": auto_score if outcome["success"] else 0.0, "auto_max": auto_max,
            "autograded": str(out) if outcome["success"] and out.is_dir() else None,
            "log": outcome.get("log", "")[-4000:] if not outcome["success"] else "",
        }

    def _learner_data(self, learner: str) -> str:
        """The datasets folder this learner's notebook is graded on: their draw, or the shared data."""
        if not self.draws:
            return self.shared_data
        from policylab.data.draws import load_variant_key
        from policylab.data.synth.draws.build import build_draw, check_key

        if self.roster and learner not in self.roster:
            raise DrawError(f"학습자 {learner}는 명단(grading/roster.csv)에 없어 개인별 자료를 정할 수 없으므로 "
                            "채점하지 않았습니다. 명단에 추가한 뒤 다시 채점하세요.")
        key, _ = load_variant_key()
        check_key(self.root, key)
        try:
            return str(build_draw(self.module_id, learner, key=key, root=self.root))
        except DrawError:
            raise
        except Exception as exc:  # noqa: BLE001 - a draw that cannot be built is recorded, never guessed
            raise DrawError(f"학습자 {learner}의 {self.module_id} 개인별 자료를 만들 수 없어 채점하지 않았습니다 "
                            f"({type(exc).__name__}: {str(exc)[:200]}). 강사가 `policylab variants build "
                            f"--learner {learner} --module {self.module_id}`로 원인을 확인하세요.") from exc

    def _ended(self, learner: str) -> str:
        """How the kernel of a notebook that ran to its end ended, from the sandbox's record."""
        record_dir = self.config.SandboxExecute.get("record_dir") if "SandboxExecute" in self.config else None
        if not record_dir:
            return ""
        from policylab.grading.sandbox.configure import read_outcomes

        endings = [o.get("ended", "") for o in read_outcomes(self.module_id, learner, record_dir=record_dir)]
        return next((e for e in endings if e != "completed"), endings[0] if endings else "")

    def _gradebook(self):
        from nbgrader.api import Gradebook

        return Gradebook(f"sqlite:///{self.db}", self.config.CourseDirectory.course_id)

    def _classify(self, outcome: dict, failure: BaseException | None, tampering: list[str],
                  learner: str) -> tuple[str, str]:
        timeout = self.config.Execute.get("timeout", 30)
        if not outcome["success"]:
            ended = getattr(failure, "ended", None)  # policylab.grading.sandbox.execute.SubmissionEnded
            if ended:
                return _ended_state(ended, getattr(failure, "detail", ""), timeout)
            name = type(failure).__name__ if failure is not None else ""
            if name in DEAD_KERNEL_ERRORS:  # the same endings without the sandbox (--no-sandbox, stock Execute)
                return _ended_state("kernel_died", "", timeout)
            if name in TIMEOUT_ERRORS:
                return _ended_state("timeout", "", timeout)
            if failure is not None:
                first = (str(failure).strip().splitlines() or [""])[0][:200]
                return states.UNREADABLE, f"채점기가 이 노트북을 처리하지 못했습니다: {name}: {first}"
            return states.UNREADABLE, "채점기가 이 제출을 처리하지 못했습니다: " + _last_error(outcome)
        timed_out = []
        for name in self.notebooks:
            path = self.autograded_dir(learner) / f"{name}.ipynb"
            if path.is_file():
                timed_out += find_timeouts(nbformat.read(path, as_version=4))
        if timed_out:
            return states.TIMED_OUT, (f"{', '.join(timed_out)}: {timeout}초 제한을 넘겨 중단했습니다 "
                                      "(무한 반복?). 나머지는 그대로 채점했습니다.")
        if tampering:
            return states.TAMPERED, tampering[0] + (f" 외 {len(tampering) - 1}건" if len(tampering) > 1 else "")
        return states.GRADED, ""


def _diagnoses(folder: Path, notebooks: list[str]) -> dict:
    """{test cell grade_id: misconception id or None} as RunHiddenTests recorded them in the autograded notebooks."""
    found = {}
    for name in notebooks:
        path = folder / f"{name}.ipynb"
        if path.is_file():
            for cell in nbformat.read(path, as_version=4).cells:
                diagnosis = cell.get("metadata", {}).get("policylab", {}).get("diagnosis")
                grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
                if isinstance(diagnosis, dict) and grade_id:
                    found[grade_id] = diagnosis.get("misconception")
    return found


def _ended_state(ended: str, detail: str, timeout: int) -> tuple[str, str]:
    """The state and Korean reason of a submission whose execution ended early
    (a key of policylab.grading.sandbox.configure.ENDINGS)."""
    from policylab.grading.sandbox.configure import ENDINGS, LIMIT_ENDINGS

    if ended in LIMIT_ENDINGS:
        return states.LIMIT_EXCEEDED, (f"{ENDINGS[ended]} ({detail}). 0점으로 기록합니다." if detail
                                       else f"{ENDINGS[ended]}. 0점으로 기록합니다.")
    if ended == "timeout":
        return states.TIMED_OUT, (f"코드가 {timeout}초 제한을 넘겼고 중단 요청에도 멈추지 않았습니다 "
                                  "(무한 반복?). 0점으로 기록합니다.")
    if ended == "sandbox_error":
        return states.KERNEL_DIED, (f"{ENDINGS[ended]} ({detail}). 제출물 문제가 아닐 수 있으니 "
                                    "강사가 확인한 뒤 다시 채점합니다.")
    return states.KERNEL_DIED, ("실행 중 커널(파이썬 프로세스)이 종료되었습니다 "
                                "(예: os._exit(), 메모리 부족). 0점으로 기록합니다.")


def _last_error(outcome: dict) -> str:
    lines = [line for line in (outcome.get("log") or "").splitlines() if line.startswith("[ERROR]")]
    meaningful = [line for line in lines if "Please see" not in line and "There was an error" not in line]
    return ((meaningful or lines or ["알 수 없는 오류"])[-1]).removeprefix("[ERROR] ")[:200]
