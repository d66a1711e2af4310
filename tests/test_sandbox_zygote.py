"""Kernels forked from the zygote: nothing passes from one learner's kernel to the next, nothing of a
kernel's request stays in the zygote, and a zygote that cannot be reached means a cold kernel, not an error."""
from __future__ import annotations

import asyncio
import json
import os
import re
from pathlib import Path

import pytest
from attacks.course import build_course

from policylab.grading.sandbox import configure as sandbox
from policylab.grading.sandbox import execute, zygote
from policylab.grading.sandbox.execute import SandboxKernelManager

pytestmark = [pytest.mark.xdist_group("sandbox-zygote"),
              pytest.mark.skipif(os.geteuid() != 0, reason="the zygote needs privileged bubblewrap (root); "
                                                           "as any other user every kernel starts cold")]

LIMITS = sandbox.Limits(memory_mb=2048, cpu_seconds=30, processes=64, file_mb=4, disk_mb=16, tmp_mb=8)

FIRST = r'''
import json, os, sys
import numpy as np, pandas as pd
pd.DataFrame.sum = lambda self, *a, **k: 42           # what a learner could do to a shared library
sys.modules["statsmodels.formula.api"].ols = None
for path in ("/tmp/left_behind", "/dev/shm/left_behind", os.path.expanduser("~/left_behind"), "left_behind"):
    open(path, "w").write("x")
print(json.dumps({"rand": float(np.random.rand()), "sum": pd.DataFrame({"a": [1]}).sum()}))
'''

SECOND = r'''
import json, os, sys
import numpy as np, pandas as pd
print(json.dumps({
    "rand": float(np.random.rand()),
    "sum": int(pd.DataFrame({"a": [1, 2]}).sum()["a"]),
    "ols": sys.modules["statsmodels.formula.api"].ols is not None,
    "left": [p for p in ("/tmp/left_behind", "/dev/shm/left_behind", os.path.expanduser("~/left_behind"),
                         "left_behind") if os.path.exists(p)],
    "pids": sorted(int(p) for p in os.listdir("/proc") if p.isdigit()),
    "zygote_socket": os.path.exists(SOCKET) or os.path.exists(os.path.dirname(SOCKET)),
    "forked": "statsmodels.formula.api" in sys.modules,
}))
'''


async def _run(root: Path, cwd: Path, code: str) -> tuple[dict, dict, str]:
    spec = sandbox.install_kernelspec(root=root, limits=LIMITS)
    km = SandboxKernelManager(kernel_name=sandbox.KERNEL_NAME, kernel_dirs=[str(spec.parent)])
    await km.start_kernel(cwd=str(cwd))
    key = km.session.key.decode()
    kc = km.client()
    kc.start_channels()
    out: list[str] = []
    try:
        await kc.wait_for_ready(timeout=60)
        await kc.execute_interactive(code, timeout=60, output_hook=lambda m: out.append(
            m["content"].get("text", "") or "".join(m["content"].get("traceback", []))))
    finally:
        kc.stop_channels()
        await km.shutdown_kernel(now=False)
        await km.cleanup_resources()
    return json.loads("".join(out).strip().splitlines()[-1]), km.sandbox_status, key


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    sandbox.check_available()
    root = build_course(tmp_path_factory.mktemp("zygote-course"))
    work = root / "grading" / "autograded" / "someone" / "m01"
    work.mkdir(parents=True)
    (work / "m01.ipynb").write_text("{}")
    return root, work


def test_one_learners_kernel_leaves_nothing_for_the_next(course):
    root, work = course
    first, first_status, _ = asyncio.run(_run(root, work, FIRST))
    socket_path = zygote.ensure(json.loads((sandbox.install_kernelspec(root=root, limits=LIMITS) / "policy.json")
                                           .read_text(encoding="utf-8")))
    second, second_status, _ = asyncio.run(_run(root, work, f"SOCKET = {socket_path!r}\n" + SECOND))
    assert first["sum"] == 42  # the change was made, in the first kernel
    assert second["forked"] is True
    assert second["sum"] == 3 and second["ols"] is True, "the second kernel saw the first one's changes"
    assert second["left"] == [], second["left"]
    assert second["rand"] != first["rand"], "numpy's unseeded generator must differ between kernels"
    pids = second["pids"]  # its own pid namespace: bwrap's init, the holder, itself
    assert pids[:2] == [1, 2] and len(pids) == 3, pids
    assert second["zygote_socket"] is False
    assert first_status["reason"] == second_status["reason"] == "exited"
    assert not (work / "left_behind").exists()


def _memory_holds(pid: int, needle: str) -> bool:
    """Whether any readable mapping of process ``pid`` contains ``needle`` (run as root)."""
    pattern = re.compile(re.escape(needle.encode()))
    with open(f"/proc/{pid}/maps") as maps, open(f"/proc/{pid}/mem", "rb", 0) as mem:
        for line in maps:
            fields = line.split()
            if "r" not in fields[1] or (len(fields) > 5 and fields[5] in ("[vvar]", "[vsyscall]")):
                continue
            start, end = (int(x, 16) for x in fields[0].split("-"))
            try:
                mem.seek(start)
                if pattern.search(mem.read(end - start)):
                    return True
            except (OSError, OverflowError, ValueError):
                continue
    return False


def test_the_zygote_keeps_nothing_of_the_kernels_it_started(course):
    """Each request is read by a fresh child: no later kernel's copy of the zygote holds an earlier kernel's key."""
    root, work = course
    keys = [asyncio.run(_run(root, work, "print('{}')"))[2] for _ in range(2)]
    procs = [entry[0] for entry in zygote._running.values() if entry[0].poll() is None]
    assert procs, "no zygote is running in this grading process"
    assert _memory_holds(os.getpid(), keys[0]), "the search must find a key where one is (the grader's memory)"
    for proc in procs:
        for key in keys:
            assert not _memory_holds(proc.pid, key)


def test_an_unreachable_zygote_means_a_cold_kernel(course, monkeypatch, tmp_path):
    root, work = course
    monkeypatch.setattr(execute, "ensure_zygote", lambda policy: str(tmp_path / "no-such-socket"))
    facts, _, _ = asyncio.run(_run(root, work, "import json, os, sys\nprint(json.dumps("
                                                  "{'forked': 'statsmodels.formula.api' in sys.modules,"
                                                  " 'pids': sorted(int(p) for p in os.listdir('/proc') if p.isdigit())}))"))
    assert facts == {"forked": False, "pids": [1, 2]}


def test_a_forked_kernel_refuses_to_run_as_root():
    """Defence in depth: a request without a kernel uid of its own ends the kernel before any learner code."""
    status_r, status_w = os.pipe()
    out_r, out_w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child ends in os._exit
        zygote._become_kernel({"uid": 0, "limits": {}, "env": {}, "extra": [], "connection_file": "x"}, out_w, status_w)
        os._exit(99)
    os.close(status_w)
    os.close(out_w)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 70
    assert os.read(status_r, 16) == b"70"
    assert b"never root" in os.read(out_r, 65536)


def test_the_limit_on_processes_counts_a_forked_kernel_once(course):
    """40 threads are within the 64-process limit: a kernel the sandbox's init adopted is not counted twice."""
    root, work = course
    code = ("import json, threading, time\nstop = threading.Event()\n"
            "threads = [threading.Thread(target=stop.wait) for _ in range(40)]\n"
            "[t.start() for t in threads]\ntime.sleep(1.0)\nstop.set()\n[t.join() for t in threads]\n"
            "print(json.dumps({'alive': True}))")
    facts, status, _ = asyncio.run(_run(root, work, code))
    assert facts == {"alive": True}
    assert status["reason"] == "exited", status
