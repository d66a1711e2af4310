"""The trusted kernel the diagnosis runs its trials in (policylab.grading.signatures), and its reuse.

Our own solution and bank code only, never a learner's. A process that diagnoses many draws of one
module (a grading worker, the quality gates' draws) keeps one per source notebook with ``keep_kernels``
and resets it between draws (empty namespace, empty working folder, that draw's environment) instead of
starting a kernel and re-importing pandas and statsmodels for every learner.
"""
from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import nbformat


class TrialKernel:
    """One trusted kernel executing cells of the source notebook, restartable."""

    def __init__(self, cells: list, *, cwd: Path, env: dict, timeout: int):
        from nbclient import NotebookClient

        self.nb = nbformat.v4.new_notebook(cells=[])
        # stopped at once, not asked to exit: nothing in a trusted trial kernel needs saving (about 0.5 s a stop)
        self.client = NotebookClient(self.nb, kernel_name="python3", timeout=timeout, allow_errors=True,
                                     shutdown_kernel="immediate", resources={"metadata": {"path": str(cwd)}})
        self.env, self.cells, self.started, self.cwd = env, cells, False, cwd

    def start(self) -> None:
        from jupyter_core.utils import run_sync

        self.stop()
        self.client.km = km = self.client.create_kernel_manager()
        km.transport, km.ip = "ipc", str(self.cwd / "kernel-ipc")  # Unix sockets: no TCP ports to race for
        run_sync(self.client.async_start_new_kernel)(env=self.env)
        run_sync(self.client.async_start_new_kernel_client)()
        self.started = True

    def stop(self) -> None:
        if self.started:
            try:
                self.client._cleanup_kernel()
            except Exception:  # noqa: BLE001 - already gone
                pass
            self.started = False

    def run(self, code: str) -> list:
        cell = nbformat.v4.new_code_cell(code)
        self.nb.cells = [cell]
        self.client.execute_cell(cell, 0, store_history=False)
        return cell.outputs

    def reset(self, cells: list, env: dict) -> bool:
        """Ready for another draw of the same module: an empty namespace, an empty working folder and
        that draw's environment (the modules it imported stay loaded: that is the saving)."""
        if not self.started or not self.client.km or not self.client.kc:
            return False
        for path in self.cwd.iterdir():
            if not path.name.startswith("kernel-ipc"):
                shutil.rmtree(path, ignore_errors=True) if path.is_dir() else path.unlink(missing_ok=True)
        changed = {k: env[k] for k in ("POLICYLAB_ROOT", "POLICYLAB_DATASETS") if k in env}
        try:
            # and the DATASETS constant (fixed when policylab.course.paths was first imported) follows the draw
            outputs = self.run(f"%reset -f\nimport os as _os, sys as _sys\n_os.environ.update({changed!r})\n"
                               "_p = _sys.modules.get('policylab.course.paths')\n"
                               "if _p is not None: _p.DATASETS = _p.datasets_dir()\ndel _os, _sys, _p\n")
        except Exception:  # noqa: BLE001 - a kernel that cannot take a cell is not reused
            return False
        if any(o.get("output_type") == "error" for o in outputs):
            return False
        self.cells, self.env = cells, env
        return True


# Trusted kernels kept between learners by a grading worker (keep_kernels): source notebook → kernel.
_parked: dict[str, TrialKernel] = {}
_keep = False


def keep_kernels(keep: bool = True) -> None:
    """Let a process that diagnoses many draws of one module reuse its trusted kernel across them
    (a grading worker); ``False`` stops the parked kernels."""
    global _keep
    _keep = keep
    if not keep:
        while _parked:
            kernel = _parked.popitem()[1]
            kernel.stop()
            shutil.rmtree(kernel.cwd, ignore_errors=True)


def kernel_for(source: Path, cells: list, env: dict, timeout: int) -> TrialKernel:
    kernel = _parked.pop(str(source), None)
    if kernel is not None:
        if kernel.reset(cells, env):
            return kernel
        kernel.stop()
        shutil.rmtree(kernel.cwd, ignore_errors=True)
    kernel = TrialKernel(cells, cwd=Path(tempfile.mkdtemp(prefix="policylab-signatures-")), env=env, timeout=timeout)
    kernel.start()
    return kernel


def release(source: Path, kernel: TrialKernel, ok: bool) -> None:
    if _keep and ok and kernel.started and str(source) not in _parked:
        _parked[str(source)] = kernel
        return
    kernel.stop()
    shutil.rmtree(kernel.cwd, ignore_errors=True)
