"""Submitted notebooks as the grading pipeline sees them, before nbgrader does.

Finding them, fingerprinting them (to regrade only what changed), reading them (to
tell an unreadable file from a zero, with the reason in Korean) and comparing their
locked cells with the released notebook (nbgrader logs "checksum changed" for every
test cell that holds hidden tests, so tampering is detected here, against what the
learner actually received).

Nothing here imports nbgrader, and nothing here writes to a submission.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import stat
from collections import defaultdict
from datetime import datetime, timezone
from pathlib import Path

from policylab.grading import untrusted
from policylab.grading.states import iso_kst

TIMESTAMP_FILE = "timestamp.txt"
LEARNER_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


def submitted_dir(root: Path) -> Path:
    return Path(root) / "grading" / "submitted"


def submission_dir(root: Path, learner: str, module_id: str) -> Path:
    return submitted_dir(root) / learner / module_id


def find_submissions(module_id: str, *, root: Path) -> list[str]:
    """Learner ids with a submitted folder for the module.

    A link in a folder's place is listed too: grading refuses it with a recorded reason
    instead of skipping it in silence."""
    base = submitted_dir(root)
    if not base.is_dir():
        return []
    return sorted(p.name for p in base.iterdir()
                  if (p.is_dir() or p.is_symlink()) and not p.name.startswith(".")
                  and os.path.lexists(p / module_id))


def _entries(folder: Path, below: Path | None) -> list[tuple[str, bytes]]:
    """(relative path, what identifies it) for every entry but folders, without following a link:
    a regular file's sha256, a link's own target text, a FIFO's or device's kind."""
    out = []
    try:
        for item in untrusted.walk(folder, below=below):
            if stat.S_ISDIR(item.st.st_mode):
                continue
            if stat.S_ISREG(item.st.st_mode):
                try:
                    ident = hashlib.sha256(item.read()).digest()
                except untrusted.Refused as exc:  # swapped for a link or a FIFO since the walk
                    ident = b"refused\0" + exc.reasons[0].encode()
            elif stat.S_ISLNK(item.st.st_mode):
                ident = b"link\0" + item.link.encode()
            else:
                ident = b"kind\0" + stat.filemode(item.st.st_mode)[:1].encode()  # p, s, c or b
            out.append((item.rel, ident))
    except untrusted.Refused as exc:  # the folder itself (or the learner's folder) is a link
        out.append(("", b"refused\0" + exc.reasons[0].encode()))
    return out


def fingerprint_dir(folder: Path, *, exclude: tuple[str, ...] = (), below: Path | None = None) -> str:
    """sha256 over every entry's relative path and content: equal iff the folder's content is.

    Links and non-regular files count by what they are (a link by its target text), never by
    what they point to: nothing is read through a link. ``below``: see :func:`untrusted.walk`.
    """
    digest = hashlib.sha256()
    for rel, ident in _entries(folder, below):
        if rel in exclude:
            continue
        digest.update(rel.encode() + b"\0")
        digest.update(ident)
    return digest.hexdigest()


def fingerprint_files(paths: list[Path]) -> str:
    digest = hashlib.sha256()
    for path in sorted(paths):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def checksums(folder: Path) -> dict[str, str]:
    """{relative path: sha256} of every regular file under ``folder`` (the untouched-submission
    check); a link is listed as ``link:<its target>``, a FIFO or device by its kind, unread."""
    if not Path(folder).is_dir():
        return {}
    return {rel: ident.replace(b"\0", b":", 1).decode(errors="replace") if ident[:5] in (b"link\0", b"kind\0")
            else ident.hex() for rel, ident in _entries(folder, None)}


def parse_timestamp(text: str) -> datetime | None:
    """A timestamp as nbgrader writes or reads it; aware, in UTC."""
    from dateutil.parser import parse

    text = text.strip()
    if not text:
        return None
    try:
        value = parse(text)
    except (ValueError, OverflowError):
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc)


def submitted_at(folder: Path, notebooks: list[str] = ()) -> str:
    """ISO 8601 time of submission: timestamp.txt if present, else the notebook's file time.

    Neither is read through a link: a linked timestamp.txt or notebook counts as absent."""
    try:
        value = parse_timestamp(untrusted.read_bytes(folder / TIMESTAMP_FILE).decode("utf-8", "replace"))
    except (OSError, untrusted.Refused):
        value = None
    if value is not None:
        return iso_kst(value)
    candidates = [folder / f"{name}.ipynb" for name in notebooks] or list(folder.glob("*.ipynb"))
    times = []
    for path in candidates:
        try:
            st = os.lstat(path)
        except OSError:
            continue
        if stat.S_ISREG(st.st_mode):
            times.append(st.st_mtime)
    if not times:
        return ""
    return iso_kst(datetime.fromtimestamp(max(times), tz=timezone.utc))


class Unreadable(ValueError):
    """The file is not a notebook nbgrader can grade; the message says why, in Korean."""


def read_notebook(path: Path):
    """Read a submitted notebook, or raise :class:`Unreadable` with a one-line Korean reason."""
    if not path.is_file():
        others = sorted(p.name for p in path.parent.iterdir() if p.is_file()) if path.parent.is_dir() else []
        listed = ", ".join(others[:5]) or "없음"
        raise Unreadable(f"{path.name} 파일이 없습니다 (제출된 파일: {listed}).")
    try:
        raw = untrusted.read_bytes(path)
    except untrusted.Refused as exc:
        raise Unreadable(str(exc)) from None
    if not raw.strip():
        raise Unreadable(f"{path.name} 파일이 비어 있습니다.")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise Unreadable(f"{path.name}은(는) UTF-8 텍스트가 아닙니다 (노트북 파일이 아닌 것 같습니다).") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise Unreadable(f"{path.name}이(가) 올바른 JSON이 아닙니다 ({exc.lineno}번째 줄 {exc.colno}번째 글자: "
                         f"{exc.msg}). 파일이 잘렸거나 다른 프로그램으로 편집된 것 같습니다.") from None
    if not isinstance(data, dict) or "cells" not in data and "worksheets" not in data:
        raise Unreadable(f"{path.name}은(는) JSON이지만 주피터 노트북 형식이 아닙니다 (cells 항목이 없습니다).")
    if not isinstance(data.get("nbformat"), int):
        raise Unreadable(f"{path.name}에 노트북 형식 버전(nbformat)이 없습니다.")
    import nbformat  # slow to import (jsonschema): only where a notebook is read

    try:
        return nbformat.reads(text, as_version=4)
    except Exception as exc:  # nbformat raises a zoo of exception types for malformed notebooks
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise Unreadable(f"{path.name}을(를) 노트북으로 읽을 수 없습니다: {first[:200]}") from None


def _nbgrader(cell) -> dict:
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return meta if isinstance(meta, dict) else {}


def _normalized(source) -> str:
    if isinstance(source, list):
        source = "".join(source)
    lines = [line.rstrip() for line in str(source).replace("\r\n", "\n").split("\n")]
    return "\n".join(lines).strip("\n")


def locked_cells(release) -> dict[str, dict]:
    """{grade_id: {source, cell_type, points}} of the released notebook's read-only cells."""
    cells = {}
    for cell in release.cells:
        meta = _nbgrader(cell)
        if meta.get("locked") and meta.get("grade_id"):
            cells[meta["grade_id"]] = {"source": _normalized(cell.source), "cell_type": cell.cell_type,
                                       "points": meta.get("points")}
    return cells


def find_tampering(nb, locked: dict[str, dict]) -> list[str]:
    """Every way the submission's read-only cells differ from the release, in Korean.

    An edited, deleted, duplicated or unlocked read-only cell, or changed points. nbgrader
    restores these cells from the gradebook when it grades; this list is what it does not say.
    """
    seen = defaultdict(list)
    for cell in nb.cells:
        grade_id = _nbgrader(cell).get("grade_id")
        if grade_id in locked:
            seen[grade_id].append(cell)
    findings = []
    for grade_id, want in locked.items():
        got = seen.get(grade_id, [])
        if not got:
            findings.append(f"읽기 전용 셀 {grade_id}이(가) 삭제되었습니다 (원본에서 복원해 채점).")
            continue
        if len(got) > 1:
            findings.append(f"읽기 전용 셀 {grade_id}이(가) {len(got)}번 들어 있습니다 (하나만 채점).")
        for cell in got:
            meta = _nbgrader(cell)
            if _normalized(cell.source) != want["source"]:
                findings.append(f"읽기 전용 셀 {grade_id}의 내용이 바뀌었습니다 (원본으로 되돌려 채점).")
            if not meta.get("locked"):
                findings.append(f"읽기 전용 셀 {grade_id}의 잠금이 풀렸습니다.")
            if cell.cell_type != want["cell_type"]:
                findings.append(f"읽기 전용 셀 {grade_id}의 종류가 {cell.cell_type}(으)로 바뀌었습니다.")
            if want["points"] is not None and meta.get("points") != want["points"]:
                findings.append(f"읽기 전용 셀 {grade_id}의 배점이 {meta.get('points')}(으)로 바뀌었습니다.")
    return list(dict.fromkeys(findings))


def drop_duplicate_ids(nb) -> list[str]:
    """Keep nbgrader metadata only on the last cell of each grade_id; returns the duplicated ids.

    That is what nbgrader's DeduplicateIds means to do, but it leaves an empty ``nbgrader``
    dict behind, on which 0.9.6's ``add_missing_cells`` crashes (KeyError 'grade_id'): one
    copy-pasted cell would fail the whole submission. Applied to the worker's copy only.
    """
    seen, duplicated = set(), []
    for cell in reversed(nb.cells):
        grade_id = _nbgrader(cell).get("grade_id")
        if grade_id is None:
            continue
        if grade_id in seen:
            del cell.metadata["nbgrader"]
            duplicated.append(grade_id)
        seen.add(grade_id)
    return sorted(set(duplicated))
