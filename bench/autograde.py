"""Autograde benchmark: stock serial `nbgrader autograde` against `policylab grade`, in one run.

Both grade the same simulated cohort of a ready module (default m01, at least 40
submissions), each in its own scratch copy of the course, each as the command a trainer
would type. The script checks that every submission both tools scored got the same
score on every cell, and prints seconds, seconds per notebook and the ratio, plus the CPU
seconds of each tool's whole process tree (tool, workers, kernels): on a machine that other
work keeps busy, the wall-clock ratio falls towards the CPU ratio, so both are shown.
`policylab grade` runs with the grading sandbox (bubblewrap) as a trainer would; a third
scratch copy is graded with `--no-sandbox` to show what the sandbox costs per notebook.

    .venv/bin/python bench/autograde.py                 # 48 learners of m01, fast broken kinds
    .venv/bin/python bench/autograde.py --learners 80 --broken none --workers 2 --repeat 3
    .venv/bin/python bench/autograde.py --module m09 --baseline 589cfae   # per-learner draws vs m09 before them
    .venv/bin/python bench/autograde.py --course              # every ready module, the demo's 30 learners

A converted module (course.yml ``converted: true``) grades each learner on their own draw. Stock nbgrader
has one process for the whole cohort and no notion of a learner's data, so its side runs one
``nbgrader autograde --student`` per learner with that learner's draw as the datasets (the draws are
built for every scratch course before the clock starts). ``--baseline REV`` also grades the same cohort
with ``policylab grade`` on the module as it was at REV (its solutions/ and course.yml: e.g. before the
conversion, shared data and pasted reference derivations), in the same run.

Submissions stock nbgrader cannot read (invalid JSON) are left out of the comparison:
stock records them as 0, PolicyLab as `unreadable` with no score. Exit status 1 when any
score differs.
"""
from __future__ import annotations

import argparse
import os
import random
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def _course(dest: Path, module_id: str | list[str], rev: str | None = None) -> Path:
    """A scratch course; ``rev``: the module's sources and course.yml as they were at that git revision."""
    from policylab.course.build import build_exercises

    if isinstance(module_id, list):  # the whole course (--course): every ready module's sources
        dest.mkdir(parents=True)
        for name in ("nbgrader_config.py", "course.yml"):
            shutil.copy2(REPO / name, dest / name)
        for m in module_id:
            shutil.copytree(REPO / "solutions" / m, dest / "solutions" / m)
        (dest / "datasets").symlink_to(REPO / "datasets", target_is_directory=True)
        (dest / "grading").mkdir()
        build_exercises(root=dest, modules=module_id)
        return dest
    dest.mkdir(parents=True)
    for name in ("nbgrader_config.py", "course.yml"):
        shutil.copy2(REPO / name, dest / name)
    if rev:
        (dest / "course.yml").write_bytes(_git_show(rev, "course.yml"))
        folder = dest / "solutions" / module_id
        folder.mkdir(parents=True)
        listed = subprocess.run(["git", "-C", str(REPO), "ls-tree", "--name-only", rev, f"solutions/{module_id}/"],
                                capture_output=True, text=True, check=True).stdout.split()
        for path in listed:
            (dest / path).write_bytes(_git_show(rev, path))
    else:
        shutil.copytree(REPO / "solutions" / module_id, dest / "solutions" / module_id)
    (dest / "datasets").symlink_to(REPO / "datasets", target_is_directory=True)
    (dest / "grading").mkdir()
    build_exercises(root=dest, modules=[module_id])
    return dest


def _git_show(rev: str, path: str) -> bytes:
    return subprocess.run(["git", "-C", str(REPO), "show", f"{rev}:{path}"], capture_output=True, check=True).stdout


def _env(root: Path) -> dict:
    env = dict(os.environ, POLICYLAB_ROOT=str(root))
    env["PATH"] = os.pathsep.join([str(BIN), env.get("PATH", "")])
    env.pop("POLICYLAB_DB_URL", None)
    return env


def _timed(cmd, root: Path, log: Path) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the whole process tree: the tool, its workers, their kernels).
    ``cmd``: one command, or a list of (command, extra environment) run one after the other."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    steps = cmd if cmd and isinstance(cmd[0], tuple) else [(cmd, {})]
    with open(log, "w") as fh:
        for step, extra in steps:
            subprocess.run(step, cwd=root, env={**_env(root), **extra}, stdout=fh, stderr=subprocess.STDOUT,
                           check=False)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--module", default="m01")
    parser.add_argument("--learners", type=int, default=None,
                        help="simulated learners (about 95%% submit; default 48, with --course 30)")
    parser.add_argument("--seed", type=int, default=2025)
    parser.add_argument("--workers", type=int, default=None, help="policylab grade --workers (default: policylab's, one more than the cores)")
    parser.add_argument("--broken", choices=("none", "fast", "all"), default="fast",
                        help="broken submissions to include: none, the fast kinds, or all (the two loop "
                             "kinds cost one cell timeout each)")
    parser.add_argument("--repeat", type=int, default=1, help="timed runs of each tool (the median is reported)")
    parser.add_argument("--keep", action="store_true", help="keep the scratch courses and logs")
    parser.add_argument("--baseline", default=None, metavar="REV",
                        help="also grade the module as it was at this git revision (policylab grade, same cohort)")
    parser.add_argument("--course", action="store_true",
                        help="every ready module, the demo's cohort (default 30 learners); stock on a sample")
    parser.add_argument("--stock-sample", type=int, default=6, metavar="K",
                        help="--course: learners per module graded by stock nbgrader (its seconds per notebook "
                             "come from them; scores are compared on them)")
    parser.add_argument("--modules", default=None, help="--course: only these modules (comma-separated)")
    args = parser.parse_args(argv)
    if args.course:
        return course_main(args, learners=args.learners or 30)
    args.learners = args.learners or 48

    from policylab.demo.cohort import BROKEN_KINDS, FAST_BROKEN_KINDS, simulate_cohort
    from policylab.grading import states
    from policylab.grading.batch import default_workers, read_scores
    from policylab.grading.submissions import checksums

    broken = {"none": (), "fast": FAST_BROKEN_KINDS, "all": BROKEN_KINDS}[args.broken]
    scratch = Path(tempfile.mkdtemp(prefix="policylab-bench-"))
    try:
        stock_root = _course(scratch / "stock", args.module)
        ours_root = _course(scratch / "policylab", args.module)
        bare_root = _course(scratch / "unsandboxed", args.module)
        cohort = simulate_cohort([args.module], root=stock_root, learners=args.learners, seed=args.seed,
                                 broken=broken)
        simulate_cohort([args.module], root=ours_root, learners=args.learners, seed=args.seed, broken=broken)
        simulate_cohort([args.module], root=bare_root, learners=args.learners, seed=args.seed, broken=broken)
        same = checksums(stock_root / "grading" / "submitted") == checksums(ours_root / "grading" / "submitted") \
            == checksums(bare_root / "grading" / "submitted")
        assert same, "the two scratch courses got different submissions"
        n = len(cohort.submissions)
        kinds = Counter(s.kind for s in cohort.submissions)
        print(f"{args.module}: {n} submissions from {args.learners} simulated learners "
              f"({', '.join(f'{k} {v}' for k, v in sorted(kinds.items()))}); {os.cpu_count()} cores")

        from policylab.course.modules import get_module

        converted = get_module(args.module, REPO).converted
        stock_cmd = [str(BIN / "nbgrader"), "autograde", args.module, "--force"]
        if converted:
            from policylab.grading.variants import build_variants

            learners = sorted({s.learner for s in cohort.submissions})
            draws = {}
            for root in (stock_root, ours_root, bare_root):
                built = build_variants(root, learners=learners, modules=[args.module])
                draws[root] = {learner: folder for learner, _, folder, _ in built}
            stock_cmd = [([*stock_cmd, "--student", learner], {"POLICYLAB_DATASETS": str(draws[stock_root][learner])})
                         for learner in learners]
            print("converted module: each learner graded on their own draw; stock runs one "
                  "`nbgrader autograde --student` per learner (its only way to give each learner their data)")
        base_root = None
        if args.baseline:
            base_root = _course(scratch / "baseline", args.module, rev=args.baseline)
            simulate_cohort([args.module], root=base_root, learners=args.learners, seed=args.seed, broken=broken)
        ours_cmd = [str(BIN / "policylab"), "--root", str(ours_root), "grade", args.module, "--force"]
        if args.workers:
            ours_cmd += ["--workers", str(args.workers)]
        bare_cmd = [*ours_cmd, "--no-sandbox"]
        bare_cmd[2] = str(bare_root)
        runs, bare_runs = [], []
        for i in range(args.repeat):   # alternate the order, so that a change in machine load hits both
            if i % 2 == 0:
                st = _timed(stock_cmd, stock_root, scratch / "stock.log")
                ou = _timed(ours_cmd, ours_root, scratch / "policylab.log")
                bare_runs.append(_timed(bare_cmd, bare_root, scratch / "unsandboxed.log"))
            else:
                bare_runs.append(_timed(bare_cmd, bare_root, scratch / "unsandboxed.log"))
                ou = _timed(ours_cmd, ours_root, scratch / "policylab.log")
                st = _timed(stock_cmd, stock_root, scratch / "stock.log")
            runs.append((st, ou))
            if args.repeat > 1:
                print(f"  run {i + 1}: stock {st[0]:.1f} s, policylab {ou[0]:.1f} s, ratio {st[0] / ou[0]:.2f}x, "
                      f"load average {os.getloadavg()[0]:.1f}")
        baseline = None
        if base_root is not None:
            base_cmd = [str(BIN / "policylab"), "--root", str(base_root), "grade", args.module, "--force"]
            if args.workers:
                base_cmd += ["--workers", str(args.workers)]
            baseline = _timed(base_cmd, base_root, scratch / "baseline.log")
        ratios = sorted(st[0] / ou[0] for st, ou in runs)
        (stock_s, stock_cpu), (ours_s, ours_cpu) = sorted(runs, key=lambda r: r[0][0] / r[1][0])[len(runs) // 2]
        bare_s, bare_cpu = sorted(bare_runs)[len(bare_runs) // 2]

        stock, ours = read_scores(args.module, root=stock_root), read_scores(args.module, root=ours_root)
        bare = read_scores(args.module, root=bare_root)
        recorded = states.read_states(ours_root, args.module)
        unreadable = sorted(l for (l, _), r in recorded.items() if r.state == states.UNREADABLE)
        # stock nbgrader 0.9.6 crashes (and leaves 0) on a copy-pasted nbgrader cell; PolicyLab grades it
        stock_log = (scratch / "stock.log").read_text(errors="replace")
        stock_failed = set(re.findall(r"error processing assignment '[^']+' for student '([^']+)'", stock_log))
        compared = sorted(set(ours) - set(unreadable))
        differ = [l for l in compared if stock.get(l) != ours.get(l)]
        stock_crashed = [l for l in differ if l in stock_failed and recorded[(l, args.module)].state == states.TAMPERED]
        mismatches = [(l, stock.get(l), ours.get(l)) for l in differ if l not in stock_crashed]
        missing = sorted(set(stock) - set(ours) - set(unreadable))
        by_state = Counter(r.state for r in recorded.values())

        print(f"{'tool':<34}{'seconds':>9}{'s/notebook':>12}{'CPU s':>9}{'CPU s/nb':>10}")
        print(f"{'nbgrader autograde (stock, serial)':<34}{stock_s:>9.1f}{stock_s / n:>12.2f}"
              f"{stock_cpu:>9.1f}{stock_cpu / n:>10.2f}")
        label = f"policylab grade ({args.workers or default_workers()} workers)"
        print(f"{label:<34}{ours_s:>9.1f}{ours_s / n:>12.2f}{ours_cpu:>9.1f}{ours_cpu / n:>10.2f}")
        print(f"{'  same, --no-sandbox':<34}{bare_s:>9.1f}{bare_s / n:>12.2f}{bare_cpu:>9.1f}{bare_cpu / n:>10.2f}")
        if baseline is not None:
            print(f"{'policylab grade, ' + args.module + ' at ' + args.baseline[:10]:<34}{baseline[0]:>9.1f}"
                  f"{baseline[0] / n:>12.2f}{baseline[1]:>9.1f}{baseline[1] / n:>10.2f}")
            print(f"now / at {args.baseline[:10]}: {ours_s / baseline[0]:.2f}x the wall time "
                  "(<= 1.00: no slower than before)")
        print(f"sandbox cost: {(ours_s - bare_s) / n:+.2f} s wall per notebook (sandboxed kernels' CPU time is not "
              "counted here: they end inside bubblewrap's PID namespace, outside this process tree's rusage, so that "
              "row's CPU is the grader's only)")
        print(f"ratio (stock / policylab): {stock_s / ours_s:.2f}x   (target >= 1.8x)"
              + (f"; median of {len(runs)} runs, range {ratios[0]:.2f}-{ratios[-1]:.2f}x" if len(runs) > 1 else ""))
        print(f"load average (1 min) at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores "
              "(other work on the machine lowers the ratio)")
        print("policylab states: " + ", ".join(f"{s} {by_state[s]}" for s in states.STATES if by_state[s]))
        print(f"scores compared on {len(compared) - len(stock_crashed)} submissions ({len(unreadable)} unreadable "
              f"left out): " + ("identical" if not mismatches and not missing else
                                f"{len(mismatches)} DIFFER, {len(missing)} missing in policylab"))
        if stock_crashed:
            print(f"stock nbgrader crashed on {len(stock_crashed)} (copy-pasted cells, KeyError 'grade_id') "
                  f"and scored them 0; policylab graded them as tampered: {', '.join(stock_crashed)}")
        for learner, a, b in mismatches[:10]:
            print(f"  {learner}: stock {a} != policylab {b}")
        if args.keep:
            print(f"scratch kept in {scratch}")
        if bare != ours:
            print(f"--no-sandbox scored {sum(bare.get(l) != ours.get(l) for l in ours)} submissions differently")
        return 1 if mismatches or missing or bare != ours else 0
    finally:
        if not args.keep:
            shutil.rmtree(scratch, ignore_errors=True)


def course_main(args, *, learners: int) -> int:
    """The whole course: stock serial ``nbgrader autograde`` on a sample of each module's cohort,
    ``policylab grade`` on all of it, seconds per notebook per module and the overall ratio."""
    from policylab.course.modules import load_modules
    from policylab.demo.cohort import FAST_BROKEN_KINDS, simulate_cohort
    from policylab.grading import states
    from policylab.grading.batch import default_workers, read_scores
    from policylab.grading.variants import build_variants

    modules = [m.id for m in load_modules(REPO, ready_only=True)]
    if args.modules:
        modules = [m for m in modules if m in args.modules.split(",")]
    scratch = Path(tempfile.mkdtemp(prefix="policylab-bench-course-"))
    try:
        stock_root, ours_root = _course(scratch / "stock", modules), _course(scratch / "policylab", modules)
        cohort = simulate_cohort(modules, root=stock_root, learners=learners, seed=args.seed, broken=FAST_BROKEN_KINDS)
        simulate_cohort(modules, root=ours_root, learners=learners, seed=args.seed, broken=FAST_BROKEN_KINDS)
        everyone = sorted({s.learner for s in cohort.submissions})
        # before any clock (a trainer builds draws at release), once: the stock course gets a copy
        built = build_variants(ours_root, learners=everyone, modules=modules)
        shutil.copytree(ours_root / "grading" / "variants", stock_root / "grading" / "variants", dirs_exist_ok=True)
        draws = {root: {(l, m): root / f.relative_to(ours_root) for l, m, f, _ in built}
                 for root in (stock_root, ours_root)}
        print(f"whole course: {len(modules)} modules, {len(cohort.submissions)} submissions from {learners} simulated "
              f"learners (the demo's cohort: fast broken kinds included); {os.cpu_count()} cores, load average "
              f"{os.getloadavg()[0]:.1f} at the start")
        print(f"stock nbgrader grades a sample of {args.stock_sample} submitters per module, serially, one "
              "`nbgrader autograde --student` each with that learner's draw as the datasets (its only way to give a "
              "learner their data); its seconds per notebook come from the sample. policylab grades everyone with "
              "one command for the course (`policylab grade m01 ... --force`: one pool of workers from module to "
              "module): its seconds per module are that module's batch within the run, its total the command's wall "
              "time.")
        rng = random.Random(args.seed)
        stock_runs = {}
        for module_id in modules:
            subs = sorted({s.learner for s in cohort.submissions if s.module == module_id})
            sample = sorted(rng.sample(subs, min(args.stock_sample, len(subs))))
            stock_cmd = [([str(BIN / "nbgrader"), "autograde", module_id, "--force", "--student", l],
                          {"POLICYLAB_DATASETS": str(draws[stock_root][(l, module_id)])}) for l in sample]
            stock_runs[module_id] = (len(subs), sample, _timed(stock_cmd, stock_root, scratch / f"stock-{module_id}.log")[0])
        ours_cmd = [str(BIN / "policylab"), "--root", str(ours_root), "grade", *modules, "--force"]
        if args.workers:
            ours_cmd += ["--workers", str(args.workers)]
        total_ours, _ = _timed(ours_cmd, ours_root, scratch / "policylab.log")
        batch = {m: float(sec) for m, sec in re.findall(r"^(m\d+): 이번에 채점 \d+명, [^(]*\(([\d.]+)초",
                                                          (scratch / "policylab.log").read_text(), re.M)}
        print(f"{'module':<8}{'n':>4}{'stock s/nb':>12}{'policylab s/nb':>16}{'ratio':>8}{'  scores (sample)':<20}")
        total_stock = 0.0
        failed = False
        for module_id in modules:
            n, sample, st = stock_runs[module_id]
            if module_id not in batch:
                print(f"{module_id:<8}{n:>4}  policylab did not report this module (see its log)")
                failed = True
                continue
            stock_nb, ours_nb = st / len(sample), batch[module_id] / n
            total_stock += stock_nb * n
            stock, ours = read_scores(module_id, root=stock_root), read_scores(module_id, root=ours_root)
            recorded = states.read_states(ours_root, module_id)
            unreadable = {l for (l, _), r in recorded.items() if r.state == states.UNREADABLE}
            compared = [l for l in sample if l not in unreadable and l in stock]
            # stock crashes (and scores 0) on copy-pasted nbgrader cells; PolicyLab grades them as tampered
            crashed = [l for l in compared if stock.get(l) != ours.get(l)
                       and recorded[(l, module_id)].state == states.TAMPERED
                       and f"for student '{l}'" in (scratch / f"stock-{module_id}.log").read_text(errors="replace")]
            differ = [l for l in compared if stock.get(l) != ours.get(l) and l not in crashed]
            failed |= bool(differ)
            verdict = (f"identical on {len(compared) - len(crashed)}" if not differ else f"{len(differ)} DIFFER") \
                + (f", {len(crashed)} stock crash" if crashed else "")
            print(f"{module_id:<8}{n:>4}{stock_nb:>12.2f}{ours_nb:>16.2f}{stock_nb / ours_nb:>7.2f}x  {verdict}",
                  flush=True)
            for l in differ[:5]:
                print(f"    {l}: stock {stock.get(l)} != policylab {ours.get(l)}")
        workers = args.workers or default_workers()
        print(f"whole course: stock serial (estimated from the samples) {total_stock:.0f} s, policylab grade "
              f"({workers} workers, one command; the modules' batches {sum(batch.values()):.0f} s) {total_ours:.0f} s: ratio {total_stock / total_ours:.2f}x   (target >= 4x)")
        print(f"load average (1 min) at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
        return 1 if failed else 0
    finally:
        if not args.keep:
            shutil.rmtree(scratch, ignore_errors=True)
        else:
            print(f"scratch kept in {scratch}")


if __name__ == "__main__":
    sys.path.insert(0, str(REPO / "src"))
    sys.exit(main())
