"""What every sandboxed kernel gets, cold or forked from the zygote: its user, limits, environment, arguments.

Standard library only: the launcher and the stub inside the sandbox import it at each kernel start.
"""
from __future__ import annotations

import os
import resource
from pathlib import Path

HOME = "/home/learner"
WORK = HOME + "/work"
DATASETS = "/srv/policylab/datasets"
ZYGOTE_ENV = "POLICYLAB_ZYGOTE"  # the grader's zygote socket (policylab.grading.sandbox.zygote)


def sandbox_env(policy: dict) -> dict:
    """The whole environment of a sandboxed kernel (bwrap clears the launcher's)."""
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
    return env


def confine(uid: int, limits: dict) -> None:
    """The kernel's own user (root mode) and resource limits; a zygote-forked kernel calls this too."""
    if uid >= 0:  # root mode: become the kernel's own unprivileged user
        os.setgroups([])
        os.setresgid(uid, uid, uid)
        os.setresuid(uid, uid, uid)
    for name, value in (("RLIMIT_AS", limits["memory_bytes"]), ("RLIMIT_FSIZE", limits["file_bytes"]),
                        ("RLIMIT_NPROC", limits["processes"]), ("RLIMIT_NOFILE", 512), ("RLIMIT_CORE", 0)):
        resource.setrlimit(getattr(resource, name), (value, value))
    cpu = limits["cpu_seconds"]
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 2))


def kernel_args(connection_file: str, extra: list[str]) -> list[str]:
    if not any(arg.startswith("--HistoryManager.hist_file") for arg in extra):
        extra = ["--HistoryManager.hist_file=:memory:", *extra]
    return ["-f", connection_file, *extra]
