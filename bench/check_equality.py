"""Does the check before submitting answer as the grader grades? (issue 21, on the demo cohort)

A scratch course gets the demo's simulated cohort (every ready module unless --modules, the demo's
learner count and broken kinds), graded by `policylab grade`'s own function into a gradebook and a
snapshot. Then every submission is checked with `policylab check`'s function as its learner would, and
each autograded question is compared: the check says right exactly where the grader gave full marks,
names exactly the mistake the grader's detector named, says unexplained exactly where the grader
named none, and did-not-run with the same state where the grader recorded a state that scores nothing;
a notebook the grader records as unreadable, the check refuses to read (a Korean message, no attempt).

    .venv/bin/python bench/check_equality.py                    # 30 learners, every ready module
    .venv/bin/python bench/check_equality.py --modules m01,m02 --learners 10
"""
from __future__ import annotations

import argparse
import csv
import shutil
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _graded(root: Path) -> tuple[dict, dict]:
    """(learner, module) → state, and (learner, module, question) → (right, misconception), from the snapshot."""
    from policylab.grading.batch import export_snapshot

    paths = export_snapshot(root=root, out_dir=root / "snapshot")
    with open(paths["results"], encoding="utf-8") as fh:
        state = {(r["learner_id"], r["module"]): r["state"] for r in csv.DictReader(fh)}
    with open(paths["questions"], encoding="utf-8") as fh:
        questions = {(r["learner_id"], r["module"], r["question"]):
                     (r["score"] != "" and float(r["score"]) >= float(r["max_score"]), r["misconception"])
                     for r in csv.DictReader(fh) if r["kind"] == "auto"}
    return state, questions


def main() -> int:
    from policylab.course.modules import load_modules
    from policylab.demo.cohort import FAST_BROKEN_KINDS, simulate_cohort
    from policylab.grading import states
    from policylab.grading.batch import grade_module
    from policylab.grading.precheck import NAMED, NOT_RUN, RIGHT, UNEXPLAINED, CheckRefused, check_notebook

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--modules", default="", help="comma-separated (default: every ready module)")
    parser.add_argument("--learners", type=int, default=30, help="the demo's default: 30")
    parser.add_argument("--keep", action="store_true", help="keep the scratch course")
    parser.add_argument("--reuse", default="", help="a course kept by --keep: its unchanged submissions are not regraded")
    args = parser.parse_args()
    module_ids = args.modules.split(",") if args.modules else [m.id for m in load_modules(REPO, ready_only=True)]
    scratch = Path(args.reuse) if args.reuse else Path(tempfile.mkdtemp(prefix="policylab-check-equality-"))
    try:
        from autograde import _course  # bench/autograde.py's scratch course of several modules

        root = scratch / "course" if args.reuse else _course(scratch / "course", module_ids)
        cohort = simulate_cohort(module_ids, root=root, learners=args.learners, broken=FAST_BROKEN_KINDS)
        started = time.perf_counter()
        for module_id in module_ids:
            grade_module(module_id, root=root)
        grading = time.perf_counter() - started
        state, graded = _graded(root)
        tally, differ, seconds = Counter(), [], []
        print(f"{'module':<8}{'submissions':>12}{'verdicts':>10}{'equal':>7}   right/named/unexplained/not run/refused")
        for module_id in module_ids:
            subs = [s for s in cohort.submissions if s.module == module_id]
            module_tally = Counter()
            for sub in subs:
                folder = root / "grading" / "submitted" / sub.learner / module_id
                notebook = next(folder.glob("*.ipynb"), None)
                if notebook is None:
                    continue
                t0 = time.perf_counter()
                recorded = state[(sub.learner, module_id)]
                try:
                    result = check_notebook(notebook, learner=sub.learner, module_id=module_id, root=root)
                except CheckRefused as exc:  # what the grader records as unreadable, the check refuses to read
                    same = recorded == states.UNREADABLE
                    module_tally["refused"] += 1
                    module_tally["equal" if same else "differ"] += 1
                    if not same:
                        differ.append(f"{sub.learner} {module_id} ({sub.kind}): check refused ({exc}), grader {recorded}")
                    continue
                seconds.append(time.perf_counter() - t0)
                for q in result.questions:
                    right, named = graded.get((sub.learner, module_id, q.grade_id), (False, ""))
                    if recorded not in states.SCORED or recorded in states.ZEROED:
                        expected = NOT_RUN
                    else:
                        expected = RIGHT if right else NAMED if named else UNEXPLAINED
                    same = q.verdict == expected and (q.verdict != NAMED or q.misconception == named) \
                        and (q.verdict != NOT_RUN or result.state == recorded)
                    module_tally[q.verdict] += 1
                    module_tally["equal" if same else "differ"] += 1
                    if not same:
                        differ.append(f"{sub.learner} {module_id} {q.grade_id} ({sub.kind}): check {q.verdict} "
                                      f"{q.misconception or ''} [{result.state}], grader {expected} {named} [{recorded}]")
            n = module_tally["equal"] + module_tally["differ"]
            print(f"{module_id:<8}{len(subs):>12}{n:>10}{module_tally['equal']:>7}   "
                  f"{module_tally[RIGHT]}/{module_tally[NAMED]}/{module_tally[UNEXPLAINED]}/{module_tally[NOT_RUN]}"
                  f"/{module_tally['refused']}",
                  flush=True)
            tally.update(module_tally)
        print(f"\n{tally['equal']} of {tally['equal'] + tally['differ']} verdicts (per question, or a refused "
              "unreadable notebook) equal the grader's "
              f"({len(seconds)} checks, {sum(seconds) / max(1, len(seconds)):.1f} s each in-process; "
              f"grading took {grading:.0f} s)")
        for line in differ[:40]:
            print("  DIFFERS", line)
        return 1 if differ else 0
    finally:
        if args.keep or args.reuse:
            print(f"scratch course kept: {scratch}")
        else:
            shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    sys.path.insert(0, str(REPO / "src"))
    sys.exit(main())
