"""Benchmark: learner reports the naive way vs `policylab report`, on one graded cohort.

    .venv/bin/python bench/reports.py [--learners 100] [--workers N] [--keep DIR] [--naive-sample K]
                                      [--modules m01,m02]

Setup (not timed): a scratch course directory with the ready modules, a simulated cohort
of ``--learners`` learners (policylab.demo.cohort, without the two kinds that cost a cell
timeout), autograded through the real pipeline into an SQLite gradebook. ``--keep DIR``
keeps that course and reuses it on the next run.

Timed, in one run:

* naive — what a trainer would script by hand: for each learner, one ``papermill`` CLI call
  on a template that reads the gradebook itself (the learner report with its snapshot cell
  replaced by a gradebook query through nbgrader, so the content is identical), then one
  ``jupyter nbconvert --to html --no-input`` call;
* ``policylab report`` — the CLI: the gradebook read once into a snapshot, every learner's
  report and the dashboard rendered by worker processes that reuse one kernel each.

Prints seconds per report for both and the ratio (targets on 2 cores: ≥4× and <1.0 s per
report amortized), checks that both ways drew the same numbers for a few learners, and the
peak resident memory of any single process of `policylab report` (target: <500 MB).
``--naive-sample K`` times the naive way on K learners only and says that it extrapolates;
``--modules`` grades only some modules (a quicker setup; the rest count as not submitted).
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import nbformat

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
SNAPSHOT_LINE = "snap = rp.load_snapshot(snapshot_dir or None, root=course_root or None)"
NAIVE_QUERY = """\
# naive: this report reads the gradebook itself (nbgrader is imported in every kernel)
import tempfile
from pathlib import Path

from policylab.grading.export import export_snapshot

_private = tempfile.TemporaryDirectory()
export_snapshot(root=Path(course_root), out_dir=Path(_private.name))
snap = rp.load_snapshot(_private.name)"""


def log(message: str) -> None:
    print(message, flush=True)


def prepare_course(folder: Path, learners: int, workers: int, modules: list[str]) -> Path:
    """A graded course directory in ``folder`` (reused when it already holds this cohort)."""
    from policylab.course.modules import load_modules
    from policylab.demo.cohort import FAST_BROKEN_KINDS, simulate_cohort
    from policylab.grading.batch import grade_module
    from policylab.grading.roster import load_roster

    os.environ["POLICYLAB_ROOT"] = str(folder)
    templates = folder / "grading" / "reports"
    if (folder / "grading" / "gradebook.db").is_file() and len(load_roster(folder)) == learners:
        log(f"setup: reusing the graded course in {folder}")
        shutil.rmtree(templates, ignore_errors=True)  # always the templates of this checkout
        shutil.copytree(REPO / "grading" / "reports", templates, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("course.yml", "nbgrader_config.py"):
        shutil.copy2(REPO / name, folder / name)
    for tree in ("solutions", "exercises", "grading/reports"):
        shutil.rmtree(folder / tree, ignore_errors=True)
        shutil.copytree(REPO / tree, folder / tree, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    if not (folder / "datasets").exists():
        (folder / "datasets").symlink_to(REPO / "datasets", target_is_directory=True)
    started = time.perf_counter()
    ready = [m.id for m in load_modules(folder, ready_only=True)]
    chosen = [m for m in ready if not modules or m in modules]
    simulate_cohort(chosen, root=folder, learners=learners, broken=FAST_BROKEN_KINDS)
    for module_id in chosen:
        report = grade_module(module_id, root=folder, workers=workers)
        log(f"setup: graded {module_id} for {learners} learners ({report.workers} workers)")
    log(f"setup: {time.perf_counter() - started:.0f} s (not timed)")
    return folder


def naive_template(root: Path, dest: Path) -> Path:
    nb = nbformat.read(root / "grading" / "reports" / "learner_report.ipynb", as_version=4)
    cells = [c for c in nb.cells if SNAPSHOT_LINE in c.source]
    if len(cells) != 1:
        raise SystemExit(f"learner_report.ipynb no longer has the line {SNAPSHOT_LINE!r}; update bench/reports.py")
    cells[0].source = cells[0].source.replace(SNAPSHOT_LINE, NAIVE_QUERY)
    nbformat.write(nb, dest)
    return dest


def run(command: list[str], **kwargs) -> None:
    result = subprocess.run(command, capture_output=True, text=True, **kwargs)
    if result.returncode != 0:
        raise SystemExit(f"failed ({result.returncode}): {' '.join(command)}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")


def time_naive(root: Path, learners: list[str], out: Path) -> float:
    template = naive_template(root, out / "naive_learner_report.ipynb")
    env = dict(os.environ, POLICYLAB_ROOT=str(root))
    started = time.perf_counter()
    for n, learner in enumerate(learners, 1):
        notebook = out / f"{learner}.ipynb"
        run([str(BIN / "papermill"), str(template), str(notebook), "-k", "python3", "--no-progress-bar",
             "-p", "learner_id", learner, "-p", "course_root", str(root), "-p", "charts_as_html", "True"],
            env=env, cwd=out)
        run([str(BIN / "jupyter"), "nbconvert", "--to", "html", "--no-input", str(notebook)], env=env, cwd=out)
        if n % 10 == 0 or n == len(learners):
            elapsed = time.perf_counter() - started
            log(f"  naive: {n}/{len(learners)} reports, {elapsed / n:.2f} s/report so far")
    return time.perf_counter() - started


class PeakMemory(threading.Thread):
    """Largest resident set of any single process in the tree under ``pid`` (Linux /proc)."""

    def __init__(self, pid: int):
        super().__init__(daemon=True)
        self.pid, self.peak_kb, self.peak_name, self.done = pid, 0, "", False

    def _children(self) -> dict[int, list[int]]:
        tree: dict[int, list[int]] = {}
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
                except OSError:
                    continue
                tree.setdefault(int(fields[1]), []).append(int(entry))
        return tree

    def run(self) -> None:
        while not self.done:
            tree, todo = self._children(), [self.pid]
            while todo:
                pid = todo.pop()
                todo.extend(tree.get(pid, []))
                try:
                    status = Path(f"/proc/{pid}/status").read_text()
                except OSError:
                    continue
                rss = re.search(r"VmRSS:\s+(\d+)", status)
                if rss and int(rss.group(1)) > self.peak_kb:
                    self.peak_kb = int(rss.group(1))
                    self.peak_name = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")[:90].decode(errors="replace")
            time.sleep(0.2)


def time_policylab(root: Path, workers: int | None) -> tuple[float, int, PeakMemory]:
    command = [str(BIN / "policylab"), "--root", str(root), "report"]
    if workers:
        command += ["--workers", str(workers)]
    env = dict(os.environ, POLICYLAB_ROOT=str(root))
    started = time.perf_counter()
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    memory = PeakMemory(proc.pid)
    memory.start()
    stdout, stderr = proc.communicate()
    elapsed = time.perf_counter() - started
    memory.done = True
    if proc.returncode != 0:
        raise SystemExit(f"policylab report failed ({proc.returncode}):\n{stdout[-3000:]}\n{stderr[-3000:]}")
    log("  " + stdout.strip().replace("\n", "\n  "))
    reports = len(list((root / "grading" / "out" / "learners").glob("*.html"))) + 1
    return elapsed, reports, memory


def chart_data(page: Path, chart: str) -> list:
    text = page.read_text(encoding="utf-8")
    match = re.search(r'Plotly\.newPlot\(\s*"chart-' + chart + r'",\s*', text)
    data, _ = json.JSONDecoder().raw_decode(text, match.end())
    return data


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--learners", type=int, default=100)
    parser.add_argument("--workers", type=int, default=None, help="policylab report workers (default: cores)")
    parser.add_argument("--keep", type=Path, default=None, help="course folder to keep and reuse")
    parser.add_argument("--naive-sample", type=int, default=None, help="time the naive way on this many learners")
    parser.add_argument("--modules", default="", help="comma-separated modules to simulate and grade "
                        "(default: every ready module; the others show as not yet submitted)")
    args = parser.parse_args()

    scratch = Path(tempfile.mkdtemp(prefix="policylab-bench-reports-"))
    try:
        modules = [m.strip() for m in args.modules.split(",") if m.strip()]
        root = prepare_course((args.keep or scratch / "course").resolve(), args.learners,
                              args.workers or os.cpu_count(), modules)
        from policylab.grading.roster import load_roster

        learners = [l.learner_id for l in load_roster(root)]
        shutil.rmtree(root / "grading" / "out", ignore_errors=True)

        log(f"policylab report ({args.learners} learners + dashboard) …")
        ours, reports, memory = time_policylab(root, args.workers)

        sample = learners[: args.naive_sample] if args.naive_sample else learners
        log(f"naive: papermill CLI + jupyter nbconvert CLI per learner, {len(sample)} learners …")
        naive_out = scratch / "naive"
        naive_out.mkdir()
        naive = time_naive(root, sample, naive_out)

        for learner in sample[:3]:  # the two ways drew the same numbers
            same = chart_data(naive_out / f"{learner}.html", "module-scores") == \
                chart_data(root / "grading" / "out" / "learners" / f"{learner}.html", "module-scores")
            if not same:
                raise SystemExit(f"{learner}: the naive and policylab reports differ")

        naive_per, ours_per = naive / len(sample), ours / reports
        cores = os.cpu_count()
        log("")
        log(f"reports benchmark: {len(learners)} learners, {cores} cores, modules graded: "
            f"{', '.join(sorted({p.name for p in (root / 'grading' / 'autograded').glob('*/*')}))}")
        extrapolated = f" (timed on {len(sample)}, extrapolated)" if len(sample) < len(learners) else ""
        log(f"  naive     : {naive_per:6.2f} s/report   ({naive:7.1f} s for {len(sample)} reports{extrapolated})")
        log(f"  policylab : {ours_per:6.2f} s/report   ({ours:7.1f} s for {reports} reports incl. the dashboard "
            "and the gradebook snapshot)")
        log(f"  ratio     : {naive_per / ours_per:6.1f}x faster   (target ≥ 4x; amortized target < 1.0 s/report: "
            f"{'met' if ours_per < 1.0 else 'NOT met'})")
        log(f"  peak RSS of one policylab report process: {memory.peak_kb / 1024:.0f} MB "
            f"(target < 500 MB) — {memory.peak_name.strip()}")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
