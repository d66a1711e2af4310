"""The sandboxed kernel: a launcher that starts ipykernel inside bubblewrap, and its KernelManager.

The kernelspec written by ``policylab.grading.sandbox.configure.install_kernelspec`` runs

    python -m policylab.grading.sandbox.kernel --policy POLICY.json -f {connection_file}

outside the sandbox (the *launcher*). The launcher copies the kernel's working folder into a
private seed folder, starts ``bwrap`` with no network, no view of the course (only the Python
install, the venv, the policylab package and datasets/, read-only), and runs this module again
inside (the *stub*): the stub sets the resource limits, drops to an unprivileged user, copies the
seed into a size-limited tmpfs and execs ipykernel there. The kernel talks to nbgrader over IPC
(Unix socket) files in a per-kernel folder that ``SandboxKernelManager`` creates and binds in.

This module is imported twice per kernel start (launcher, stub), so it uses the standard
library only; the grader-side ``SandboxKernelManager`` lives in ``policylab.grading.sandbox.execute``.

The launcher stays as the kernel's parent: it watches the sandbox (process count, tmpfs usage,
address space, exit status) and writes ``status.json`` beside the IPC folder, outside the
sandbox, so the grader can tell how a kernel ended.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import signal
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

HOME = "/home/learner"
WORK = HOME + "/work"
RUN = "/run/policylab"
SEED = RUN + "/seed"
DATASETS = "/srv/policylab/datasets"
UID_BASE = 2_000_000  # root mode: each kernel runs as UID_BASE + (launcher pid % 1_000_000)
SANDBOX_DIR_ENV = "POLICYLAB_SANDBOX_DIR"


def read_status(sandbox_dir: Path) -> dict | None:
    try:
        return json.loads((Path(sandbox_dir) / "status.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


# --------------------------------------------------------------------------- launcher (outside)
def _write_status(sandbox_dir: Path, status: dict) -> None:
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


def _is_within(path: Path, other: Path) -> bool:
    return path == other or other in path.parents


def _refusal(cwd: Path, policy: dict) -> str | None:
    """Why the working folder must not be copied into a sandbox (it holds something protected)."""
    for protected in map(Path, policy.get("protect", [])):
        if _is_within(protected, cwd):
            return f"{cwd} contains {protected}"
    for inside in map(Path, policy.get("protect_inside", [])):
        if _is_within(cwd, inside):
            return f"{cwd} lies inside {inside}"
    return None


def _stage(cwd: Path, seed: Path, max_bytes: int) -> int:
    """Copy regular files and folders (never links or devices) of cwd into seed; returns bytes."""
    total = 0
    seed.mkdir(mode=0o755)
    for folder, dirs, files in os.walk(cwd, followlinks=False):
        rel = Path(folder).relative_to(cwd)
        dirs[:] = [d for d in dirs if not os.path.islink(os.path.join(folder, d))]
        for d in dirs:
            (seed / rel / d).mkdir(mode=0o755)
        for name in files:
            src = os.path.join(folder, name)
            try:
                st = os.lstat(src)
            except OSError:
                continue
            if not stat.S_ISREG(st.st_mode):
                continue
            total += st.st_size
            if total > max_bytes:
                raise OSError(f"the working folder {cwd} is larger than the sandbox disk limit")
            shutil.copyfile(src, seed / rel / name, follow_symlinks=False)
            os.chmod(seed / rel / name, 0o644)
    return total


def _dirs_for(dests: list[str], covered: list[str], mounted: tuple[str, ...] = ()) -> list[str]:
    """--dir arguments (mode 0755) for the parents of each destination not yet in the sandbox.

    ``mounted``: scratch mounts that exist already but whose sub-folders must still be made
    (bubblewrap would otherwise create them 0700, which the kernel's own uid cannot enter)."""
    made: list[str] = []
    for dest in dests:
        for parent in reversed(list(Path(dest).parents)):
            p = str(parent)
            if p == "/" or p in made or p in mounted or any(_is_within(parent, Path(c)) for c in covered):
                continue
            made.append(p)
        covered.append(dest)
    argv: list[str] = []
    for p in made:
        argv += ["--perms", "0755", "--dir", p]
    return argv


def bwrap_argv(policy: dict, *, sandbox_dir: Path, root_mode: bool, uid: int, fds: dict,
               extra: list[str] = ()) -> list[str]:
    """The bubblewrap command line for one kernel."""
    limits = policy["limits"]
    argv = ["bwrap", "--die-with-parent", "--new-session",
            "--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts", "--unshare-cgroup-try",
            "--hostname", "policylab-sandbox"]
    if root_mode:
        # Privileged bwrap binds paths root can read (the Python install may sit in /root);
        # the stub then drops to an unprivileged uid of its own, so RLIMIT_NPROC applies.
        argv += ["--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
    else:
        argv += ["--unshare-user", "--disable-userns", "--uid", str(uid), "--gid", str(uid)]
    # Scratch filesystems first: bubblewrap applies mounts in order, so a course or venv that
    # lives under /tmp (a CI checkout, say) must be bound after /tmp is replaced, not hidden by it.
    argv += ["--proc", "/proc", "--dev", "/dev",
             "--perms", "01777", "--size", str(1 << 20), "--tmpfs", "/dev/shm",
             "--perms", "01777", "--size", str(limits["tmp_bytes"]), "--tmpfs", "/tmp",
             "--perms", "01777", "--size", str(limits["disk_bytes"]), "--tmpfs", HOME]
    binds = [(src, dest) for src, dest in policy["ro_binds"] if os.path.exists(src)]
    covered: list[str] = ["/proc", "/dev", HOME]
    for src, dest in binds:
        argv += _dirs_for([dest], covered, mounted=("/tmp",))
        argv += ["--ro-bind", src, dest]
    for usr_link in ("bin", "lib", "lib64", "sbin"):
        if os.path.islink("/" + usr_link):
            argv += ["--symlink", os.readlink("/" + usr_link), "/" + usr_link]
    for masked_fd, dest in fds["masks"]:
        argv += ["--ro-bind-data", str(masked_fd), dest]
    for hidden in policy.get("hide_dirs", []):  # an empty read-only folder over it: sources and __pycache__ alike
        if os.path.isdir(hidden):
            argv += ["--perms", "0555", "--tmpfs", hidden, "--remount-ro", hidden]
    argv += ["--ro-bind-data", str(fds["passwd"]), "/etc/passwd",
             "--ro-bind-data", str(fds["group"]), "/etc/group",
             "--ro-bind-data", str(fds["hosts"]), "/etc/hosts"]
    ipc = str(sandbox_dir / "ipc")
    argv += _dirs_for([ipc, SEED], ["/proc", "/dev", HOME] + [d for _, d in binds], mounted=("/tmp",))
    argv += ["--bind", ipc, ipc,
             "--ro-bind", str(sandbox_dir / "seed"), SEED,
             "--ro-bind-data", str(fds["policy"]), RUN + "/policy.json",
             "--chdir", HOME, "--clearenv"]
    env = {
        "HOME": HOME, "USER": "learner", "LOGNAME": "learner", "TMPDIR": "/tmp",
        "PATH": f"{Path(policy['python']).parent}:/usr/local/bin:/usr/bin:/bin",
        "LANG": "C.UTF-8", "PYTHONNOUSERSITE": "1", "PYTHONDONTWRITEBYTECODE": "1",
        "POLICYLAB_DATASETS": DATASETS, "POLICYLAB_SANDBOX": "1",
        "MPLBACKEND": "Agg", "MPLCONFIGDIR": HOME + "/.config/matplotlib",
        "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
        "MALLOC_ARENA_MAX": "2", "PYDEVD_DISABLE_FILE_VALIDATION": "1",
        **policy.get("env", {}),
    }
    for name in policy.get("pass_env", []):
        if name in os.environ:
            env[name] = os.environ[name]
    for name, value in env.items():
        argv += ["--setenv", name, value]
    argv += ["--json-status-fd", str(fds["status"]), "--",
             policy["python"], "-m", "policylab.grading.sandbox.kernel", "--inner",
             "--policy", RUN + "/policy.json", "-f", str(sandbox_dir / "ipc" / "kernel.json"),
             "--uid", str(uid if root_mode else -1), *extra]
    return argv


def _data_fd(text: str) -> int:
    r, w = os.pipe()
    data = text.encode("utf-8")
    if len(data) > 60_000:
        raise ValueError("data too large for a pipe")
    os.write(w, data)
    os.close(w)
    return r


class _Monitor:
    """Watches a running sandbox from outside; kills it when a limit is reached."""

    def __init__(self, limits: dict, status: dict, sandbox_dir: Path):
        self.limits = limits
        self.status = status
        self.sandbox_dir = sandbox_dir
        self.child: int | None = None
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
            _write_status(self.sandbox_dir, self.status)
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


def launch(policy_path: str, connection_file: str, extra: list[str] = ()) -> int:
    policy = json.loads(Path(policy_path).read_text(encoding="utf-8"))
    chosen = os.environ.get("POLICYLAB_DATASETS")  # set by the grader per learner: that learner's draw
    if chosen and Path(chosen).is_dir():
        policy["ro_binds"] = [[str(Path(chosen).resolve()) if dest == DATASETS else src, dest]
                              for src, dest in policy["ro_binds"]]
    limits = policy["limits"]
    sandbox_dir = Path(os.environ.get(SANDBOX_DIR_ENV, ""))
    conn = json.loads(Path(connection_file).read_text(encoding="utf-8"))
    if not os.environ.get(SANDBOX_DIR_ENV) or conn.get("transport") != "ipc" \
            or not str(conn.get("ip", "")).startswith(str(sandbox_dir / "ipc") + "/"):
        print("policylab sandbox: start this kernel through policylab.grading.sandbox.execute.SandboxKernelManager "
              "(IPC transport, a folder per kernel)", file=sys.stderr)
        return 2
    status: dict = {"started": time.time(), "limits": limits}
    cwd = Path.cwd().resolve()
    why = _refusal(cwd, policy)
    if why:
        status.update(reason="sandbox_error", detail=f"refused working folder: {why}")
        _write_status(sandbox_dir, status)
        print(f"policylab sandbox: {status['detail']}", file=sys.stderr)
        return 2
    root_mode = os.geteuid() == 0
    uid = UID_BASE + os.getpid() % 1_000_000 if root_mode else 1000
    _stage(cwd, sandbox_dir / "seed", limits["disk_bytes"])
    (sandbox_dir / "ipc" / "kernel.json").write_text(json.dumps(conn), encoding="utf-8")
    if root_mode:
        for path in (sandbox_dir / "ipc", sandbox_dir / "ipc" / "kernel.json"):
            os.chown(path, uid, uid)
    status_r, status_w = os.pipe()
    fds = {
        "passwd": _data_fd(f"root:x:0:0::/root:/usr/sbin/nologin\nlearner:x:{uid}:{uid}:PolicyLab learner:{HOME}:/usr/sbin/nologin\n"),
        "group": _data_fd(f"root:x:0:\nlearner:x:{uid}:\n"),
        "hosts": _data_fd("127.0.0.1 localhost\n::1 localhost\n"),
        "policy": _data_fd(json.dumps(policy)),
        "masks": [(_data_fd(""), dest) for dest in policy.get("masks", []) if os.path.exists(dest)],
        "status": status_w,
    }
    argv = bwrap_argv(policy, sandbox_dir=sandbox_dir, root_mode=root_mode, uid=uid, fds=fds, extra=list(extra))
    passed = [fds["passwd"], fds["group"], fds["hosts"], fds["policy"], status_w] + [fd for fd, _ in fds["masks"]]
    monitor = _Monitor(limits, status, sandbox_dir)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # interrupts arrive as messages (interrupt_mode)

    proc = subprocess.Popen(argv, pass_fds=passed, stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    for fd in passed:
        os.close(fd)
    stderr_tail = bytearray()

    def drain_stderr() -> None:  # the kernel's own stderr: keep the end, never fill a disk
        for chunk in iter(lambda: proc.stderr.read1(65536), b""):
            stderr_tail.extend(chunk)
            del stderr_tail[:-8192]
    drainer = threading.Thread(target=drain_stderr, daemon=True)
    drainer.start()

    exit_code = None

    def on_term(signum, frame):
        # jupyter_client sends SIGTERM when a graceful shutdown is slow; a kernel that has already
        # reported its exit (bwrap's status fd) ended normally, however long the teardown took
        if exit_code is None:
            monitor.kill("terminated", f"launcher got signal {signum}")
    signal.signal(signal.SIGTERM, on_term)

    def read_status_fd() -> None:
        nonlocal exit_code
        with os.fdopen(status_r, "rb") as f:
            for line in f:
                try:
                    doc = json.loads(line)
                except ValueError:
                    continue
                if "child-pid" in doc:
                    monitor.child = int(doc["child-pid"])
                if "exit-code" in doc:
                    exit_code = int(doc["exit-code"])
    reader = threading.Thread(target=read_status_fd, daemon=True)
    reader.start()
    watcher = threading.Thread(target=monitor.run, daemon=True)
    watcher.start()
    rc = proc.wait()
    monitor.stop.set()
    reader.join(timeout=1)
    drainer.join(timeout=1)
    status["stderr_tail"] = stderr_tail[-2000:].decode("utf-8", "replace")
    code = exit_code if exit_code is not None else rc
    status["exit_code"] = code
    status["ended"] = time.time()
    if "reason" not in status:
        status.update(_classify_exit(code, monitor, limits))
    _write_status(sandbox_dir, status)
    return 0 if code == 0 else 1


def _classify_exit(code: int, monitor: _Monitor, limits: dict) -> dict:
    if code == 0:
        return {"reason": "exited", "detail": "kernel exited normally"}
    signum = code - 128 if code > 128 else None
    if signum == signal.SIGXCPU or monitor.cpu >= 0.95 * limits["cpu_seconds"]:
        return {"reason": "cpu_limit", "detail": f"CPU time limit of {limits['cpu_seconds']} s reached"}
    if monitor.peak_vm >= 0.9 * limits["memory_bytes"]:
        return {"reason": "memory_limit", "detail": f"address space reached {monitor.peak_vm} bytes"}
    if signum == signal.SIGXFSZ:
        return {"reason": "file_size_limit", "detail": "file size limit reached"}
    return {"reason": "kernel_died", "detail": f"kernel exit status {code}"}


# --------------------------------------------------------------------------- stub (inside)
def inner(policy_path: str, connection_file: str, uid: int, extra: list[str]) -> None:
    policy = json.loads(Path(policy_path).read_text(encoding="utf-8"))
    limits = policy["limits"]
    if uid >= 0:  # root mode: become the kernel's own unprivileged user
        os.setgroups([])
        os.setresgid(uid, uid, uid)
        os.setresuid(uid, uid, uid)
    for name, value in (("RLIMIT_AS", limits["memory_bytes"]), ("RLIMIT_FSIZE", limits["file_bytes"]),
                        ("RLIMIT_NPROC", limits["processes"]), ("RLIMIT_NOFILE", 512), ("RLIMIT_CORE", 0)):
        resource.setrlimit(getattr(resource, name), (value, value))
    cpu = limits["cpu_seconds"]
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 2))
    shutil.copytree(SEED, WORK, dirs_exist_ok=True)
    os.chdir(WORK)
    if not any(arg.startswith("--HistoryManager.hist_file") for arg in extra):
        extra = ["--HistoryManager.hist_file=:memory:", *extra]
    os.execv(sys.executable, [sys.executable, "-m", "ipykernel_launcher", "-f", connection_file, *extra])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="policylab.grading.sandbox.kernel")
    parser.add_argument("--policy", required=True)
    parser.add_argument("-f", dest="connection_file", required=True)
    parser.add_argument("--inner", action="store_true")
    parser.add_argument("--uid", type=int, default=-1)
    args, extra = parser.parse_known_args(argv)
    if args.inner:
        inner(args.policy, args.connection_file, args.uid, extra)
        return 1  # execv does not return
    return launch(args.policy, args.connection_file, extra)


if __name__ == "__main__":
    sys.exit(main())
