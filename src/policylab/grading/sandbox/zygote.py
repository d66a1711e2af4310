"""Sandboxed kernels forked from a process that has already imported the learners' libraries.

A cold sandboxed kernel spends most of its CPU importing ipykernel, pandas, scipy and statsmodels
(an m10 batch: 19 of its 39 CPU-seconds). The *zygote* imports them once per grading process and
forks a kernel for each notebook, into a bubblewrap sandbox of its own made by the launcher
(``policylab.grading.sandbox.kernel``) exactly as for a cold kernel:

1. bwrap starts the stub in hold mode (the *holder*): it drops to the kernel's uid, takes the limits,
   copies the working folder into the sandbox's tmpfs and says so on a pipe, then waits.
2. The launcher sends the zygote the holder's pid and the kernel's arguments over a Unix socket
   in a private folder of the grader (outside every sandbox).
3. A fresh child of the zygote reads that request (the zygote never does, so no kernel's copy of
   its memory holds another's request), joins the holder's mount, pid, network, IPC, UTS and
   cgroup namespaces, chroots into its root and forks the kernel, which the sandbox's init adopts.
   The kernel drops every capability and the bounding set, takes the uid, limits and environment
   of a cold kernel (plus no_new_privs, as bwrap sets), closes every inherited descriptor, reseeds
   numpy's global generator (``random`` reseeds itself at fork) and runs ipykernel. It reports its
   exit status, which goes back to the launcher, which then ends the sandbox.

A kernel shares with the zygote a copy-on-write image of library imports: nothing another kernel
can alter. Not fresh: Python's string-hash seed (one per grading process) and modules a cold kernel
would import only on request. Root (privileged bubblewrap) only; elsewhere, or when the zygote
cannot be reached, kernels start cold.
"""
from __future__ import annotations

import ast
import atexit
import ctypes
import gc
import importlib
import json
import os
import resource
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback

from policylab.grading.sandbox.confine import WORK, confine, kernel_args, sandbox_env

KERNEL = ("ipykernel.kernelapp", "ipykernel.ipkernel")  # every kernel imports these
# without a batch's own list (set_preload): what the 13 modules' notebooks import
PRELOAD = KERNEL + ("numpy", "pandas", "scipy.stats", "statsmodels.api", "statsmodels.formula.api",
                    "plotly.express", "plotly.graph_objects")
NAMESPACES = ("user", "cgroup", "ipc", "uts", "net", "pid", "mnt")  # joined in this order: user owns the rest
REQUIRED = ("ipc", "uts", "net", "pid", "mnt")  # a holder that shares one of these with us is refused
START_SECONDS, _PR_SET_NO_NEW_PRIVS, _PR_CAPBSET_DROP = 120, 38, 24  # the last two: prctl(2) options

_preload: list[tuple[str, ...]] = [PRELOAD]
_running: dict[tuple, tuple[subprocess.Popen, str, tuple[str, ...]]] = {}
_failed: set[tuple] = set()
_started: list = []
_lock = threading.Lock()


# --------------------------------------------------------------------------- grader side
def imports_of(sources: list[str]) -> tuple[str, ...]:
    """The modules these (trainer-written, released) cells import: what a batch's zygote preloads.
    A module that only needs pandas should not pay for statsmodels in every zygote it starts."""
    names: list[str] = []
    for source in sources:
        try:
            tree = ast.parse(source)
        except SyntaxError:  # IPython magics and the like: their cells import nothing we preload
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names += [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names.append(node.module)
    wanted = [n for n in dict.fromkeys(names) if not n.startswith("policylab") and n.split(".")[0] not in sys.stdlib_module_names]
    return KERNEL + tuple(sorted(wanted))


def set_preload(names: tuple[str, ...]) -> None:
    """What zygotes started from now on in this process import (``imports_of`` a batch's release)."""
    _preload[0] = tuple(names)


def ensure(policy: dict) -> str | None:
    """The socket of this process's zygote for kernels of ``policy``'s environment, started on
    first use; None when kernels must start cold (not root, or the zygote did not come up).

    One zygote per environment: one that has imported at least what this batch wants serves it;
    otherwise it is replaced by one that imports both (a worker serving several modules in turn
    soon holds one zygote for all of them)."""
    if os.geteuid() != 0 or not sys.platform.startswith("linux"):
        return None
    env = sandbox_env(policy)
    key = (policy["python"], tuple(sorted(env.items())))
    with _lock:
        proc, path, preload = _running.pop(key, (None, "", ()))
        if proc is not None and proc.poll() is None:
            if set(_preload[0]) <= set(preload):
                _running[key] = (proc, path, preload)
                return path
            proc.kill()  # the kernels it forked are processes of their own, and live on
            proc.wait()
        if path:
            _remove(path)
        preload = tuple(sorted(set(preload) | set(_preload[0])))
        if (key, preload) in _failed:  # once is enough: every kernel start must not pay for another try
            return None
        if not _started:
            _started.append(atexit.register(stop_all))
        folder = tempfile.mkdtemp(prefix="policylab-zygote-")
        path = os.path.join(folder, "socket")
        proc = subprocess.Popen([policy["python"], "-m", "policylab.grading.sandbox.zygote", path, *preload], env=env,
                                cwd=folder, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.DEVNULL)
        ready = select.select([proc.stdout], [], [], START_SECONDS)[0] and proc.stdout.readline() == b"ready\n"
        proc.stdout.close()
        if not ready:
            proc.kill()
            proc.wait()
            _remove(path)
            _failed.add((key, preload))
            return None
        _running[key] = (proc, path, preload)
        return path


def stop_all() -> None:
    with _lock:
        for proc, path, _ in _running.values():
            proc.kill()
            proc.wait()
            _remove(path)
        _running.clear()


def _remove(path: str) -> None:
    shutil.rmtree(os.path.dirname(path), ignore_errors=True)  # the socket's private folder


# --------------------------------------------------------------------------- launcher side
def connect(path: str) -> socket.socket | None:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    try:
        sock.connect(path)
    except OSError:
        sock.close()
        return None
    return sock


def run_kernel(sock: socket.socket, ready_fd: int, monitor, *, request: dict, tail: bytearray) -> int | None:
    """Have the zygote start the kernel in the held sandbox; its exit status, or None (recorded
    as a sandbox error) when it could not start. Blocks until the kernel has exited."""
    try:
        if not select.select([ready_fd], [], [], START_SECONDS)[0] or os.read(ready_fd, 1) != b"1":
            monitor.kill("sandbox_error", "the sandbox did not get ready for the kernel")
            return None
        holder = _holder(monitor)
        if holder is None:
            monitor.kill("sandbox_error", "the sandbox's holder process was not found")
            return None
        out_r, out_w = os.pipe()
        try:
            socket.send_fds(sock, [json.dumps({**request, "holder": holder}).encode()], [out_w])
        finally:
            os.close(out_w)
        threading.Thread(target=_drain, args=(out_r, tail), daemon=True).start()
        reply = _recv(sock)
        if "pid" not in reply:
            monitor.kill("sandbox_error", f"the zygote could not start the kernel: {reply.get('error', 'no reply')}")
            return None
        return _recv(sock).get("exit")  # None: the zygote's child died without reporting
    finally:
        os.close(ready_fd)
        sock.close()


def _holder(monitor) -> int | None:
    deadline = time.monotonic() + 10
    while not monitor.child and time.monotonic() < deadline:
        time.sleep(0.01)
    stack = [monitor.child] if monitor.child else []
    while stack:
        pid = stack.pop()
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                args = f.read().split(b"\0")
            # the stub itself, not bwrap (whose command line holds the stub's too)
            if args[1:4] == [b"-m", b"policylab.grading.sandbox.kernel", b"--inner"] and b"--hold-fd" in args:
                return pid
            with open(f"/proc/{pid}/task/{pid}/children") as f:
                stack += [int(c) for c in f.read().split()]
        except OSError:
            continue
    return None


def _drain(fd: int, tail: bytearray) -> None:
    with os.fdopen(fd, "rb") as f:
        for chunk in iter(lambda: f.read1(65536), b""):
            tail.extend(chunk)
            del tail[:-8192]


def _recv(sock: socket.socket) -> dict:
    try:
        data = sock.recv(65536)
        return json.loads(data) if data else {}
    except (OSError, ValueError):
        return {}


# --------------------------------------------------------------------------- zygote side
def serve(path: str, preload: list[str]) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the grader decides about Ctrl-C
    parent = os.getppid()
    for name in preload or PRELOAD:
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001 - a library this course does not install: kernels import it themselves
            pass
    if "pandas" in sys.modules:
        _warm()
    gc.collect()
    gc.freeze()  # the kernels' copies of these objects stay shared pages
    if threading.active_count() != 1 or len(os.listdir("/proc/self/task")) != 1:
        sys.exit("policylab zygote: an import started a thread; forking would not be safe")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    server.bind(path)
    os.chmod(path, 0o600)
    server.listen(64)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # the joiners are reaped by the kernel
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    null = os.open(os.devnull, os.O_RDWR)
    os.dup2(null, 1)
    os.close(null)
    while os.getppid() == parent:  # the grader is gone: so is the zygote
        if not select.select([server], [], [], 1.0)[0]:
            continue
        conn, _ = server.accept()
        if os.fork() == 0:
            server.close()
            code = 1
            try:
                _join(conn)
                code = 0
            finally:
                os._exit(code)
        conn.close()


def _warm() -> None:
    """Format a pandas KeyError as IPython shows it to a learner: the caches a kernel's first
    traceback fills (inspect's module index, stack_data's parsed pandas sources) come filled."""
    try:
        import pandas as pd
        from IPython.core.ultratb import VerboseTB

        frame = pd.DataFrame({"a": [1]})
        for mistake in (lambda: frame["b"], lambda: frame.loc[5], lambda: frame.b, lambda: frame["a"].loc[5],
                        lambda: frame.groupby("b"), lambda: frame.merge(frame, on="b")):
            try:
                mistake()
            except Exception:  # noqa: BLE001 - each is a learner's usual mistake
                VerboseTB(theme_name="nocolor").structured_traceback(*sys.exc_info())
    except Exception:  # noqa: BLE001 - only a head start
        pass


def _libc_call(name: str, *args) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if getattr(libc, name)(*args) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{name}: {os.strerror(err)}")


def _enter(holder: int) -> None:
    """Join the holder's namespaces and root (a single-threaded process; see setns(2))."""
    fds = {}
    try:
        for name in NAMESPACES:
            theirs = f"/proc/{holder}/ns/{name}"
            if os.path.exists(theirs) and os.stat(theirs).st_ino != os.stat(f"/proc/self/ns/{name}").st_ino:
                fds[name] = os.open(theirs, os.O_RDONLY | os.O_CLOEXEC)
        shared = [name for name in REQUIRED if name not in fds]
        if shared:
            raise OSError(f"pid {holder} shares namespaces {shared} with the grader")
        root = os.open(f"/proc/{holder}/root", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        for name in NAMESPACES:
            if name in fds:
                _libc_call("setns", fds[name], 0)
        os.fchdir(root)
        os.chroot(".")
        os.close(root)
    finally:
        for fd in fds.values():
            os.close(fd)


def _join(conn: socket.socket) -> None:
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    message, fds, _, _ = socket.recv_fds(conn, 1 << 20, 1)
    if len(fds) != 1:
        conn.send(json.dumps({"error": "no output pipe"}).encode())
        return
    request = json.loads(message)
    try:
        host_proc = os.open("/proc", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)  # ours: global pids
        _enter(int(request["holder"]))
    except (OSError, ValueError, KeyError) as exc:
        conn.send(json.dumps({"error": str(exc)}).encode())
        return
    status_r, status_w = os.pipe()
    if os.fork() == 0:
        # in the sandbox's pid namespace: fork the kernel and leave it to the sandbox's init, as a
        # cold kernel is (its parent is pid 1, which its signals cannot reach)
        os.close(status_r)
        if os.fork() == 0:
            _become_kernel(request, fds[0], status_w)
        os._exit(0)
    os.close(status_w)
    os.close(fds[0])
    os.wait()
    kernel = _kernel_of(int(request["holder"]), host_proc)
    if kernel is None:
        conn.send(json.dumps({"error": "the kernel did not start"}).encode())
        return
    pidfd, _ = kernel
    conn.send(json.dumps({"pid": kernel[1]}).encode())
    select.select([pidfd], [], [])  # readable once the kernel has exited
    report = b""
    os.set_blocking(status_r, False)
    try:
        report = os.read(status_r, 16)
    except BlockingIOError:
        pass
    # a kernel that could not say how it ended was killed (a limit, the OOM killer): SIGKILL's status
    code = int(report) if report.strip().isdigit() else 128 + signal.SIGKILL
    conn.send(json.dumps({"exit": code}).encode())


def _kernel_of(holder: int, host_proc: int) -> tuple[int, int] | None:
    """(pidfd, global pid) of the kernel: the child of the sandbox's init that is not the holder.
    ``host_proc``: the grader's /proc (this process now sees the sandbox's)."""
    def read(path: str) -> str:
        with open(os.open(path, os.O_RDONLY | os.O_CLOEXEC, dir_fd=host_proc)) as f:
            return f.read()
    try:
        init = int(read(f"{holder}/stat").rsplit(")", 1)[1].split()[1])
        pids = [int(p) for p in read(f"{init}/task/{init}/children").split() if int(p) != holder]
    except (OSError, ValueError, IndexError):
        return None
    if len(pids) != 1:
        return None
    try:
        return os.pidfd_open(pids[0]), pids[0]
    except OSError:
        return None


def _become_kernel(request: dict, out_fd: int, status_fd: int) -> None:
    try:
        os.setsid()
        null = os.open(os.devnull, os.O_RDWR)
        os.dup2(null, 0)
        os.dup2(null, 1)  # as bwrap's: stdout nowhere, stderr to the launcher's record
        os.dup2(out_fd, 2)
        os.dup2(status_fd, 3)  # where it says how it ended (close-on-exec: no program it runs inherits it)
        os.set_inheritable(3, False)
        # the zygote's socket, this request's connection, the grader's /proc: everything else
        os.closerange(4, max(1 << 20, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))
        for cap in range(int(open("/proc/sys/kernel/cap_last_cap").read()) + 1):  # noqa: SIM115
            _libc_call("prctl", _PR_CAPBSET_DROP, cap, 0, 0, 0)
        if int(request["uid"]) <= 0:
            raise ValueError("a forked kernel must get a uid of its own, never root's")
        confine(int(request["uid"]), request["limits"])  # setresuid to a non-root uid clears the rest
        _libc_call("prctl", _PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
        os.environ.clear()
        os.environ.update(request["env"])
        os.chdir(WORK)
        del sys.path[0]  # the zygote's folder; ipykernel_launcher drops its own too
        sys.dont_write_bytecode = True
        # the CPU limit's signal kills a cold kernel with that status; an adopted kernel must say so itself
        signal.signal(signal.SIGXCPU, lambda *_: (os.write(3, b"152"), os._exit(128 + signal.SIGXCPU)))
        if "numpy.random" in sys.modules:
            sys.modules["numpy.random"].seed()  # from fresh entropy, as a new process's would be
        from ipykernel import kernelapp

        sys.argv = [kernelapp.__file__, *kernel_args(request["connection_file"], request["extra"])]
    except BaseException:  # noqa: BLE001 - never run a kernel that is not fully confined
        try:
            os.write(2, traceback.format_exc().encode())  # into the launcher's record of this sandbox
            os.write(3, b"70")
        finally:
            os._exit(70)
    code = 0
    try:
        kernelapp.launch_new_instance()
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else int(exc.code is not None)
    except BaseException:  # noqa: BLE001 - reported as the kernel's exit status
        code = 1
    finally:
        # no atexit handlers: some were registered in the zygote, for its own process, and can
        # hang in a copy (seen: 1 exit in 8); the kernel has sent every output before it replies
        # to the shutdown request
        sys.stdout.flush()
        sys.stderr.flush()
        try:
            os.write(3, str(code).encode())
        finally:
            os._exit(code)

if __name__ == "__main__":
    serve(sys.argv[1], sys.argv[2:])
