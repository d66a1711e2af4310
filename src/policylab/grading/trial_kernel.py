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

    def snapshot(self, key: int) -> bool:
        """Keep, in the kernel, a deep copy of the namespace as it is now (modules by reference): a trial
        that changed shared data in place is undone by ``restore`` instead of a restart and a replay from
        the first cell (reading the data again). False when something in it cannot be copied."""
        return self._ok(self.run(_SNAPSHOT.format(key=key)), key)

    def restore(self, key: int) -> bool:
        """The namespace exactly as at ``snapshot(key)`` (names bound since are removed); the snapshot stays."""
        return self._ok(self.run(_RESTORE.format(key=key)), key)

    @staticmethod
    def _ok(outputs: list, key: int) -> bool:
        return any(f"policylab-snapshot-{key}-ok" in o.get("text", "") for o in outputs) and \
            not any(o.get("output_type") == "error" for o in outputs)

    def reset(self, cells: list, env: dict) -> bool:
        """Ready for another draw, of this module or another: an empty namespace, an empty working folder
        and that draw's environment (the modules it imported stay loaded: that is the saving)."""
        if not self.started or not self.client.km or not self.client.kc:
            return False
        for path in self.cwd.iterdir():
            if not path.name.startswith("kernel-ipc"):
                shutil.rmtree(path, ignore_errors=True) if path.is_dir() else path.unlink(missing_ok=True)
        changed = {k: v for k, v in env.items() if self.env.get(k) != v}
        gone = sorted(k for k in self.env if k not in env)
        try:
            outputs = self.run(f"%reset -f\nimport os as _os\n_os.environ.update({changed!r})\n"
                               f"for _k in {gone!r}:\n    _os.environ.pop(_k, None)\ndel _os\n")
        except Exception:  # noqa: BLE001 - a kernel that cannot take a cell is not reused
            return False
        if any(o.get("output_type") == "error" for o in outputs):
            return False
        self.cells, self.env = cells, env
        return True


# Run in the trusted kernel. A snapshot is one deepcopy of every user name together (objects shared by two
# names stay shared), leaving out IPython's own names, dunders, modules and these helpers' `_policylab*`
# names; restore copies it again, so one snapshot serves many trials. Snapshots live in the kernel's
# namespace, so `%reset -f` (reset, between draws) drops them with everything else.
_MINE = """def _policylab_mine(_policylab_ns, _policylab_ip=get_ipython()):
    import types
    return [k for k, v in _policylab_ns.items() if not k.startswith(("__", "_policylab"))
            and k not in _policylab_ip.user_ns_hidden and not isinstance(v, types.ModuleType)]
_policylab_snapshots = globals().get("_policylab_snapshots", {{}})
"""
_SNAPSHOT = _MINE + """try:
    import copy as _policylab_copy
    _policylab_snapshots[{key}] = _policylab_copy.deepcopy({{k: globals()[k] for k in _policylab_mine(globals())}})
    print("policylab-snapshot-{key}-ok")
except Exception:
    _policylab_snapshots.pop({key}, None)
"""
_RESTORE = _MINE + """if {key} in _policylab_snapshots:
    import copy as _policylab_copy
    for _policylab_name in _policylab_mine(globals()):
        del globals()[_policylab_name]
    globals().update(_policylab_copy.deepcopy(_policylab_snapshots[{key}]))
    print("policylab-snapshot-{key}-ok")
"""

# Trusted kernels kept between learners by a grading worker (keep_kernels): source notebook → kernel.
_parked: dict[str, TrialKernel] = {}
_keep = False


def keep_kernels(keep: bool = True) -> None:
    """Let a process that diagnoses many draws reuse its trusted kernel across them (a grading worker,
    module after module in a pool); ``False`` stops the parked kernels."""
    global _keep
    _keep = keep
    if not keep:
        while _parked:
            kernel = _parked.popitem()[1]
            kernel.stop()
            shutil.rmtree(kernel.cwd, ignore_errors=True)


def kernel_for(source: Path, cells: list, env: dict, timeout: int) -> TrialKernel:
    """The parked kernel of this source notebook, else of another (a kernel holds nothing of its module
    after ``reset`` but the modules it imported), else a new one."""
    kernel = _parked.pop(str(source), None) or (_parked.popitem()[1] if _parked else None)
    if kernel is not None:
        if kernel.reset(cells, env):
            kernel.client.timeout = timeout
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
