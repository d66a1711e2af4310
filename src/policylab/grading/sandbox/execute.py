"""nbgrader's Execute step, run in the sandbox kernel, with an output budget and a record of how it ended.

A resource limit ends the submission: the kernel is killed, this step raises ``SubmissionEnded``
(nbgrader then counts the submission as failed, so it earns no points) and the outcome —
``memory_limit``, ``cpu_limit``, ``process_limit``, ``file_size_limit``, ``disk_limit``,
``output_limit``, ``timeout``, ``kernel_died`` or ``sandbox_error`` — is written to
``<record_dir>/<module>/<learner>/<notebook>.json`` (outside anything the kernel can reach),
where ``policylab.grading.sandbox.configure.read_outcomes`` finds it. A notebook that ran to the end is recorded
as ``completed``.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import tempfile
import threading
import time
from pathlib import Path

import zmq
from jupyter_client.asynchronous import AsyncKernelClient
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import AsyncKernelManager
from nbgrader.preprocessors import Execute
from traitlets import Bool, Integer, List, Unicode

from policylab.grading.sandbox.confine import ZYGOTE_ENV
from policylab.grading.sandbox.zygote import PRELOAD, imports_of, set_preload
from policylab.grading.sandbox.zygote import ensure as ensure_zygote
from policylab.grading.sandbox.kernel import SANDBOX_DIR_ENV, read_status
from policylab.grading.values import EXPORT_MIME

MAX_MESSAGE_BYTES = 64 << 20  # zmq drops (never buffers) a bigger output message from the kernel


class SandboxKernelClient(AsyncKernelClient):
    """A client whose IOPub socket refuses oversized messages, so one huge print cannot
    balloon the grading process before the output budget sees it."""

    def _create_connected_socket(self, channel, identity=None):
        if channel != "iopub":
            return super()._create_connected_socket(channel, identity=identity)
        sock = self.context.socket(zmq.SUB)
        sock.linger = 1000
        sock.setsockopt(zmq.MAXMSGSIZE, MAX_MESSAGE_BYTES)
        if identity:
            sock.identity = identity
        self._iopub_monitor = sock.get_monitor_socket(zmq.EVENT_DISCONNECTED)
        sock.connect(self._make_url(channel))
        return sock

    def iopub_dropped(self) -> bool:
        """Whether zmq cut the IOPub connection (what it does to an oversized message)."""
        monitor = getattr(self, "_iopub_monitor", None)
        try:  # a synchronous look, whatever kind of socket the client uses
            return bool(monitor is not None and monitor.getsockopt(zmq.EVENTS) & zmq.POLLIN)
        except zmq.ZMQError:
            return False


class SandboxKernelManager(AsyncKernelManager):
    """A KernelManager whose kernel talks over IPC files in a folder of its own.

    jupyter_client's default IPC prefix sits in the shared runtime folder; binding that into a
    sandbox would expose every other kernel's sockets, so each kernel gets ``<dir>/ipc/``.
    After cleanup, ``sandbox_status`` holds what the launcher recorded (or None).
    """

    kernel_dirs = List(Unicode(), help="Folders that hold the sandbox kernelspec.").tag(config=True)
    runtime_base = Unicode("", help="Where per-kernel folders are made (default: the temp dir).").tag(config=True)
    zygote = Bool(True, help="Fork kernels from a process with the learners' libraries imported "
                             "(policylab.grading.sandbox.zygote); False: every kernel starts cold.").tag(config=True)

    sandbox_dir: Path | None = None
    sandbox_status: dict | None = None

    def __init__(self, **kwargs):
        kwargs.setdefault("transport", "ipc")
        # the launcher stages, watches and tears down a bwrap sandbox around the kernel; the stock
        # 5 s (2.5 s before SIGTERM) turns a graceful shutdown on a loaded machine into a kill
        kwargs.setdefault("shutdown_wait_time", 10.0)
        kwargs.setdefault("client_class", "policylab.grading.sandbox.execute.SandboxKernelClient")
        super().__init__(**kwargs)
        self.transport = "ipc"
        if self.kernel_dirs:
            self.kernel_spec_manager = KernelSpecManager(kernel_dirs=list(self.kernel_dirs))

    async def _async_pre_start_kernel(self, **kw):
        if self.sandbox_dir is None or not self.sandbox_dir.exists():
            self.sandbox_dir = Path(tempfile.mkdtemp(prefix="policylab-kernel-", dir=self.runtime_base or None))
            (self.sandbox_dir / "ipc").mkdir(mode=0o700)
        self.ip = str(self.sandbox_dir / "ipc" / "k")
        env = dict(kw.pop("env", None) or os.environ)
        env[SANDBOX_DIR_ENV] = str(self.sandbox_dir)
        env.pop(ZYGOTE_ENV, None)
        socket_path = self._zygote() if self.zygote else None
        if socket_path:
            env[ZYGOTE_ENV] = socket_path
        kw["env"] = env
        return await super()._async_pre_start_kernel(**kw)

    def _zygote(self) -> str | None:
        return _zygote_for(list(self.kernel_spec.argv) if self.kernel_spec else [])

    def read_sandbox_status(self) -> dict | None:
        if self.sandbox_dir is None:
            return self.sandbox_status
        status = read_status(self.sandbox_dir)
        if status is not None:
            self.sandbox_status = status
        return self.sandbox_status

    async def _async_cleanup_resources(self, restart: bool = False) -> None:
        await super()._async_cleanup_resources(restart=restart)
        if not restart and self.sandbox_dir is not None:
            self.read_sandbox_status()
            shutil.rmtree(self.sandbox_dir, ignore_errors=True)
            self.sandbox_dir = None

    @property
    def launcher_pid(self) -> int | None:
        provisioner = self.provisioner
        return getattr(provisioner, "pid", None) if provisioner is not None else None


def _zygote_for(argv: list[str]) -> str | None:
    """The zygote socket for kernels of this kernelspec (its policy file), or None: cold kernels."""
    if "--policy" not in argv[:-1]:
        return None
    try:
        policy = json.loads(Path(argv[argv.index("--policy") + 1]).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return ensure_zygote(policy)


def start_zygote(kernel_dirs: list[str], kernel_name: str, sources: list[str] | None) -> None:
    """Start this process's zygote for a batch whose released cells are ``sources`` (it preloads
    what they import; None: what every module imports), in the background, so that its imports
    overlap the rest of the batch's setup instead of delaying the first kernel (which waits for it)."""
    set_preload(PRELOAD if sources is None else imports_of(sources))
    try:
        argv = KernelSpecManager(kernel_dirs=list(kernel_dirs)).get_kernel_spec(kernel_name).argv
    except Exception:  # noqa: BLE001 - no such kernelspec: the first kernel start reports it
        return
    threading.Thread(target=_zygote_for, args=(list(argv),), daemon=True).start()


class SubmissionEnded(RuntimeError):
    """A limit ended this notebook's execution; ``ended`` is the outcome key."""

    def __init__(self, ended: str, detail: str):
        super().__init__(f"{ended}: {detail}")
        self.ended = ended
        self.detail = detail


def _errno_of(output) -> int | None:
    text = f"{output.get('evalue', '')}"
    for code in (27, 28):
        if f"[Errno {code}]" in text:
            return code
    return None


def _size(msg: dict) -> int:
    content = msg.get("content", {})
    if "text" in content:
        return len(content["text"])
    total = 0
    for value in (content.get("data") or {}).values():
        total += len(value) if isinstance(value, str) else len(json.dumps(value))
    total += sum(len(line) for line in content.get("traceback", []) or [])
    return total


class SandboxExecute(Execute):
    """Execute in the sandbox kernel; end the submission at a limit and record the outcome."""

    sandbox = Bool(True, help="Start kernels through SandboxKernelManager (False: the stock manager).").tag(config=True)
    output_limit = Integer(8 << 20, help="Characters of output per notebook before the submission ends.").tag(config=True)
    export_limit = Integer(64 << 20, help="Characters of test-cell exports (plain data for the checker) per notebook.").tag(config=True)
    record_dir = Unicode("", help="Where outcome records are written (empty: none).").tag(config=True)
    end_on_timeout = Bool(False, help="End the submission at the first cell timeout (stock nbgrader "
                                      "interrupts the cell and goes on; the record counts timeouts either way).").tag(config=True)

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("kernel_manager_class", SandboxKernelManager)
        super().__init__(*args, **kwargs)
        if not self.sandbox:
            self.kernel_manager_class = AsyncKernelManager

    # -- output budget --------------------------------------------------------------------
    def output(self, outs, msg, display_id, cell_index):
        size = _size(msg)
        if EXPORT_MIME in (msg.get("content", {}).get("data") or {}):
            self._export_chars += size  # answers handed to the checker have their own budget
        else:
            self._output_chars += size
        if self._output_chars > self.output_limit or self._export_chars > self.export_limit:
            if self._ended is None:
                self._ended = ("output_limit", f"more than {self.output_limit} characters of output")
                self._kill_kernel()
            return None
        return super().output(outs, msg, display_id, cell_index)

    def _kill_kernel(self) -> None:
        """Kill the kernel now (the launcher, whose sandbox dies with it)."""
        pid = getattr(getattr(self.km, "provisioner", None), "pid", None)
        if pid:
            try:
                os.kill(pid, signal.SIGTERM if self.sandbox else signal.SIGKILL)
            except ProcessLookupError:
                pass

    # -- limits seen in cell outputs ------------------------------------------------------
    def on_cell_executed(self, **kwargs):
        super().on_cell_executed(**kwargs)
        if self._ended is None:
            for output in kwargs["cell"].get("outputs", []):
                if output.get("output_type") != "error":
                    continue
                if output.get("ename") == "MemoryError":
                    self._ended = ("memory_limit", "MemoryError: the memory limit was reached")
                elif output.get("ename") == "CellTimeoutError":
                    self._timeouts += 1
                    if self.end_on_timeout:
                        self._ended = ("timeout", "a cell ran past the time limit")
                elif _errno_of(output) == 27:
                    self._ended = ("file_size_limit", output.get("evalue", ""))
                elif _errno_of(output) == 28:
                    self._ended = ("disk_limit", output.get("evalue", ""))
        if self._ended is not None:
            raise SubmissionEnded(*self._ended)

    def preprocess_cell(self, cell, resources, index):
        if self._ended is not None:
            raise SubmissionEnded(*self._ended)
        try:
            return super().preprocess_cell(cell, resources, index)
        except Exception as exc:
            # A kernel that died also drops the connection: only a live kernel's drop is an oversized message.
            if self._ended is None and type(exc).__name__ != "DeadKernelError" and self._kernel_running() \
                    and getattr(self.kc, "iopub_dropped", lambda: False)():
                self._ended = ("output_limit", f"an output message larger than {MAX_MESSAGE_BYTES} bytes")
            raise

    def _kernel_running(self) -> bool:
        process = getattr(getattr(self.km, "provisioner", None), "process", None)
        if process is None or process.poll() is not None:
            return False
        status = self._manager.read_sandbox_status() if hasattr(self._manager, "read_sandbox_status") else None
        return not (status and "exit_code" in status)

    # -- the step -------------------------------------------------------------------------
    def preprocess(self, nb, resources):
        self._output_chars = 0
        self._export_chars = 0
        self._timeouts = 0
        self._ended = None
        self._manager = None
        record = self._record_path(resources)
        if record is not None:
            record.unlink(missing_ok=True)
        started = time.monotonic()
        outcome = {"ended": "completed", "detail": ""}
        try:
            nb, resources = super().preprocess(nb, resources)
            if self._ended is not None:
                raise SubmissionEnded(*self._ended)
        except BaseException as exc:
            outcome = self._classify(exc)
            outcome["error"] = f"{type(exc).__name__}: {exc}"[:500]
            self._write(record, resources, outcome, started)
            if isinstance(exc, SubmissionEnded):
                raise
            raise SubmissionEnded(outcome["ended"], outcome["detail"]) from exc
        self._write(record, resources, outcome, started)
        nb.metadata.setdefault("policylab", {})["execution"] = {
            "ended": "completed", "sandbox": self.sandbox}
        return nb, resources

    def create_kernel_manager(self):
        km = super().create_kernel_manager()
        self._manager = km
        return km

    def _launcher_status(self) -> dict | None:
        km = self._manager
        if km is None or not hasattr(km, "read_sandbox_status"):
            return None
        for _ in range(20):  # the launcher writes its status as the sandbox exits
            status = km.read_sandbox_status()
            if status and "reason" in status:
                return status
            time.sleep(0.05)
        return km.sandbox_status

    def _classify(self, exc: BaseException) -> dict:
        status = self._launcher_status() or {}
        launcher_reason = status.get("reason")
        if launcher_reason in ("process_limit", "disk_limit", "cpu_limit", "memory_limit",
                               "file_size_limit", "sandbox_error"):
            return {"ended": launcher_reason, "detail": status.get("detail", "")}
        if self._ended is not None:
            return {"ended": self._ended[0], "detail": self._ended[1]}
        name = type(exc).__name__
        if name in ("CellTimeoutError", "TimeoutError", "UnresponsiveKernelError"):
            return {"ended": "timeout", "detail": str(exc)[:300]}
        if name == "DeadKernelError" or launcher_reason in ("kernel_died", "exited", "terminated"):
            return {"ended": "kernel_died", "detail": status.get("detail") or str(exc)[:300]}
        if status.get("exit_code") not in (None, 0):
            return {"ended": "kernel_died", "detail": status.get("detail", "")}
        return {"ended": "kernel_died", "detail": f"{name}: {exc}"[:300]}

    def _record_path(self, resources) -> Path | None:
        if not self.record_dir:
            return None
        info = resources.get("nbgrader", {})
        if not info.get("assignment") or not info.get("student"):
            return None
        return Path(self.record_dir) / info["assignment"] / info["student"] / f"{info.get('notebook', 'notebook')}.json"

    def _write(self, record: Path | None, resources, outcome: dict, started: float) -> None:
        if record is None:
            return
        info = resources.get("nbgrader", {})
        outcome = {**outcome, "sandbox": self.sandbox, "module": info.get("assignment"),
                   "learner": info.get("student"), "notebook": info.get("notebook"),
                   "seconds": round(time.monotonic() - started, 3), "output_chars": self._output_chars,
                   "timed_out_cells": self._timeouts}
        record.parent.mkdir(parents=True, exist_ok=True)
        tmp = record.with_suffix(".tmp")
        tmp.write_text(json.dumps(outcome, ensure_ascii=False, indent=1), encoding="utf-8")
        os.replace(tmp, record)
