"""Watching a running sandbox from outside (launcher side): resource use, limits, the status record.

Standard library only, like ``policylab.grading.sandbox.kernel``, which imports it at each kernel start.
"""
from __future__ import annotations

import json
import os
import signal
import threading
from pathlib import Path

from policylab.grading.sandbox.confine import HOME


def write_status(sandbox_dir: Path, status: dict) -> None:
    """Atomically; quietly gives up if the manager already removed the folder."""
    tmp = sandbox_dir / f".status.{threading.get_ident()}.tmp"
    try:
        tmp.unlink(missing_ok=True)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(status, f)
        os.replace(tmp, sandbox_dir / "status.json")
    except OSError:
        pass



class Monitor:
    """Watches a running sandbox from outside; kills it when a limit is reached."""

    def __init__(self, limits: dict, status: dict, sandbox_dir: Path):
        self.limits = limits
        self.status = status
        self.sandbox_dir = sandbox_dir
        self.child: int | None = None  # bwrap's first process in the sandbox (a zygote-forked kernel is adopted under it)
        self.peak_vm = 0
        self.cpu = 0.0
        self.stop = threading.Event()
        self.parent = os.getppid()  # the grader's kernel manager

    def _tasks(self) -> list[tuple[int, int]]:
        """(pid, threads) of every process under the sandbox's init."""
        out, stack = [], [self.child]
        while stack:
            pid = stack.pop()
            try:
                tids = os.listdir(f"/proc/{pid}/task")
            except OSError:
                continue
            if pid != self.child:
                out.append((pid, len(tids)))
            for tid in tids:
                try:
                    with open(f"/proc/{pid}/task/{tid}/children") as f:
                        stack += [int(c) for c in f.read().split()]
                except OSError:
                    pass
        return out

    def _vm_and_cpu(self, pid: int) -> tuple[int, float]:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            return int(fields[20]), (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, ValueError, IndexError):
            return 0, 0.0

    def kill(self, reason: str, detail: str) -> None:
        if "reason" not in self.status:
            self.status.update(reason=reason, detail=detail)
            write_status(self.sandbox_dir, self.status)
        if self.child:
            try:
                os.kill(self.child, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def run(self) -> None:
        limits = self.limits
        while not self.stop.wait(0.05):
            if not self.child:
                continue
            if os.getppid() != self.parent:
                # the grader died without stopping this kernel (a killed worker): the kernel must
                # not run on, holding memory and CPU, with nobody to read its results
                self.kill("terminated", "the grading process that started this kernel is gone")
                continue
            tasks = self._tasks()
            threads = sum(n for _, n in tasks)
            for pid, _ in tasks:
                vm, cpu = self._vm_and_cpu(pid)
                self.peak_vm = max(self.peak_vm, vm)
                self.cpu = max(self.cpu, cpu)
            self.status["peak_vm_bytes"] = self.peak_vm
            if threads >= limits["processes"] - 1:
                self.kill("process_limit", f"{threads} processes/threads (limit {limits['processes']})")
            try:
                fs = os.statvfs(f"/proc/{self.child}/root{HOME}")
                used = (fs.f_blocks - fs.f_bfree) * fs.f_frsize
                if fs.f_blocks and used >= 0.98 * fs.f_blocks * fs.f_frsize:
                    self.kill("disk_limit", f"working folder full ({used} bytes)")
            except OSError:
                pass
