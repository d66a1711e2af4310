"""Copy and lesson attacks on converted modules: the share of autograded points each earns.

For N learners' draws of each converted module (policylab.grading.attacks): learner A's answers as
constants on learner B's draw (copy), and the method's values on the shared data the lesson uses
(lesson), each judged by the real checker and the module's reference. The quality gates hold both
at ≤20%; this prints the figures and which questions they pass, plus each draw's planted values.

    .venv/bin/python bench/attacks.py                    # every converted module, 5 draws
    .venv/bin/python bench/attacks.py --module m09 --learners 3
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--module", action="append", default=None)
    parser.add_argument("--learners", type=int, default=5)
    args = parser.parse_args(argv)

    from policylab.course.modules import load_modules
    from policylab.data.synth.draws.build import read_truth
    from policylab.grading.attacks import copy_attack, lesson_attack, many_draws

    modules = args.module or [m.id for m in load_modules(REPO, ready_only=True) if m.converted]
    scratch = Path(tempfile.mkdtemp(prefix="policylab-attacks-"))
    os.environ["POLICYLAB_CACHE_DIR"] = str(scratch / "cache")
    worst = 0.0
    try:
        for name in ("nbgrader_config.py", "course.yml"):
            shutil.copy2(REPO / name, scratch / name)
        (scratch / "datasets").symlink_to(REPO / "datasets", target_is_directory=True)
        for module_id in modules:
            shutil.copytree(REPO / "solutions" / module_id, scratch / "solutions" / module_id)
            started = time.monotonic()
            learners = [f"learner{i}" for i in range(1, args.learners + 1)]
            d = many_draws(module_id, scratch, learners)
            print(f"\n{module_id}: {len(learners)} draws ({time.monotonic() - started:.0f} s for the draws and their values)")
            for learner in learners:
                params = read_truth(scratch, learner, module_id).get("params", {})
                effects = read_truth(scratch, learner, module_id).get("effects", [])
                flat = {f"{k}.{kk}" if isinstance(v, dict) else k: vv for k, v in params.items()
                        for kk, vv in (v.items() if isinstance(v, dict) else [(None, v)])}
                shown = {k: v for k, v in flat.items() if len(str(v)) < 60}
                print(f"  {learner}: {shown}" + (f"; effects {[(e['name'], e['value']) for e in effects]}" if effects else ""))
            for a, b, got, passed in copy_attack(d):
                worst = max(worst, got)
                print(f"  copy   {a} -> {b}: {got:5.1%}  passes {passed or '-'}")
            for learner, got, passed in lesson_attack(d):
                worst = max(worst, got)
                print(f"  lesson -> {learner}: {got:5.1%}  passes {passed or '-'}")
        print(f"\nworst attack: {worst:.1%} of autograded points (limit 20%); "
              f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
        return 0 if worst <= 0.2 else 1
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    sys.path.insert(0, str(REPO / "src"))
    sys.exit(main())
