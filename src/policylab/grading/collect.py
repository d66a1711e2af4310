"""Take a folder or zip of submitted notebooks into grading/submitted/<learner>/<module>/.

Two layouts are recognised, and nothing is guessed:

* a tree ``<learner>/<module>/<files>`` (nbgrader's own layout, anywhere below the top);
* flat notebook files named ``<learner>_<module>[_anything].ipynb``, or named by your own
  regular expression (``pattern``) with the groups ``learner`` (or nbgrader's
  ``student_id``) and optionally ``module`` and ``timestamp``, as for nbgrader's
  zip_collect.

Every item is reported: collected, replaced (the earlier one is kept under
``grading/submitted/.history/``), unchanged, or refused because the learner is not on
the roster, the module is another one, the same learner appears twice in the batch,
the name matches no layout, an earlier, different submission exists and ``replace``
was not given, or the submission holds something unsafe (``unsafe``): a link or a
non-regular file (a folder's entries are lstat'ed, never followed; a zip entry's Unix mode
is read from ``external_attr``), or a zip path that is absolute or has ``..``. An unsafe
entry is never read or written; the rest of the batch is collected as usual.
Each collected folder gets a ``timestamp.txt`` (nbgrader reads it).
"""
from __future__ import annotations

import os
import re
import shutil
import stat
import tempfile
import zipfile
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path, PurePosixPath

from policylab.course.modules import get_module, load_modules
from policylab.course.paths import find_root
from policylab.grading import states, untrusted
from policylab.grading.roster import load_roster, roster_path
from policylab.grading.submissions import (
    LEARNER_ID,
    TIMESTAMP_FILE,
    fingerprint_dir,
    parse_timestamp,
    submission_dir,
    submitted_dir,
)

FLAT = re.compile(r"^(?P<learner>[A-Za-z0-9][A-Za-z0-9.-]*(?:_[A-Za-z0-9.-]+)*?)[_-](?P<module>m\d{2})"
                  r"(?:[_-](?P<rest>.*))?\.ipynb$")
MAX_FILE = 50 * 1024 * 1024
SKIP = re.compile(r"(^|/)(__MACOSX|\.ipynb_checkpoints|\.DS_Store|Thumbs\.db)(/|$)|(^|/)\.")

COLLECTED, REPLACED, UNCHANGED = "collected", "replaced", "unchanged"
EXISTS, UNKNOWN_LEARNER, WRONG_MODULE = "exists", "unknown-learner", "wrong-module"
DUPLICATE, UNRECOGNIZED, TOO_LARGE = "duplicate", "unrecognized", "too-large"
UNSAFE = "unsafe"                # a link, a FIFO/device, or a zip path that is absolute or climbs out with ..
OK_STATUSES = (COLLECTED, REPLACED, UNCHANGED)


class CollectError(RuntimeError):
    pass


@dataclass
class CollectItem:
    source: str                  # the file or folder in the batch
    status: str
    message: str = ""            # Korean, for anything not collected
    learner: str = ""
    module: str = ""
    dest: str = ""
    submitted_at: str = ""


@dataclass
class CollectReport:
    module: str
    items: list[CollectItem] = field(default_factory=list)

    @property
    def problems(self) -> list[CollectItem]:
        return [i for i in self.items if i.status not in OK_STATUSES]

    def by_status(self) -> dict[str, list[CollectItem]]:
        groups = defaultdict(list)
        for item in self.items:
            groups[item.status].append(item)
        return dict(groups)


@dataclass
class _Entry:
    path: str                    # posix path inside the batch
    read: callable
    mtime: datetime
    size: int
    refused: str = ""            # Korean: why this entry is never read or written (a link, a FIFO, an unsafe path)


def _zip_refusal(info: zipfile.ZipInfo) -> str:
    """Why a zip entry may not be extracted: its mode (external_attr's high bits, as unzip reads
    them) says link or special file, or its name would land outside the learner's folder."""
    name = info.filename
    if name.startswith("/") or re.match(r"^[A-Za-z]:", name):
        return f"절대 경로인 항목은 제출할 수 없습니다: {name}"
    if ".." in PurePosixPath(name).parts:
        return f"상위 폴더(..)를 가리키는 경로는 제출할 수 없습니다: {name}"
    if "\\" in name:
        return f"역슬래시(\\)가 든 경로는 제출할 수 없습니다: {name}"
    mode = info.external_attr >> 16
    if stat.S_IFMT(mode) and not info.is_dir():  # 0: written without a Unix mode (Windows tools): a file
        return untrusted.reason_for(name, mode) or ""
    return ""


def _entries(path: Path) -> list[_Entry]:
    if path.is_file() and zipfile.is_zipfile(path):
        archive = zipfile.ZipFile(path)
        entries = []
        for info in archive.infolist():
            refused = _zip_refusal(info)  # before SKIP: "../x" is hidden-looking, but an attack, not litter
            if (info.is_dir() or SKIP.search(info.filename)) and not refused:
                continue
            mtime = datetime(*info.date_time, tzinfo=states.KST)
            entries.append(_Entry(info.filename, (lambda i=info: archive.read(i)), mtime, info.file_size, refused))
        return entries
    if path.is_dir():
        # The batch folder itself is the trainer's (trusted); below it, nothing is followed: a link
        # or a FIFO is an entry that is refused (even where litter is skipped), and a file is read
        # with O_NOFOLLOW.
        entries = []
        for item in untrusted.walk(path, below=path):
            if stat.S_ISDIR(item.st.st_mode) or (SKIP.search(item.rel) and not item.refused):
                continue
            mtime = datetime.fromtimestamp(item.st.st_mtime, tz=timezone.utc)
            entries.append(_Entry(item.rel, _reader(path / item.rel), mtime, item.st.st_size, item.refused or ""))
        return entries
    raise CollectError(f"{path}: not a folder or a zip file")


def _reader(file: Path):
    return lambda: untrusted.read_bytes(file)


def _group(entries: list[_Entry], module_ids: set[str], pattern: re.Pattern | None):
    """[(source label, learner, module, {relative name: entry}, timestamp text)] and unrecognised entries."""
    groups, loose = {}, []
    for entry in entries:
        parts = PurePosixPath(entry.path).parts
        at = next((i for i, p in enumerate(parts[:-1]) if p in module_ids and i >= 1), None)
        if pattern is None and at is not None:
            learner, module = parts[at - 1], parts[at]
            key = ("/".join(parts[:at + 1]), learner, module)
            groups.setdefault(key, {"files": {}, "stamp": ""})["files"]["/".join(parts[at + 1:])] = entry
            continue
        regex = pattern or FLAT
        match = regex.match(parts[-1]) or (regex.match(entry.path) if pattern is not None else None)
        if match and parts[-1].endswith(".ipynb"):
            d = match.groupdict()
            learner = d.get("learner") or d.get("student_id") or ""
            module = d.get("module") or ""
            key = (entry.path, learner, module)
            groups[key] = {"files": {None: entry}, "stamp": d.get("timestamp") or ""}
            continue
        loose.append(entry)
    return groups, loose


def _parse_loose_timestamp(text: str) -> datetime | None:
    text = text.strip()
    m = re.fullmatch(r"(\d{4})-?(\d{2})-?(\d{2})[T_ -]?(\d{2})[-:]?(\d{2})(?:[-:]?(\d{2}))?", text)
    if m:
        y, mo, d, h, mi, s = (int(x) if x else 0 for x in m.groups())
        return datetime(y, mo, d, h, mi, s, tzinfo=states.KST)
    value = parse_timestamp(text)
    return value


def collect_submissions(path: Path, *, module_id: str, root: Path | None = None, replace: bool = False,
                        pattern: str | None = None) -> CollectReport:
    """Collect one module's submissions from ``path`` (a folder or a .zip); see the module docstring."""
    root = Path(root) if root else find_root()
    module = get_module(module_id, root)
    roster = load_roster(root)
    if not roster:
        raise CollectError(f"{roster_path(root)}: no roster. Copy grading/roster.example.csv to "
                           "grading/roster.csv and list your learners first.")
    known = {l.learner_id for l in roster}
    module_ids = {m.id for m in load_modules(root)}
    regex = re.compile(pattern) if pattern else None
    if regex is not None and not ({"learner", "student_id"} & set(regex.groupindex)):
        raise CollectError(f"pattern {pattern!r} needs a named group (?P<learner>...) or (?P<student_id>...)")
    groups, loose = _group(_entries(Path(path)), module_ids, regex)
    report = CollectReport(module=module_id)
    for entry in loose:
        report.items.append(CollectItem(entry.path, UNSAFE, entry.refused) if entry.refused else
                            CollectItem(entry.path, UNRECOGNIZED, "이름이 <학습자>_<모듈>.ipynb 형식도, "
                                        "<학습자>/<모듈>/ 폴더 형식도 아닙니다."))
    per_learner = defaultdict(list)
    for key in groups:
        per_learner[key[1]].append(key)
    for (source, learner, module_name), group in sorted(groups.items()):
        item = CollectItem(source, "", learner=learner, module=module_name or module_id)
        report.items.append(item)
        refused = [e.refused for e in group["files"].values() if e.refused]
        if refused:
            # The learner's whole submission is refused, not just the link, FIFO or unsafe path: a
            # notebook collected without the file it expects beside it would be graded as if
            # complete, and nothing half-collected should ever reach grading. The trainer sees
            # every refused file named here and asks the learner to send plain files again.
            item.status, item.message = UNSAFE, "; ".join(refused) + " (이 학습자의 제출물 전체를 받지 않았습니다.)"
        elif not LEARNER_ID.match(learner or ""):
            item.status, item.message = UNKNOWN_LEARNER, f"학습자 ID {learner!r}가 올바른 형식이 아닙니다."
        elif learner not in known:
            item.status, item.message = UNKNOWN_LEARNER, f"{learner}은(는) 명단(roster.csv)에 없습니다."
        elif module_name and module_name != module_id:
            item.status, item.message = WRONG_MODULE, f"{module_name} 제출물입니다 ({module_id}를 모으는 중)."
        elif len(per_learner[learner]) > 1:
            others = ", ".join(k[0] for k in per_learner[learner] if k[0] != source)
            item.status, item.message = DUPLICATE, f"같은 학습자의 제출물이 여러 개입니다 ({others}). 하나만 남기세요."
        elif any(e.size > MAX_FILE for e in group["files"].values()):
            item.status, item.message = TOO_LARGE, "50 MB보다 큰 파일이 있습니다."
        else:
            _store(root, module, item, group, replace)
    return report


def _store(root: Path, module, item: CollectItem, group: dict, replace: bool) -> None:
    files = {(name if name is not None else f"{module.id}.ipynb"): entry for name, entry in group["files"].items()}
    stamp = None
    if TIMESTAMP_FILE in files:
        stamp = parse_timestamp(files.pop(TIMESTAMP_FILE).read().decode("utf-8", "replace"))
    if stamp is None and group["stamp"]:
        stamp = _parse_loose_timestamp(group["stamp"])
    if stamp is None:
        stamp = max(e.mtime for e in files.values())
    item.submitted_at = states.iso_kst(stamp)
    dest = submission_dir(root, item.learner, module.id)
    item.dest = str(dest)
    base = submitted_dir(root)
    base.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=base, prefix=".incoming-"))
    try:
        for name, entry in files.items():
            target = staging / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(entry.read())
        if dest.is_dir():
            if fingerprint_dir(dest, exclude=(TIMESTAMP_FILE,)) == fingerprint_dir(staging):
                item.status = UNCHANGED
                return
            if not replace:
                item.status = EXISTS
                item.message = ("이미 다른 내용의 제출물이 있습니다. 새 것으로 바꾸려면 --replace를 쓰세요 "
                                "(이전 것은 grading/submitted/.history/에 보관됩니다).")
                return
        (staging / TIMESTAMP_FILE).write_text(item.submitted_at + "\n", encoding="utf-8")
        if dest.is_dir():
            keep = base / ".history" / item.learner / module.id / datetime.now(states.KST).strftime("%Y%m%dT%H%M%S%f")
            keep.parent.mkdir(parents=True, exist_ok=True)
            os.replace(dest, keep)
            item.status = REPLACED
        else:
            dest.parent.mkdir(parents=True, exist_ok=True)
            item.status = COLLECTED
        os.replace(staging, dest)
    finally:
        shutil.rmtree(staging, ignore_errors=True)

