"""The sandboxed kernel on its own: what it can see, reach and use (real kernels, no nbgrader)."""
from __future__ import annotations

import asyncio
import json
import os
import socket
import sys
from pathlib import Path

import pytest
from attacks.course import build_course

from policylab.grading.sandbox import configure as sandbox
from policylab.grading.sandbox.execute import SandboxKernelManager

pytestmark = pytest.mark.xdist_group("sandbox-kernel")

LIMITS = sandbox.Limits(memory_mb=1024, cpu_seconds=30, processes=64, file_mb=4, disk_mb=16, tmp_mb=8)

PROBE = r'''
import json, os, resource, socket, pathlib
facts = {}
facts["cwd"] = os.getcwd()
facts["cwd_files"] = sorted(os.listdir("."))
facts["root_entries"] = sorted(os.listdir("/"))
facts["uid"] = os.getuid()
for name, path in PATHS.items():
    facts["exists_" + name] = os.path.exists(path)
try:
    open("written.txt", "w").write("ok"); facts["cwd_writable"] = True
except OSError:
    facts["cwd_writable"] = False
from policylab.course.paths import DATASETS
facts["datasets_rows"] = len(open(DATASETS / "fees.csv").read().splitlines())
try:
    open(DATASETS / "fees.csv", "a").write("x"); facts["datasets_writable"] = True
except OSError:
    facts["datasets_writable"] = False
try:
    socket.create_connection(("127.0.0.1", PORT), timeout=2); facts["network"] = True
except OSError:
    facts["network"] = False
home = PATHS["home"]
facts["home_entries"] = sorted(os.listdir(home)) if os.path.isdir(home) else []
facts["pids"] = sorted(int(p) for p in os.listdir("/proc") if p.isdigit())
facts["rlimits"] = {n: resource.getrlimit(getattr(resource, n))[1] for n in ("RLIMIT_AS", "RLIMIT_NPROC", "RLIMIT_FSIZE", "RLIMIT_CPU")}
facts["nbgrader_execution"] = os.environ.get("NBGRADER_EXECUTION")
facts["env_home"] = os.environ.get("HOME")
status = dict(line.split(":", 1) for line in open("/proc/self/status").read().splitlines())
facts["caps"] = {k: int(status[k], 16) for k in ("CapEff", "CapPrm", "CapAmb")}
facts["no_new_privs"] = status["NoNewPrivs"].strip()
import sys
facts["forked"] = "statsmodels.formula.api" in sys.modules  # imported by the zygote, never by this probe
facts["open_fds"] = len(os.listdir("/proc/self/fd"))
print(json.dumps(facts))
'''


async def _run(root: Path, cwd: Path, code: str, *, zygote: bool = True) -> tuple[str, dict | None]:
    spec = sandbox.install_kernelspec(root=root, limits=LIMITS)
    km = SandboxKernelManager(kernel_name=sandbox.KERNEL_NAME, kernel_dirs=[str(spec.parent)], zygote=zygote)
    await km.start_kernel(cwd=str(cwd))
    kc = km.client()
    kc.start_channels()
    out = []
    try:
        await kc.wait_for_ready(timeout=60)
        await kc.execute_interactive(code, timeout=60,
                                     output_hook=lambda m: out.append(m["content"].get("text", "")))
    finally:
        kc.stop_channels()
        await km.shutdown_kernel(now=False)
        await km.cleanup_resources()
    return "".join(out), km.sandbox_status


# every fact holds for a kernel forked from the zygote (the default, as root) and for a cold one
@pytest.fixture(scope="module", params=["zygote", "cold"])
def facts(request, tmp_path_factory):
    sandbox.check_available()
    root = build_course(tmp_path_factory.mktemp("kernel-course"))
    (root / "grading" / "gradebook.db").parent.mkdir(parents=True, exist_ok=True)
    (root / "grading" / "gradebook.db").write_text("db")
    work = root / "grading" / "autograded" / "someone" / "m01"
    work.mkdir(parents=True)
    (work / "m01.ipynb").write_text("{}")
    os.symlink(root / "grading" / "gradebook.db", work / "link_to_gradebook")
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    paths = {"solutions": str(root / "solutions"), "gradebook": str(root / "grading" / "gradebook.db"),
             "home": str(Path.home()), "course_root": str(root / "nbgrader_config.py"),
             "repo_git": str(Path(__file__).resolve().parents[1] / ".git")}
    code = f"PATHS = {paths!r}\nPORT = {listener.getsockname()[1]}\n" + PROBE
    os.environ["NBGRADER_EXECUTION"] = "autograde"
    try:
        text, status = asyncio.run(_run(root, work, code, zygote=request.param == "zygote"))
    finally:
        os.environ.pop("NBGRADER_EXECUTION", None)
        listener.close()
    return {"facts": json.loads(text.strip().splitlines()[-1]), "status": status, "work": work, "root": root,
            "mode": request.param}


def test_kernel_sees_a_copy_of_its_working_folder_only(facts):
    f = facts["facts"]
    assert f["cwd"] == "/home/learner/work"
    assert f["cwd_files"] == ["m01.ipynb"]  # the symlink to the gradebook was not copied
    assert f["cwd_writable"] is True
    assert not (facts["work"] / "written.txt").exists(), "writes must stay in the sandbox"


def test_kernel_cannot_see_solutions_grading_home_or_the_repository(facts):
    f = facts["facts"]
    for name in ("solutions", "gradebook", "course_root", "repo_git"):
        assert f["exists_" + name] is False, name
    # the trainer's home shows at most the folder that leads to the Python install (pyenv)
    python_home = Path(sys.base_prefix).resolve()
    allowed = {python_home.relative_to(Path.home()).parts[0]} if Path.home() in python_home.parents else set()
    assert set(f["home_entries"]) <= allowed, f["home_entries"]


def test_datasets_are_read_only_and_python_works(facts):
    f = facts["facts"]
    assert f["datasets_rows"] == 5
    assert f["datasets_writable"] is False


def test_no_network_and_a_process_namespace_of_its_own(facts):
    f = facts["facts"]
    assert f["network"] is False
    assert max(f["pids"]) < 20, f["pids"]


def test_limits_are_set_and_the_kernel_is_not_root(facts):
    f = facts["facts"]
    assert f["uid"] != 0
    assert f["rlimits"]["RLIMIT_AS"] == LIMITS.memory_mb << 20
    assert f["rlimits"]["RLIMIT_NPROC"] == LIMITS.processes
    assert f["rlimits"]["RLIMIT_FSIZE"] == LIMITS.file_mb << 20
    assert f["nbgrader_execution"] == "autograde"
    assert f["env_home"] == "/home/learner"
    assert f["caps"] == {"CapEff": 0, "CapPrm": 0, "CapAmb": 0} and f["no_new_privs"] == "1"


def test_the_kernel_came_the_way_it_was_asked_to(facts):
    """The other facts are worth something only if the zygote path was taken when asked (as root)."""
    assert facts["facts"]["forked"] is (facts["mode"] == "zygote" and os.geteuid() == 0)
    pids = facts["facts"]["pids"]  # bwrap's init, then the kernel (cold), or the holder and the kernel (forked)
    assert pids[:2] == [1, 2] and len(pids) == (3 if facts["facts"]["forked"] else 2), pids


def test_launcher_records_a_normal_exit(facts):
    assert facts["status"]["reason"] == "exited"


def test_launcher_refuses_a_working_folder_that_holds_the_course(tmp_path):
    root = build_course(tmp_path / "course")
    with pytest.raises(RuntimeError):
        asyncio.run(_run(root, root, "print(1)"))


def test_unavailable_sandbox_says_why_and_how_to_fix(monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    sandbox._probe.cache_clear()
    try:
        with pytest.raises(sandbox.SandboxUnavailable, match="apt-get install -y bubblewrap"):
            sandbox.check_available()
        with pytest.raises(sandbox.SandboxUnavailable):
            sandbox.config_overrides(root=Path("/tmp/nowhere"))
        plain = sandbox.config_overrides(root=Path("/tmp/nowhere"), sandbox=False)
        assert "kernel_name" not in plain["SandboxExecute"] and plain["SandboxExecute"]["sandbox"] is False
    finally:
        sandbox._probe.cache_clear()


def test_kernelspec_is_private_to_the_course(tmp_path):
    spec = sandbox.install_kernelspec(root=tmp_path)
    kernel = json.loads((spec / "kernel.json").read_text(encoding="utf-8"))
    assert spec == tmp_path.resolve() / "grading" / ".sandbox" / "kernels" / sandbox.KERNEL_NAME
    assert kernel["argv"][1:3] == ["-m", "policylab.grading.sandbox.kernel"] and kernel["interrupt_mode"] == "message"
    policy = json.loads((spec / "policy.json").read_text(encoding="utf-8"))
    bound = [src for src, _ in policy["ro_binds"]]
    assert str(tmp_path.resolve()) not in bound and str(Path.home()) not in bound


ORPHAN = r'''
import asyncio, os, sys, time
from policylab.grading.sandbox import configure as sandbox
from policylab.grading.sandbox.execute import SandboxKernelManager

async def main():
    spec = sandbox.install_kernelspec(root=sys.argv[1], limits=sandbox.Limits(cpu_seconds=30))
    km = SandboxKernelManager(kernel_name=sandbox.KERNEL_NAME, kernel_dirs=[str(spec.parent)])
    await km.start_kernel(cwd=sys.argv[2])
    kc = km.client()
    kc.start_channels()
    await kc.wait_for_ready(timeout=60)
    from policylab.grading.sandbox import zygote
    print(km.provisioner.pid, *[entry[0].pid for entry in zygote._running.values()], flush=True)
    time.sleep(600)  # killed here, with its kernel running

asyncio.run(main())
'''


def test_a_kernel_whose_grader_is_killed_does_not_outlive_it(tmp_path):
    """A worker killed mid-notebook leaves no sandboxed kernel running on (seen: orphans for 20 min)."""
    import signal
    import subprocess
    import time

    root = build_course(tmp_path / "course")
    work = tmp_path / "work"
    work.mkdir()
    grader = subprocess.Popen([sys.executable, "-c", ORPHAN, str(root), str(work)], stdout=subprocess.PIPE, text=True)
    try:
        launcher, *zygotes = map(int, grader.stdout.readline().split())
        assert Path(f"/proc/{launcher}").exists()
        assert len(zygotes) == (os.geteuid() == 0)  # as root the kernel came from a zygote
        grader.send_signal(signal.SIGKILL)
        grader.wait(timeout=10)

        def alive(pid: int) -> bool:
            try:
                return "Z" not in Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
            except OSError:
                return False
        deadline = time.monotonic() + 15
        while any(map(alive, [launcher, *zygotes])) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not alive(launcher), "the sandbox launcher outlived the grader that started it"
        assert not any(map(alive, zygotes)), "the zygote outlived the grader that started it"
    finally:
        grader.kill()
