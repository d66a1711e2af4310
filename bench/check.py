"""Check-before-submit latency: from request to answer, one check and ten at once (issue 21, target
<= 10 s for m01 alone and <= 30 s for the heaviest module, on 2 cores).

Each request goes through the hub check service's own path (policylab.hub.precheck_service.answer:
admission, the queue with the service's default of one check running at a time, then `policylab check`
in a process of its own: CLI start, sandboxed kernel, checker, references, diagnosis), minus the hub's
login. The course is a scratch copy with the module's draws built, as a running course has them. The
notebook is the solution with one bank mistake, so the diagnosis runs as for a learner with a wrong answer.
"Ten at once" is ten learners asking in the same instant: the last answer waits for the nine before it.

    .venv/bin/python bench/check.py                     # m01 and m13
    .venv/bin/python bench/check.py --modules m02 --concurrent 4
"""
from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def _course(dest: Path, module_id: str, learners: list[str]) -> Path:
    import nbformat
    import yaml

    from policylab.course.build import build_exercises
    from policylab.grading.roster import Learner, write_roster
    from policylab.grading.variants import build_variants

    dest.mkdir(parents=True)
    for name in ("nbgrader_config.py", "course.yml"):
        shutil.copy2(REPO / name, dest / name)
    shutil.copytree(REPO / "solutions" / module_id, dest / "solutions" / module_id)
    (dest / "datasets").symlink_to(REPO / "datasets", target_is_directory=True)
    (dest / "grading").mkdir()
    build_exercises(root=dest, modules=[module_id])
    write_roster(dest, [Learner(l, department="주차사업처", cohort="2025-1기", start_date="2025-03-03") for l in learners])
    build_variants(dest, learners=learners, modules=[module_id])
    source = dest / "solutions" / module_id / f"{module_id}.ipynb"
    nb = nbformat.read(source, as_version=4)
    mistake = (yaml.safe_load((dest / "solutions" / module_id / "misconceptions.yml").read_text(encoding="utf-8")) or [])[0]
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == mistake["cell"]:
            cell.source = mistake["code"]
    nbformat.write(nb, dest / f"{module_id}.ipynb")
    return dest


async def _ask(root: Path, module_id: str, learners: list[str], workers: int) -> list[float]:
    """Seconds from request to answer for each learner, all asking at once, through the service's queue."""
    from policylab.hub.precheck_service import Limits, answer

    limits, slots = Limits(workers=workers, queue=len(learners), cooldown=0), asyncio.Semaphore(workers)
    body = (root / f"{module_id}.ipynb").read_bytes()
    env = {**os.environ, "POLICYLAB_ROOT": str(root)}

    async def one(learner: str) -> float:
        started = time.perf_counter()
        reply = await answer(body, f"{module_id}.ipynb", learner, limits=limits, slots=slots,
                             command=[str(BIN / "policylab")], env=env)
        if not any(q["verdict"] == "named" for q in reply["result"]["questions"]):
            raise SystemExit(f"{module_id} {learner}: the bank mistake was not named: {reply['text']}")
        return time.perf_counter() - started

    return list(await asyncio.gather(*(one(learner) for learner in learners)))


def _check(root: Path, module_id: str, learner: str, workers: int = 1) -> float:
    return asyncio.run(_ask(root, module_id, [learner], workers))[0]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--modules", default="m01,m13")
    parser.add_argument("--concurrent", type=int, default=10)
    parser.add_argument("--workers", type=int, default=1, help="checks the service runs at once (its default: 1)")
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="policylab-bench-check-"))
    try:
        print(f"{'module':<8}{'first check s':>15}{'again s':>9}{f'{args.concurrent} at once: median s':>26}"
              f"{'slowest s':>11}")
        for module_id in args.modules.split(","):
            learners = [f"bench{i:02d}" for i in range(args.concurrent + 1)]
            root = _course(scratch / module_id, module_id, learners)
            first = _check(root, module_id, learners[0])  # cold: the draw's reference and diagnosis are computed
            one = _check(root, module_id, learners[0])    # again (the learner's next check): those are cached
            for learner in learners[1:]:                  # each of the ten has checked once before
                _check(root, module_id, learner)
            times = sorted(asyncio.run(_ask(root, module_id, learners[1:], args.workers)))
            print(f"{module_id:<8}{first:>15.1f}{one:>9.1f}{times[len(times) // 2]:>26.1f}{times[-1]:>11.1f}",
                  flush=True)
        print(f"service workers: {args.workers}; load average (1 min) at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
        return 0
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    sys.path.insert(0, str(REPO / "src"))
    sys.exit(main())
