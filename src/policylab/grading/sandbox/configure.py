"""The grading sandbox: learner code reaches nothing but a copy of its own working folder.

One call turns it on for nbgrader::

    from policylab.grading.sandbox import configure as sandbox
    config = load_config(root, **sandbox.config_overrides(root=root))

``config_overrides`` checks that bubblewrap works here (``SandboxUnavailable`` says why and how
to fix it otherwise), installs the ``policylab-sandbox`` kernelspec into a private folder of the
course (``grading/.sandbox/kernels``), and returns the traitlets overrides that make nbgrader's
autograde

* run every notebook in that kernel (``policylab.grading.sandbox.kernel``: bwrap, no network, no view of
  solutions/, grading/ or any home; memory, CPU, process, file-size and disk limits),
* end a submission whose output passes a budget, and truncate long outputs with a Korean note
  (``policylab.grading.sandbox.execute``, ``policylab.grading.sandbox.output_budget``),
* run test cells' checks outside the learner's process on plain data
  (``policylab.grading.hidden_tests``, ``policylab.grading.checks``),
* record how each notebook's kernel ended, for the grading pipeline: ``read_outcomes``.

``config_overrides(root=..., sandbox=False)`` keeps everything but the bubblewrap kernel: the
``--no-sandbox`` path, for trusted (simulated) learners only.
"""
from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
import sys
import sysconfig
from dataclasses import asdict, dataclass
from pathlib import Path

import policylab

KERNEL_NAME = "policylab-sandbox"

# How a notebook's execution ended (``Outcome.ended``); anything but "completed" ended the
# submission early and earned no points.
ENDINGS = {
    "completed": "모든 셀을 실행했습니다",
    "memory_limit": "메모리 한도를 넘어 채점을 중단했습니다",
    "cpu_limit": "CPU 시간 한도를 넘어 채점을 중단했습니다",
    "process_limit": "프로세스 수 한도를 넘어 채점을 중단했습니다",
    "file_size_limit": "파일 크기 한도를 넘어 채점을 중단했습니다",
    "disk_limit": "작업 폴더 용량 한도를 넘어 채점을 중단했습니다",
    "output_limit": "출력량 한도를 넘어 채점을 중단했습니다",
    "timeout": "셀 실행 시간 한도를 넘어 채점을 중단했습니다",
    "kernel_died": "커널이 종료되어 채점을 중단했습니다",
    "sandbox_error": "채점 샌드박스를 시작하지 못했습니다",
}
# The endings that are a resource limit: the grading pipeline records them as limit_exceeded.
LIMIT_ENDINGS = ("memory_limit", "cpu_limit", "process_limit", "file_size_limit", "disk_limit", "output_limit")


class SandboxUnavailable(RuntimeError):
    """The sandbox cannot start on this machine; the message says why and how to fix it."""


@dataclass(frozen=True)
class Limits:
    """Per-kernel limits. Defaults fit a module's exercise with the full datasets on a 2-core machine."""

    memory_mb: int = 4096        # address space (RLIMIT_AS) of each process in the sandbox
    cpu_seconds: int = 600       # CPU time of each process (RLIMIT_CPU); cells also have Execute.timeout
    processes: int = 128         # processes + threads of the kernel's own user (RLIMIT_NPROC)
    file_mb: int = 256           # largest file the kernel may write (RLIMIT_FSIZE)
    disk_mb: int = 512           # the working folder (a tmpfs holding a copy of the submission)
    tmp_mb: int = 256            # /tmp
    output_mb: float = 8         # all output of one notebook; past this the submission ends

    def to_policy(self) -> dict:
        mb = 1 << 20
        return {"memory_bytes": self.memory_mb * mb, "cpu_seconds": self.cpu_seconds,
                "processes": self.processes, "file_bytes": self.file_mb * mb,
                "disk_bytes": self.disk_mb * mb, "tmp_bytes": self.tmp_mb * mb}


# ----------------------------------------------------------------------------- availability
FIX = ("Install bubblewrap (Debian/Ubuntu: `apt-get install -y bubblewrap`; Fedora: `dnf install bubblewrap`) "
       "and allow user namespaces (`sysctl -w kernel.unprivileged_userns_clone=1` on older Debian, "
       "`sysctl -w kernel.apparmor_restrict_unprivileged_userns=0` on Ubuntu 24.04). "
       "Only for trusted, simulated learners: grade with --no-sandbox.")


@functools.lru_cache(maxsize=1)
def _probe() -> str | None:
    """None when bwrap can start a sandbox like the kernel's, else the reason it cannot."""
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        return "bubblewrap (`bwrap`) is not installed"
    argv = [bwrap, "--die-with-parent", "--unshare-ipc", "--unshare-pid", "--unshare-net",
            "--unshare-uts", "--ro-bind", "/", "/", "--proc", "/proc", "--dev", "/dev"]
    if os.geteuid() != 0:
        argv += ["--unshare-user", "--disable-userns"]
    try:
        done = subprocess.run(argv + ["true"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"`bwrap` could not run: {exc}"
    if done.returncode != 0:
        return f"`bwrap` cannot create namespaces here: {done.stderr.strip() or done.returncode}"
    return None


def check_available() -> None:
    """Raise SandboxUnavailable (why, and how to fix it) unless a sandboxed kernel can start here."""
    why = _probe()
    if why:
        raise SandboxUnavailable(f"The grading sandbox cannot start: {why}. {FIX}")


# ----------------------------------------------------------------------------- kernelspec
def _package_src() -> Path:
    return Path(policylab.__file__).resolve().parent.parent


def build_policy(*, root: Path, limits: Limits) -> dict:
    """What the launcher binds and hides, and the limits (written beside the kernelspec)."""
    root = Path(root).resolve()
    datasets = Path(os.environ.get("POLICYLAB_DATASETS") or root / "datasets").resolve()
    venv = Path(sys.prefix).resolve()
    base = Path(sys.base_prefix).resolve()
    src = _package_src()
    ro = [("/usr", "/usr")]
    for path in (base, venv, Path(sysconfig.get_paths()["purelib"]).resolve(), src):
        if not any(path == Path(d) or Path(d) in path.parents for _, d in ro):
            ro.append((str(path), str(path)))
    for etc in ("/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/localtime", "/etc/nsswitch.conf",
                "/etc/fonts", "/etc/alternatives", "/etc/mime.types"):
        ro.append((etc, etc))
    ro.append((str(datasets), "/srv/policylab/datasets"))
    home = Path.home().resolve()
    pkg = Path(policylab.__file__).resolve().parent
    return {
        "python": str(Path(sys.executable)),
        "ro_binds": [[s, d] for s, d in ro],
        # the package's folder that reveals answers (planted effects, the generator), compiled
        # files included: empty inside. Single files can still be listed in "masks".
        "hide_dirs": [str(pkg / "data" / "synth")],
        "masks": [],
        # a working folder that contains these, or lies inside protect_inside, is refused
        "protect": [str(root), str(home), "/"],
        "protect_inside": [str(root / "solutions"), str(root / "grading" / "submitted")],
        "pass_env": ["NBGRADER_EXECUTION", "OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "TZ"],
        "limits": limits.to_policy(),
    }


def kernelspec_dir(root: Path) -> Path:
    """The private folder holding the course's sandbox kernelspec (not on JUPYTER_PATH)."""
    return Path(root).resolve() / "grading" / ".sandbox" / "kernels"


def install_kernelspec(*, root: Path, limits: Limits | None = None) -> Path:
    """Write ``<root>/grading/.sandbox/kernels/policylab-sandbox/`` and return that folder."""
    limits = limits or Limits()
    spec = kernelspec_dir(root) / KERNEL_NAME
    spec.mkdir(parents=True, exist_ok=True)
    policy_file = spec / "policy.json"
    _write_atomic(policy_file, json.dumps(build_policy(root=root, limits=limits), indent=1))
    kernel = {
        "argv": [sys.executable, "-m", "policylab.grading.sandbox.kernel", "--policy", str(policy_file),
                 "-f", "{connection_file}"],
        "display_name": "Python 3 (PolicyLab 채점 샌드박스)",
        "language": "python",
        "interrupt_mode": "message",
        "metadata": {"debugger": False, "policylab": {"limits": asdict(limits)}},
    }
    _write_atomic(spec / "kernel.json", json.dumps(kernel, indent=1, ensure_ascii=False))
    return spec


def _write_atomic(path: Path, text: str) -> None:
    """Parallel graders may install at once: readers see the old file or the new one, never half."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


# ----------------------------------------------------------------------------- nbgrader config
def outcomes_dir(root: Path) -> Path:
    return Path(root).resolve() / "grading" / ".sandbox" / "outcomes"


def config_overrides(*, root: Path, sandbox: bool = True, limits: Limits | None = None,
                     record_dir: Path | None = None) -> dict:
    """Traitlets overrides for ``load_config(root, **overrides)`` that grade through the sandbox.

    ``sandbox=False`` keeps test integrity, output limits and outcome records but runs the
    stock ``python3`` kernel (for ``--no-sandbox``); the records then say ``"sandbox": false``.
    """
    limits = limits or Limits()
    overrides = {
        "Autograde": {
            "sanitize_preprocessors": [
                "nbgrader.preprocessors.ClearOutput",
                "nbgrader.preprocessors.DeduplicateIds",
                "nbgrader.preprocessors.OverwriteKernelspec",
                "policylab.grading.hidden_tests.RestoreCellMetadata",
                "nbgrader.preprocessors.OverwriteCells",
                "policylab.grading.hidden_tests.StripHiddenTests",
                "nbgrader.preprocessors.CheckCellMetadata",
            ],
            "autograde_preprocessors": [
                "policylab.grading.hidden_tests.InsertExports",
                "policylab.grading.sandbox.execute.SandboxExecute",
                "nbgrader.preprocessors.IgnorePattern",
                "nbconvert.preprocessors.ClearMetadataPreprocessor",
                "policylab.grading.hidden_tests.RunHiddenTests",
                "policylab.grading.trainer_figures.AddTrainerFigures",
                "policylab.grading.sandbox.output_budget.LimitOutput",
                "nbgrader.preprocessors.SaveAutoGrades",
                "nbgrader.preprocessors.AssignLatePenalties",
                "nbgrader.preprocessors.CheckCellMetadata",
            ],
        },
        "SandboxExecute": {
            "sandbox": sandbox,
            "output_limit": int(limits.output_mb * (1 << 20)),
            "record_dir": str(Path(record_dir).resolve() if record_dir else outcomes_dir(root)),
        },
    }
    if sandbox:
        check_available()
        spec = install_kernelspec(root=root, limits=limits)
        overrides["SandboxExecute"]["kernel_name"] = KERNEL_NAME
        overrides["SandboxKernelManager"] = {"kernel_dirs": [str(spec.parent)]}
    return overrides


# ----------------------------------------------------------------------------- outcomes
def read_outcomes(module_id: str, learner: str, *, root: Path | None = None,
                  record_dir: Path | None = None) -> list[dict]:
    """How each of the learner's notebooks ended in the last autograde, one dict per notebook:
    ``{"ended": <a key of ENDINGS>, "detail": str, "sandbox": bool, "notebook": str, ...}``.
    An empty list means no record (the notebook never reached execution)."""
    if record_dir is None:
        from policylab.course.paths import find_root

        record_dir = outcomes_dir(root or find_root())
    folder = Path(record_dir)
    folder = folder / module_id / learner
    if not folder.is_dir():
        return []
    return [json.loads(p.read_text(encoding="utf-8")) for p in sorted(folder.glob("*.json"))]
