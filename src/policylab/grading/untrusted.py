"""Reading a submission's files without ever following a link: the one place that decides.

A submission is untrusted data (DESIGN.md §5). A symbolic link in it may point anywhere on
the grader's disk (the module's source notebook, the gradebook), and a FIFO, socket or device
blocks or misleads whoever opens it. So nothing here follows a link or opens anything but a
regular file: folders are walked with ``os.scandir`` on a directory descriptor and ``lstat``
(``follow_symlinks=False``), every folder and file is opened relative to its parent's
descriptor with ``O_NOFOLLOW`` and checked again with ``fstat``. A path component swapped for
a link between the walk and the read is therefore refused, never followed.

Everything refused gets a Korean reason that names it (``Refused.reasons``); the callers
record it (collect's summary, the ``unreadable`` grading state). Standard library only.
"""
from __future__ import annotations

import errno
import os
import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
# O_NONBLOCK: opening a FIFO put in place of a file after the walk returns at once (then fstat refuses it)
_FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
KINDS = {stat.S_IFIFO: "FIFO", stat.S_IFSOCK: "소켓", stat.S_IFCHR: "장치 파일", stat.S_IFBLK: "장치 파일"}


def link_reason(rel: str) -> str:
    return f"링크 파일은 제출할 수 없습니다: {rel}"


def special_reason(rel: str, mode: int) -> str:
    return f"일반 파일이 아닌 항목은 제출할 수 없습니다: {rel} ({KINDS.get(stat.S_IFMT(mode), '알 수 없는 종류')})"


def reason_for(rel: str, mode: int) -> str | None:
    """Why an item of this (lstat) mode may not be submitted; None for a regular file or a folder."""
    if stat.S_ISLNK(mode):
        return link_reason(rel)
    if stat.S_ISREG(mode) or stat.S_ISDIR(mode):
        return None
    return special_reason(rel, mode)


class Refused(ValueError):
    """Links or non-regular files in a submission; ``reasons`` (Korean) name each one."""

    def __init__(self, reasons: list[str]) -> None:
        self.reasons = list(reasons)
        super().__init__(summary(self.reasons))


def summary(reasons: list[str]) -> str:
    """One line for a state record: the first reason, and how many more there are."""
    return reasons[0] + (f" 외 {len(reasons) - 1}건" if len(reasons) > 1 else "")


@dataclass
class Item:
    """One entry below the walked folder, as lstat saw it."""

    rel: str                         # posix path relative to the walked folder
    st: os.stat_result               # lstat: the entry itself, never a link's target
    read: Callable[[], bytes]        # regular files only: the bytes, opened with O_NOFOLLOW
    link: str = ""                   # links only: where the link points (read from the link itself)

    @property
    def refused(self) -> str | None:
        return reason_for(self.rel, self.st.st_mode)


def _open_dir(name: str, dir_fd: int | None, rel: str) -> int:
    try:
        return os.open(name, _DIR_FLAGS, dir_fd=dir_fd)
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENOTDIR):  # a link, or something put in the folder's place
            mode = os.lstat(name, dir_fd=dir_fd).st_mode
            raise Refused([reason_for(rel, mode) or f"폴더가 아닙니다: {rel}"]) from None
        raise


def _read_at(name: str, dir_fd: int, rel: str) -> bytes:
    try:
        fd = os.open(name, _FILE_FLAGS, dir_fd=dir_fd)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise Refused([link_reason(rel)]) from None
        raise
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise Refused([reason_for(rel, mode) or special_reason(rel, mode)])
        os.set_blocking(fd, True)
        with os.fdopen(fd, "rb", closefd=False) as fh:
            return fh.read()
    finally:
        os.close(fd)


def _walk(dir_fd: int, prefix: str, skip: Callable[[str], bool] | None) -> Iterator[Item]:
    with os.scandir(dir_fd) as it:
        entries = sorted(it, key=lambda e: e.name)
    for entry in entries:
        rel = prefix + entry.name
        if skip is not None and skip(rel):
            continue
        st = entry.stat(follow_symlinks=False)
        if stat.S_ISDIR(st.st_mode):
            yield Item(rel, st, _not_a_file)
            fd = _open_dir(entry.name, dir_fd, rel)
            try:
                yield from _walk(fd, rel + "/", skip)
            finally:
                os.close(fd)
        elif stat.S_ISLNK(st.st_mode):
            yield Item(rel, st, _not_a_file, link=os.readlink(entry.name, dir_fd=dir_fd))
        else:
            yield Item(rel, st, (lambda n=entry.name, r=rel: _read_at(n, dir_fd, r)))


def _not_a_file() -> bytes:
    raise IsADirectoryError("not a regular file")


def walk(folder: Path, *, below: Path | None = None, skip: Callable[[str], bool] | None = None) -> Iterator[Item]:
    """Every entry under ``folder`` (sorted, folders before their content), links never followed.

    ``below``: the trusted folder ``folder`` lies in (default: its parent). Every path component
    from there down is opened with ``O_NOFOLLOW``, so ``folder`` itself, or a learner's folder
    above it, being a link raises :class:`Refused`. ``below=folder`` trusts ``folder`` itself
    (a batch the trainer points ``policylab collect`` at). ``skip(rel)``: entries (and whole
    folders) never looked into. An ``Item.read`` is valid only while the walk goes on.
    """
    folder = Path(folder)
    below = Path(below) if below is not None else folder.parent
    parts = folder.relative_to(below).parts
    fd = os.open(below, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        for i, part in enumerate(parts):
            inner = _open_dir(part, fd, "/".join(parts[:i + 1]))
            os.close(fd)
            fd = inner
        yield from _walk(fd, "", skip)
    finally:
        os.close(fd)


def read_bytes(path: Path) -> bytes:
    """A file's bytes if it is a regular file and not a link (its folder is trusted); else Refused."""
    path = Path(path)
    fd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        return _read_at(path.name, fd, path.name)
    finally:
        os.close(fd)


def copy_tree(src: Path, dst: Path, *, below: Path | None = None) -> None:
    """Copy ``src`` to a new folder ``dst``: regular files and folders only.

    Every link or non-regular item is refused (all of them, named, in one :class:`Refused`)
    and then nothing is left at ``dst``: a half copy is never graded. No link is created,
    and none is followed, in ``src`` or in ``dst``.
    """
    dst = Path(dst)
    dst.mkdir(parents=True)
    refused = []
    try:
        for item in walk(src, below=below):
            reason = item.refused
            if reason:
                refused.append(reason)
            elif stat.S_ISDIR(item.st.st_mode):
                (dst / item.rel).mkdir()
            elif not refused:
                target = dst / item.rel
                with open(target, "xb") as fh:  # "x": never writes through anything already there
                    fh.write(item.read())
                os.utime(target, ns=(item.st.st_atime_ns, item.st.st_mtime_ns))
    except Refused as exc:
        refused += exc.reasons
    if refused:
        import shutil

        shutil.rmtree(dst, ignore_errors=True)
        raise Refused(refused)
