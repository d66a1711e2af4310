"""What the grading sandbox costs per notebook, measured against the stock kernel in the same run.

    .venv/bin/python bench/sandbox.py [--repeat 8]

1. kernel start → ready → one trivial cell → shutdown, stock ``python3`` vs ``policylab-sandbox``;
2. nbgrader autograde of a one-question notebook (a hidden test included), stock config vs
   ``policylab.grading.sandbox.configure.config_overrides`` (sandboxed kernel + out-of-kernel checks + records).
Runs are interleaved so machine load hits both sides alike; prints medians and the difference.
"""
from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import nbformat
from jupyter_client.manager import AsyncKernelManager
from nbformat.v4 import new_code_cell, new_notebook

from policylab.course.nbconfig import load_config, make_api
from policylab.grading.sandbox import configure as sandbox
from policylab.grading.sandbox.execute import SandboxKernelManager

REPO = Path(__file__).resolve().parents[1]


async def _kernel_once(km, cwd: Path) -> float:
    start = time.perf_counter()
    await km.start_kernel(cwd=str(cwd))
    kc = km.client()
    kc.start_channels()
    await kc.wait_for_ready(timeout=60)
    await kc.execute_interactive("x = 1", timeout=60)
    kc.stop_channels()
    await km.shutdown_kernel(now=False)
    await km.cleanup_resources()
    return time.perf_counter() - start


def _course(root: Path) -> Path:
    shutil.copy2(REPO / "nbgrader_config.py", root / "nbgrader_config.py")
    (root / "datasets").mkdir()
    meta = lambda gid, **kw: {"nbgrader": {"grade_id": gid, "schema_version": 3, "grade": False,
                                           "solution": False, "locked": False, **kw}}
    nb = new_notebook(cells=[
        new_code_cell("### BEGIN SOLUTION\nanswer = 42\n### END SOLUTION\n", metadata=meta("q1_answer", solution=True)),
        new_code_cell("assert isinstance(answer, int), '정수여야 합니다.'\n### BEGIN HIDDEN TESTS\n"
                      "assert answer == 42, '값이 틀렸습니다.'\n### END HIDDEN TESTS\n",
                      metadata=meta("q1_tests", grade=True, locked=True, points=1)),
    ])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    (root / "solutions" / "b01").mkdir(parents=True)
    nbformat.write(nb, root / "solutions" / "b01" / "b01.ipynb")
    return root


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=8)
    args = parser.parse_args()
    sandbox.check_available()

    with tempfile.TemporaryDirectory(prefix="bench-sandbox-") as tmp:
        root = _course(Path(tmp))
        spec = sandbox.install_kernelspec(root=root)
        work = root / "grading" / "bench-work"
        work.mkdir(parents=True)
        stock_k, boxed_k = [], []
        for _ in range(args.repeat):
            stock_k.append(asyncio.run(_kernel_once(AsyncKernelManager(kernel_name="python3"), work)))
            boxed_k.append(asyncio.run(_kernel_once(
                SandboxKernelManager(kernel_name=sandbox.KERNEL_NAME, kernel_dirs=[str(spec.parent)]), work)))

        stock_api = make_api(load_config(root))
        boxed_api = make_api(load_config(root, **sandbox.config_overrides(root=root)))
        assert stock_api.generate_assignment("b01", force=True, create=True)["success"]
        source = root / "solutions" / "b01" / "b01.ipynb"
        stock_g, boxed_g = [], []
        for i in range(args.repeat):
            for api, times, who in ((stock_api, stock_g, f"stock{i}"), (boxed_api, boxed_g, f"boxed{i}")):
                folder = root / "grading" / "submitted" / who / "b01"
                folder.mkdir(parents=True)
                shutil.copy2(source, folder / "b01.ipynb")
                start = time.perf_counter()
                result = api.autograde("b01", who, force=True, create=True)
                times.append(time.perf_counter() - start)
                assert result["success"], result.get("error")

    def row(name, stock, boxed):
        s, b = statistics.median(stock), statistics.median(boxed)
        print(f"{name:<44} {s:7.2f} s {b:7.2f} s {b - s:+7.2f} s  ×{b / s:4.2f}")

    print(f"{'median of ' + str(args.repeat) + ' runs':<44} {'stock':>9} {'sandbox':>9} {'cost':>9}")
    row("kernel start + 1 cell + shutdown", stock_k, boxed_k)
    row("nbgrader autograde, 1 notebook", stock_g, boxed_g)


if __name__ == "__main__":
    main()
