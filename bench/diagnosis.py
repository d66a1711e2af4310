"""Benchmark: how often feedback names the simulated cohort's known mistakes, and wrongly.

Runs the demo's pipeline on a scratch copy of the course — simulated cohort, `policylab grade`
(sandbox on where it can start), `policylab feedback` — and measures against what the cohort
planted (each "misconception" submission records the bank ids it applied):

* named: of the test cells a planted misconception targets and that lost marks, the share whose
  feedback page names that misconception (its Korean explanation is on the page);
* wrong name: of all wrong autograded answers in the cohort, the share given a misconception
  that was not planted there;
* withheld: feedback pages withheld, in all and for learners whose answers were all right.

    .venv/bin/python bench/diagnosis.py [--learners 30] [--modules m01 m09 …]
"""
from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--learners", type=int, default=30)
    parser.add_argument("--modules", nargs="*", default=None, help="default: every ready module")
    parser.add_argument("--workers", type=int, default=None)
    args = parser.parse_args()

    from policylab.course.modules import load_modules
    from policylab.demo.cohort import FAST_BROKEN_KINDS, simulate_cohort
    from policylab.grading import states
    from policylab.grading.bank import load_bank
    from policylab.grading.batch import grade_module, read_scores
    from policylab.grading.feedback import write_feedback
    from policylab.grading.leaks import html_text
    from policylab.grading.sandbox.configure import SandboxUnavailable, check_available

    scratch = Path(tempfile.mkdtemp(prefix="policylab-bench-diagnosis-"))
    try:
        root = scratch / "course"
        root.mkdir()
        for name in ("nbgrader_config.py", "course.yml"):
            shutil.copy2(REPO / name, root / name)
        for folder in ("solutions", "exercises", "notebooks"):
            shutil.copytree(REPO / folder, root / folder)
        (root / "datasets").symlink_to(REPO / "datasets", target_is_directory=True)
        modules = [m for m in load_modules(root, ready_only=True) if not args.modules or m.id in args.modules]
        try:
            check_available()
            sandbox = True
        except SandboxUnavailable:
            sandbox = False
        started = time.perf_counter()
        cohort = simulate_cohort([m.id for m in modules], root=root, learners=args.learners, broken=FAST_BROKEN_KINDS)
        planted = {(s.learner, s.module): s.detail.removeprefix("오개념: ").split(", ")
                   for s in cohort.submissions if s.kind == "misconception" and s.detail.startswith("오개념: ")}
        kinds = cohort.kinds()
        named = targeted = wrong_name = wrong_answers = 0
        withheld_all = withheld_correct = 0
        per_module, misses = [], []
        for module in modules:
            t0 = time.perf_counter()
            grade_module(module.id, root=root, workers=args.workers, progress=None, sandbox=sandbox)
            fb = write_feedback(module.id, root=root)
            withheld_all += len(fb.withheld)
            withheld_correct += sum(1 for l in fb.withheld if kinds.get((l, module.id)) == "complete")
            bank = {m.id: m for m in load_bank(module.misconceptions)}
            m_named = m_targeted = 0
            scores = read_scores(module.id, root=root)
            for (learner, module_id), record in states.read_states(root, module.id).items():
                if record.state not in states.SCORED or record.state in states.ZEROED:
                    continue
                ids = planted.get((learner, module_id), [])
                truth = {t: mid for mid in ids if mid in bank for t in bank[mid].targets}
                page_file = root / "grading" / "feedback" / learner / module_id / f"{module_id}.html"
                page = html_text(page_file.read_text(encoding="utf-8")) if page_file.is_file() else ""
                lost = [t for t, (score, best) in scores.get(learner, {}).items() if score < best]
                for test_id in lost:  # every wrong autograded answer, diagnosed or not
                    given = record.diagnoses.get(test_id)
                    wrong_answers += 1
                    if given and truth.get(test_id) != given:
                        wrong_name += 1
                    if test_id in truth:
                        m_targeted += 1
                        if given == truth[test_id] and html_text(bank[given].description)[:30] in page:
                            m_named += 1
                        else:
                            misses.append(f"{module_id} {learner}: planted {truth[test_id]} on {test_id} "
                                          f"(all planted: {', '.join(ids)}), named {given or '(nothing)'}")
            named, targeted = named + m_named, targeted + m_targeted
            per_module.append((module.id, m_named, m_targeted, time.perf_counter() - t0))
        seconds = time.perf_counter() - started
    finally:
        shutil.rmtree(scratch, ignore_errors=True)

    print(f"cohort: {args.learners} simulated learners, {len(modules)} modules, sandbox {'on' if sandbox else 'off'}, "
          f"{seconds:.0f} s")
    print("module  named/targeted  seconds")
    for module_id, n, t, s in per_module:
        print(f"{module_id:6}  {n:5}/{t:<8}  {s:7.1f}")
    for miss in misses:
        print("  not named:", miss)
    print(f"named in feedback: {named}/{targeted} = {100 * named / max(1, targeted):.1f}% of planted misconceptions "
          "(target >= 95%)")
    print(f"wrong name: {wrong_name}/{wrong_answers} = {100 * wrong_name / max(1, wrong_answers):.1f}% of wrong answers "
          "(target <= 2%)")
    print(f"feedback withheld: {withheld_all} in all, {withheld_correct} of learners whose answers were all right "
          "(target 0)")
    sys.exit(0)


if __name__ == "__main__":
    main()
