"""Per-learner draws: seconds to build one learner's draw of each converted module, cold and cached.

Target (DESIGN §7): ≤2 s per learner per module, cached by the key's fingerprint. Each draw is built
into a scratch course, as `policylab variants build` and the grader do; then built again (found fresh in
the cache), and the module's reference is computed on it (the checker's once-per-draw cost).

    .venv/bin/python bench/draws.py                      # 20 learners, every converted module
    .venv/bin/python bench/draws.py --learners 50 --module m09
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--learners", type=int, default=20)
    parser.add_argument("--module", action="append", default=None)
    args = parser.parse_args(argv)

    from policylab.data.draw_identity import load_variant_key
    from policylab.data.synth.draws.build import RECIPES, build_draw
    from policylab.grading.reference import compute

    modules = args.module or list(RECIPES)
    key, _ = load_variant_key()
    scratch = Path(tempfile.mkdtemp(prefix="policylab-draws-"))
    os.environ["POLICYLAB_CACHE_DIR"] = str(scratch / "cache")
    try:
        for name in ("nbgrader_config.py", "course.yml"):
            shutil.copy2(REPO / name, scratch / name)
        for module_id in modules:
            shutil.copytree(REPO / "solutions" / module_id, scratch / "solutions" / module_id)
        print(f"{'module':<8}{'cold s (median)':>16}{'cold s (max)':>14}{'cached s':>10}{'reference s':>13}{'MB':>7}"
              f"   target: cold ≤ 2 s")
        worst = 0.0
        for module_id in modules:
            cold, cached, ref, size = [], [], [], []
            for i in range(args.learners):
                learner = f"bench{i:03d}"
                t = time.perf_counter()
                folder = build_draw(module_id, learner, key=key, root=scratch)
                cold.append(time.perf_counter() - t)
                t = time.perf_counter()
                build_draw(module_id, learner, key=key, root=scratch)
                cached.append(time.perf_counter() - t)
                t = time.perf_counter()
                compute(module_id, folder, root=scratch)
                ref.append(time.perf_counter() - t)
                size.append(sum(p.stat().st_size for p in folder.iterdir()) / 1e6)
            worst = max(worst, max(cold))
            print(f"{module_id:<8}{statistics.median(cold):>16.3f}{max(cold):>14.3f}{statistics.median(cached):>10.4f}"
                  f"{statistics.median(ref):>13.3f}{statistics.median(size):>7.2f}")
        print(f"{args.learners} learners per module; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; "
              + ("target met" if worst <= 2.0 else f"TARGET MISSED (slowest {worst:.2f} s)"))
        return 0 if worst <= 2.0 else 1
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    sys.path.insert(0, str(REPO / "src"))
    sys.exit(main())
