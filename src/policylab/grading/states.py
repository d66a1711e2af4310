"""What happened to each submission: one small JSON record per learner and module.

nbgrader records a crashed or unreadable submission as an ordinary 0 and restores
tampered test cells without a trace (DESIGN.md §8), so the grading pipeline keeps its
own record beside the gradebook: ``grading/states/<module>/<learner>.json``. Each file
is written atomically (temporary file, then rename) after the gradebook commit, so a
kill mid-batch leaves either the old record or the new one, never half of one; a
record that is missing or older than the submission simply means "grade again".

Reports and the export read these records through :func:`read_states`.
"""
from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

from policylab import snapshot

GRADED = "graded"
TIMED_OUT = "timed_out"
KERNEL_DIED = "kernel_died"
UNREADABLE = "unreadable"
TAMPERED = "tampered"
LIMIT_EXCEEDED = "limit_exceeded"   # the sandbox ended it: memory, CPU, processes, file size, disk or output
MISSING = "missing"

STATES = snapshot.STATES  # the reports read these names from the same contract
assert STATES == (GRADED, TIMED_OUT, KERNEL_DIED, LIMIT_EXCEEDED, UNREADABLE, TAMPERED, MISSING)
# States whose submission went through nbgrader and has scores in the gradebook.
SCORED = (GRADED, TIMED_OUT, KERNEL_DIED, LIMIT_EXCEEDED, TAMPERED)
# States whose submission never counts as a pass: every autograded point is 0.
ZEROED = (KERNEL_DIED, LIMIT_EXCEEDED)
# States a trainer should look at; `policylab grade` exits non-zero when any occurs.
PROBLEMS = (TIMED_OUT, KERNEL_DIED, LIMIT_EXCEEDED, UNREADABLE, TAMPERED)

LABELS_KO = {
    GRADED: "채점 완료",
    TIMED_OUT: "시간 초과",
    KERNEL_DIED: "커널 중단",
    LIMIT_EXCEEDED: "자원 한도 초과",
    UNREADABLE: "읽을 수 없음",
    TAMPERED: "시험 셀 변경",
    MISSING: "미제출",
}

RECORD_VERSION = 1


@dataclass
class StateRecord:
    """The outcome of grading one learner's submission of one module."""

    learner: str
    module: str
    state: str
    reason: str = ""                      # Korean, one line; empty for graded
    submitted_at: str = ""                # ISO 8601 (timestamp.txt, else file time)
    graded_at: str = ""                   # ISO 8601
    auto_score: float | None = None       # autograded points as nbgrader scored them
    auto_max: float | None = None
    details: list[str] = field(default_factory=list)   # every finding, Korean
    fingerprint: str = ""                 # sha256 of the submitted folder
    source_fingerprint: str = ""          # sha256 of the module's source notebook(s)
    seconds: float = 0.0                  # wall time in the worker
    sandbox: bool = True                  # False: graded with --no-sandbox (learner code ran unconfined)
    ended: str = ""                       # how the kernel ended (policylab.grading.sandbox.configure.ENDINGS key), if recorded
    # failed autograded questions: test cell grade_id → the misconception named, or None if no known one matched
    diagnoses: dict = field(default_factory=dict)
    version: int = RECORD_VERSION

    def __post_init__(self) -> None:
        if self.state not in STATES:
            raise ValueError(f"unknown state {self.state!r}; expected one of {STATES}")

    @property
    def label(self) -> str:
        return LABELS_KO[self.state]

    @property
    def problem(self) -> bool:
        return self.state in PROBLEMS


# Korea has no daylight saving time: a fixed offset needs no tz database.
KST = timezone(timedelta(hours=9), "KST")


def iso_kst(value: datetime | None) -> str:
    """ISO 8601 in Korean time; naive datetimes are taken as UTC (nbgrader stores UTC)."""
    if value is None:
        return ""
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(KST).isoformat(timespec="seconds")


def now_iso() -> str:
    return iso_kst(datetime.now(timezone.utc))


def states_dir(root: Path, module_id: str | None = None) -> Path:
    base = Path(root) / "grading" / "states"
    return base / module_id if module_id else base


def record_path(root: Path, module_id: str, learner: str) -> Path:
    return states_dir(root, module_id) / f"{learner}.json"


def write_state(root: Path, record: StateRecord) -> Path:
    """Write one record atomically: a reader sees the old file or the new one."""
    path = record_path(root, record.module, record.learner)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{record.learner}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(asdict(record), fh, ensure_ascii=False, indent=1, sort_keys=True)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def read_state(root: Path, module_id: str, learner: str) -> StateRecord | None:
    path = record_path(root, module_id, learner)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, ValueError):
        return None
    known = StateRecord.__dataclass_fields__
    return StateRecord(**{k: v for k, v in data.items() if k in known})


def read_states(root: Path, module_id: str | None = None) -> dict[tuple[str, str], StateRecord]:
    """{(learner, module): record} for one module or every module."""
    base = states_dir(root)
    if not base.is_dir():
        return {}
    folders = [base / module_id] if module_id else sorted(p for p in base.iterdir() if p.is_dir())
    records = {}
    for folder in folders:
        for path in sorted(folder.glob("*.json")):
            record = read_state(root, folder.name, path.stem)
            if record is not None:
                records[(record.learner, record.module)] = record
    return records


def remove_state(root: Path, module_id: str, learner: str) -> None:
    record_path(root, module_id, learner).unlink(missing_ok=True)
