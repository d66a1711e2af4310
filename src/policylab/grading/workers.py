"""A small pool of grading worker processes, each with its own working copy.

Each worker is a fresh ``python -m policylab.grading.workers`` process (no inherited database
connections or kernel sockets, and, unlike multiprocessing's ``spawn``, no re-import
of the caller's ``__main__``), talking to this process over its own pair of pipes and
holding one job at a time. So a worker that dies (the OOM killer, a segfault) costs
exactly its own job, which is retried once on a fresh worker and otherwise reported;
``concurrent.futures`` would break every pending job and not say which one did it.

Workers ignore Ctrl-C (the parent decides), log to a file in their working copy, and
exit when the parent disappears, which in turn ends their kernels (ipykernel polls its
parent process).
"""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import traceback
from collections import deque
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any, Callable

from policylab.grading.autograde import socket_dir


class WorkerStartError(RuntimeError):
    pass


def pid_alive(pid: int) -> bool:
    """Whether a process with this pid exists (one owned by another user counts as alive)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _watch_parent(parent_pid: int) -> None:
    while True:
        if os.getppid() != parent_pid:
            os._exit(3)
        time.sleep(0.5)


def _serve(conn: Connection, parent_pid: int) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(target=_watch_parent, args=(parent_pid,), daemon=True).start()
    try:
        # the slow imports (about 2 s) happen while the parent is still preparing the batch
        from policylab.grading.autograde import WorkingCopy, preload

        preload()
    except BaseException:
        conn.send(("init-failed", traceback.format_exc()))
        return
    copy = None
    try:
        while True:
            try:
                message = conn.recv()
            except (EOFError, OSError):
                return
            if message is None:
                return
            if isinstance(message, dict):  # a batch's setup: its module's working copy (the next module's, in a pool that serves several)
                if copy is not None:
                    copy.close(keep_helpers=True)
                    copy = None
                try:
                    copy = WorkingCopy(**message)
                except BaseException:
                    conn.send(("init-failed", traceback.format_exc()))
                    return
                conn.send(("ready", os.getpid()))
                continue
            job_id, kwargs = message
            try:
                result = copy.grade(**kwargs)
            except Exception:
                result = {"error": traceback.format_exc()}
            try:
                conn.send((job_id, result))
            except OSError:
                return
    finally:
        if copy is not None:
            copy.close()


class _Worker:
    def __init__(self, workdir: Path, index: int) -> None:
        self.workdir = Path(workdir) / f"w{index}"
        self.workdir.mkdir(parents=True, exist_ok=True)
        down_r, down_w = os.pipe()   # parent → worker
        up_r, up_w = os.pipe()       # worker → parent
        self.log = self.workdir / "worker.log"
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "policylab.grading.workers", str(down_r), str(up_w), str(os.getpid())],
                pass_fds=(down_r, up_w), stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        os.close(down_r)
        os.close(up_w)
        self.send_conn = Connection(down_w, readable=False)
        self.conn = Connection(up_r, writable=False)
        self.setup: dict | None = None
        self.ready = False
        self.job: Any = None

    def configure(self, setup: dict) -> None:
        """Have the worker build this batch's working copy, unless it holds it already."""
        setup = dict(setup, workdir=str(self.workdir))
        if setup != self.setup:
            self.send_conn.send(setup)
            self.setup = setup
            self.ready = False

    def log_tail(self) -> str:
        try:
            return self.log.read_text(encoding="utf-8", errors="replace")[-3000:]
        except OSError:
            return ""

    def stop(self, *, timeout: float = 5.0) -> None:
        try:
            self.send_conn.send(None)
        except OSError:
            pass
        try:
            self.process.wait(timeout if self.job is None else 0.1)
        except subprocess.TimeoutExpired:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.send_conn.close()
        self.conn.close()
        self.cleanup()

    def cleanup(self) -> None:
        shutil.rmtree(socket_dir(self.workdir), ignore_errors=True)


class WorkerPool:
    """``size`` grading processes, started at once so that their imports overlap the caller's work.

    ``run`` hands them the working-copy setup and the jobs; ``close`` ends them. Use as a
    context manager. One pool may serve several batches in turn (``policylab demo`` grades every
    module with one): a new setup replaces each worker's working copy, and the worker's imports,
    zygote and interpreter are paid once.
    """

    def __init__(self, size: int, *, workdir: Path) -> None:
        self.workdir = Path(workdir)
        self.workers = [_Worker(self.workdir, i) for i in range(size)]
        self.started = size

    def __enter__(self) -> "WorkerPool":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        for worker in self.workers:
            worker.stop()
        self.workers = []

    def run(self, jobs: list[tuple[Any, dict]], *, setup: dict, on_result: Callable[[Any, dict], None],
            retries: int = 1) -> None:
        """Run ``WorkingCopy(**setup).grade(**kwargs)`` for each (job_id, kwargs).

        ``on_result(job_id, result)`` runs in this process, one call at a time, as results
        arrive; a job whose worker died more than ``retries`` times gets ``{"crashed": exitcode}``.
        """
        pending = deque(jobs)
        attempts: dict[Any, int] = {}
        workers = self.workers
        for worker in workers:
            worker.configure(setup)
        while pending or any(w.job is not None for w in workers):
            if not workers:
                raise WorkerStartError("no grading worker is left")
            for worker in workers:
                if worker.ready and worker.job is None and pending:
                    worker.job = pending.popleft()
                    worker.send_conn.send(worker.job)
            by_conn = {w.conn: w for w in workers}
            for conn in wait(list(by_conn)):
                worker = by_conn[conn]
                try:
                    tag, payload = conn.recv()
                except (EOFError, OSError):
                    tag, payload = None, None
                if tag == "ready":
                    worker.ready = True
                elif tag == "init-failed":
                    raise WorkerStartError(f"a grading worker could not start:\n{payload}")
                elif tag is not None:
                    job, worker.job = worker.job, None
                    on_result(job[0], payload)
                else:  # the worker died: its job is retried once, then reported
                    exitcode = worker.process.wait()
                    workers.remove(worker)
                    worker.send_conn.close()
                    worker.conn.close()
                    worker.cleanup()
                    if not worker.ready:
                        raise WorkerStartError(f"a grading worker died while starting (exit code "
                                               f"{exitcode}); its log:\n{worker.log_tail()}")
                    if worker.job is not None:
                        job_id = worker.job[0]
                        attempts[job_id] = attempts.get(job_id, 0) + 1
                        if attempts[job_id] > retries:
                            on_result(job_id, {"crashed": exitcode})
                        else:
                            pending.appendleft(worker.job)
                    if pending:
                        fresh = _Worker(self.workdir, self.started)
                        self.started += 1
                        fresh.configure(setup)
                        workers.append(fresh)


def main(argv: list[str]) -> None:
    down_r, up_w, parent_pid = argv
    conn = _Duplex(Connection(int(down_r), writable=False), Connection(int(up_w), readable=False))
    _serve(conn, int(parent_pid))
    # Nothing is left to flush or clean: skip interpreter teardown (zmq contexts can block it).
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


class _Duplex:
    """Two one-way pipe connections used as one."""

    def __init__(self, reader: Connection, writer: Connection) -> None:
        self.reader, self.writer = reader, writer

    def recv(self):
        return self.reader.recv()

    def send(self, obj) -> None:
        self.writer.send(obj)


if __name__ == "__main__":
    main(sys.argv[1:])
