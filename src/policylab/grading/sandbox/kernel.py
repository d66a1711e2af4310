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
import shutil
import signal
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

from policylab.grading.sandbox.confine import (
    DATASETS,
    HOME,
    WORK,
    ZYGOTE_ENV,
    confine,
    kernel_args,
    sandbox_env,
)
from policylab.grading.sandbox.monitor import Monitor, write_status

RUN = "/run/policylab"
SEED = RUN + "/seed"
UID_BASE = 2_000_000  # root mode: each kernel runs as UID_BASE + (launcher pid % 1_000_000)
SANDBOX_DIR_ENV = "POLICYLAB_SANDBOX_DIR"


def read_status(sandbox_dir: Path) -> dict | None:
    try:
        return json.loads((Path(sandbox_dir) / "status.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


# --------------------------------------------------------------------------- launcher (outside)
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
    env = sandbox_env(policy)
    for name, value in env.items():
        argv += ["--setenv", name, value]
    argv += ["--json-status-fd", str(fds["status"]), "--",
             policy["python"], "-m", "policylab.grading.sandbox.kernel", "--inner",
             "--policy", RUN + "/policy.json", "-f", str(sandbox_dir / "ipc" / "kernel.json"),
             "--uid", str(uid if root_mode else -1),
             *(["--hold-fd", str(fds["ready"])] if "ready" in fds else []), *extra]
    return argv


def _data_fd(text: str) -> int:
    r, w = os.pipe()
    data = text.encode("utf-8")
    if len(data) > 60_000:
        raise ValueError("data too large for a pipe")
    os.write(w, data)
    os.close(w)
    return r


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
        write_status(sandbox_dir, status)
        print(f"policylab sandbox: {status['detail']}", file=sys.stderr)
        return 2
    root_mode = os.geteuid() == 0
    uid = UID_BASE + os.getpid() % 1_000_000 if root_mode else 1000
    _stage(cwd, sandbox_dir / "seed", limits["disk_bytes"])
    (sandbox_dir / "ipc" / "kernel.json").write_text(json.dumps(conn), encoding="utf-8")
    if root_mode:
        for path in (sandbox_dir / "ipc", sandbox_dir / "ipc" / "kernel.json"):
            os.chown(path, uid, uid)
    zygote = None
    if root_mode and os.environ.get(ZYGOTE_ENV):
        from policylab.grading.sandbox.zygote import connect

        zygote = connect(os.environ[ZYGOTE_ENV])  # None: it cannot be reached, the kernel starts cold
    status_r, status_w = os.pipe()
    fds = {
        "passwd": _data_fd(f"root:x:0:0::/root:/usr/sbin/nologin\nlearner:x:{uid}:{uid}:PolicyLab learner:{HOME}:/usr/sbin/nologin\n"),
        "group": _data_fd(f"root:x:0:\nlearner:x:{uid}:\n"),
        "hosts": _data_fd("127.0.0.1 localhost\n::1 localhost\n"),
        "policy": _data_fd(json.dumps(policy)),
        "masks": [(_data_fd(""), dest) for dest in policy.get("masks", []) if os.path.exists(dest)],
        "status": status_w,
    }
    if zygote is not None:
        ready_r, fds["ready"] = os.pipe()
    argv = bwrap_argv(policy, sandbox_dir=sandbox_dir, root_mode=root_mode, uid=uid, fds=fds, extra=list(extra))
    passed = [fds["passwd"], fds["group"], fds["hosts"], fds["policy"], status_w] + [fd for fd, _ in fds["masks"]]
    passed += [fds["ready"]] if zygote is not None else []
    monitor = Monitor(limits, status, sandbox_dir)
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

    exit_code = None  # the kernel's: from bwrap's status fd, or from the zygote

    def on_term(signum, frame):
        # jupyter_client sends SIGTERM when a graceful shutdown is slow; a kernel that has already
        # reported its exit ended normally, however long the teardown took
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
                if "exit-code" in doc and zygote is None:  # else the holder's, killed below
                    exit_code = int(doc["exit-code"])
    reader = threading.Thread(target=read_status_fd, daemon=True)
    reader.start()
    watcher = threading.Thread(target=monitor.run, daemon=True)
    watcher.start()
    if zygote is not None:
        from policylab.grading.sandbox.zygote import run_kernel

        request = {"uid": uid, "limits": limits, "env": {**sandbox_env(policy), "PWD": HOME}, "extra": list(extra),
                   "connection_file": str(sandbox_dir / "ipc" / "kernel.json")}
        exit_code = run_kernel(zygote, ready_r, monitor, request=request, tail=stderr_tail)
        if monitor.child:  # the holder's sandbox ends with it, and anything left in its pid namespace
            try:
                os.kill(monitor.child, signal.SIGKILL)
            except ProcessLookupError:
                pass
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
    write_status(sandbox_dir, status)
    return 0 if code == 0 else 1


def _classify_exit(code: int, monitor: Monitor, limits: dict) -> dict:
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
def inner(policy_path: str, connection_file: str, uid: int, extra: list[str], hold_fd: int = -1) -> None:
    limits = json.loads(Path(policy_path).read_text(encoding="utf-8"))["limits"]
    confine(uid, limits)
    shutil.copytree(SEED, WORK, dirs_exist_ok=True)
    os.chdir(WORK)
    if hold_fd >= 0:
        # the holder (policylab.grading.sandbox.zygote): the sandbox is ready for a forked kernel to
        # join; this process only keeps the sandbox alive until the launcher ends it
        os.write(hold_fd, b"1")
        os.close(hold_fd)
        while True:
            signal.pause()
    os.execv(sys.executable, [sys.executable, "-m", "ipykernel_launcher", *kernel_args(connection_file, extra)])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="policylab.grading.sandbox.kernel")
    parser.add_argument("--policy", required=True)
    parser.add_argument("-f", dest="connection_file", required=True)
    parser.add_argument("--inner", action="store_true")
    parser.add_argument("--uid", type=int, default=-1)
    parser.add_argument("--hold-fd", type=int, default=-1)
    args, extra = parser.parse_known_args(argv)
    if args.inner:
        inner(args.policy, args.connection_file, args.uid, extra, args.hold_fd)
        return 1  # execv does not return
    return launch(args.policy, args.connection_file, extra)


if __name__ == "__main__":
    sys.exit(main())
