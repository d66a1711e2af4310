"""Learner progress reports and the manager dashboard: grading snapshot → papermill → HTML.

One batch (``render_reports``) works like this:

1. the caller exports a snapshot from the gradebook (grading's ``export_snapshot``; the CLI
   and the demo do it) or names a folder of snapshot CSVs: this package never opens the
   gradebook and never imports grading (docs/snapshot.md is the whole contract);
2. the snapshot is checked here, in the parent process, so a broken path or file stops the
   batch with an error naming the file before any kernel starts;
3. worker processes render one report per papermill run, each worker reusing one kernel
   (the user namespace is reset between reports, the kernel restarted after any failure),
   so no report pays for a kernel start or for importing pandas and plotly;
4. each executed notebook is kept next to its HTML (``learners/<id>.ipynb``); the HTML has
   no code cells and loads plotly.js from ``grading/out/plotly.min.js``, written once;
5. ``index.html`` links the dashboard and every learner's report (:mod:`policylab.reports.pages`).

The templates (``grading/reports/*.ipynb``) use :mod:`policylab.reports.template_api`.
"""
from __future__ import annotations

import os
import re
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

from policylab.course.paths import find_root
from policylab.reports.items import write_item_analysis
from policylab.reports.pages import for_html, html_exporter, write_index
from policylab.reports.snapshot import (
    ReportError,
    Snapshot,
    default_snapshot_dir,
    load_snapshot,
)

TEMPLATES = {"learner": "learner_report.ipynb", "dashboard": "dashboard.ipynb"}
LEARNER_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


@dataclass(frozen=True)
class ReportJob:
    kind: str                 # "learner" or "dashboard"
    name: str                 # learner id, or "dashboard"
    template: str
    notebook: str             # executed notebook kept as the record
    html: str
    plotly_src: str           # plotly.js relative to the HTML
    parameters: dict


@dataclass
class ReportResult:
    job: ReportJob
    ok: bool
    seconds: float
    error: str = ""


@dataclass
class ReportSummary:
    out_dir: Path
    index: Path
    snapshot_dir: Path
    results: list[ReportResult] = field(default_factory=list)
    seconds: float = 0.0
    workers: int = 0

    @property
    def done(self) -> list[ReportResult]:
        return [r for r in self.results if r.ok]

    @property
    def failed(self) -> list[ReportResult]:
        return [r for r in self.results if not r.ok]


def write_plotly_js(out_dir: Path) -> Path:
    """plotly.js once per output folder, copied from the installed plotly (rewritten only when it changed)."""
    import plotly

    source = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
    target = out_dir / "plotly.min.js"
    data = source.read_bytes()
    if not target.is_file() or target.stat().st_size != len(data) or target.read_bytes() != data:
        tmp = target.with_suffix(".js.tmp")
        tmp.write_bytes(data)
        tmp.replace(target)
    return target


def _plan(root: Path, out_dir: Path, snap: Snapshot, learners: list[str], dashboard: bool) -> list[ReportJob]:
    templates = {}
    for kind, name in TEMPLATES.items():
        path = root / "grading" / "reports" / name
        if kind == "dashboard" and not dashboard:
            continue
        if not path.is_file():
            raise ReportError(f"{path}: report template not found (it is tracked in git; restore it)")
        templates[kind] = str(path)
    common = {"snapshot_dir": str(snap.folder.resolve()), "course_root": str(root), "charts_as_html": True}
    jobs = []
    if dashboard:
        jobs.append(ReportJob(
            "dashboard", "dashboard", templates["dashboard"],
            str(out_dir / "dashboard.ipynb"), str(out_dir / "dashboard.html"), "plotly.min.js", dict(common),
        ))
    folder = out_dir / "learners"
    for learner in learners:
        jobs.append(ReportJob(
            "learner", learner, templates["learner"],
            str(folder / f"{learner}.ipynb"), str(folder / f"{learner}.html"), "../plotly.min.js",
            dict(common, learner_id=learner),
        ))
    return jobs


def render_reports(
    *,
    root: str | os.PathLike | None = None,
    learners: Iterable[str] | None = None,
    workers: int | None = None,
    snapshot_dir: str | os.PathLike | None = None,
    out_dir: str | os.PathLike | None = None,
    dashboard: bool | None = None,
    progress: bool = True,
    timeout: int = 300,
) -> ReportSummary:
    """Render learner reports (all, or ``learners``) and the dashboard into ``out_dir``.

    ``snapshot_dir`` None reads ``grading/out/data``, where the caller has just exported the
    snapshot (grading's ``export_snapshot``); otherwise the CSVs there are used as they are. ``dashboard`` defaults to True for a full
    batch and False when ``learners`` is given. A report that fails is recorded in the
    summary (its executed notebook kept, its HTML removed) and the others go on.
    """
    started = time.perf_counter()
    root = Path(root).resolve() if root else find_root()
    out_dir = Path(out_dir).resolve() if out_dir else root / "grading" / "out"
    out_dir.mkdir(parents=True, exist_ok=True)
    snap = load_snapshot(snapshot_dir or default_snapshot_dir(root))

    roster_ids = list(snap.roster["learner_id"])
    bad = [i for i in roster_ids if not LEARNER_ID.match(i)]
    if bad:
        raise ReportError(
            f"{snap.folder / 'roster.csv'}: learner id {bad[0]!r} cannot name a report file "
            "(use letters, digits, '-', '_' or '.')"
        )
    if learners is None:
        chosen = roster_ids
    else:
        chosen = list(dict.fromkeys(learners))
        unknown = [i for i in chosen if i not in set(roster_ids)]
        if unknown:
            raise ReportError(f"{snap.folder / 'roster.csv'}: no learner {unknown[0]!r} in the roster")
    if dashboard is None:
        dashboard = learners is None

    (out_dir / "learners").mkdir(exist_ok=True)
    if learners is None:  # a full batch: reports of learners no longer on the roster go
        listed = set(roster_ids)
        for stale in (out_dir / "learners").iterdir():
            if stale.suffix in (".html", ".ipynb") and stale.stem not in listed:
                stale.unlink()
    write_plotly_js(out_dir)
    if dashboard:  # the trainers' item analysis goes beside the dashboard, from the same snapshot
        write_item_analysis(snap.questions, out_dir, snap.checks)
    jobs = _plan(root, out_dir, snap, chosen, dashboard)
    workers = max(1, min(workers or os.cpu_count() or 1, len(jobs) or 1))
    results = _run_jobs(jobs, root=root, out_dir=out_dir, workers=workers, progress=progress, timeout=timeout)
    index = write_index(out_dir, snap, results)
    return ReportSummary(out_dir, index, snap.folder, results, time.perf_counter() - started, workers)


# --------------------------------------------------------------------------- worker processes


def _run_jobs(jobs, *, root: Path, out_dir: Path, workers: int, progress: bool, timeout: int) -> list[ReportResult]:
    """Render ``jobs`` in ``workers`` processes; a job lost with a crashed worker is retried once."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed
    from concurrent.futures.process import BrokenProcessPool

    from tqdm import tqdm

    done: dict[str, ReportResult] = {}
    pending = list(jobs)
    bar = tqdm(total=len(jobs), desc="보고서", unit="건", disable=not progress, leave=True)
    try:
        for attempt in (1, 2):
            lost = []
            context = multiprocessing.get_context("spawn")
            with ProcessPoolExecutor(
                max_workers=min(workers, len(pending)) or 1, mp_context=context,
                initializer=_init_worker, initargs=(str(root), str(out_dir), timeout),
            ) as pool:
                futures = {pool.submit(_render_job, job): job for job in pending}
                for future in as_completed(futures):
                    job = futures[future]
                    try:
                        result = future.result()
                    except BrokenProcessPool as exc:
                        if attempt == 1:
                            lost.append(job)
                            continue
                        result = ReportResult(job, False, 0.0, f"the worker process died ({exc})")
                    except Exception as exc:  # noqa: BLE001 - one report never stops the batch
                        result = ReportResult(job, False, 0.0, f"{exc.__class__.__name__}: {exc}")
                    done[job.html] = result
                    bar.update(1)
                    if not result.ok:
                        bar.write(f"실패: {job.name}: {result.error}")
            if not lost:
                break
            pending = lost
    finally:
        bar.close()
    return [done[job.html] for job in jobs]


_WORKER = None  # the worker process's _ReportWorker


def _init_worker(root: str, out_dir: str, timeout: int) -> None:
    from multiprocessing.util import Finalize

    global _WORKER
    _WORKER = _ReportWorker(Path(root), Path(out_dir), timeout)
    Finalize(_WORKER, _WORKER.close, exitpriority=100)


def _render_job(job: ReportJob) -> ReportResult:
    return _WORKER.render(job)


class _ReportWorker:
    """One kernel reused for every report this process renders, and one HTML exporter."""

    def __init__(self, root: Path, out_dir: Path, timeout: int):
        import logging

        from papermill.engines import papermill_engines

        logging.getLogger("papermill").setLevel(logging.WARNING)
        self.root, self.out_dir, self.timeout = root, out_dir, timeout
        self.km = self.kc = None
        self.sockets: str | None = None
        self.templates: dict[str, object] = {}
        self.exporter = html_exporter()
        papermill_engines.register("policylab-warm", _warm_kernel_engine())

    # the kernel --------------------------------------------------------------------------
    def start_kernel(self) -> None:
        # nbclient drives the kernel through asyncio: an async manager and client, so that a kernel
        # that dies mid-report is noticed (a blocking client would wait on its output forever).
        from jupyter_client.manager import AsyncKernelManager
        from jupyter_core.utils import run_sync

        self.close()
        env = dict(os.environ, POLICYLAB_ROOT=str(self.root), PYDEVD_DISABLE_FILE_VALIDATION="1")
        # Unix sockets in a private folder: no TCP ports to race for, no plain-text TCP warning.
        self.sockets = tempfile.mkdtemp(prefix="policylab-report-kernel-")
        self.km = AsyncKernelManager(kernel_name="python3", transport="ipc", ip=os.path.join(self.sockets, "k"),
                                     connection_file=os.path.join(self.sockets, "kernel.json"))
        run_sync(self.km.start_kernel)(cwd=str(self.out_dir), env=env,
                                       extra_arguments=["--HistoryManager.enabled=False"])
        self.kc = self.km.client()
        self.kc.start_channels()
        try:
            run_sync(self.kc.wait_for_ready)(timeout=120)
        except Exception:
            self.close()
            raise
        self.kc.allow_stdin = False

    def close(self) -> None:
        from jupyter_core.utils import run_sync

        if self.kc is not None:
            self.kc.stop_channels()
        if self.km is not None:
            try:
                run_sync(self.km.shutdown_kernel)(now=True)
            except Exception:  # noqa: BLE001 - already gone
                pass
        self.km = self.kc = None
        if self.sockets:
            shutil.rmtree(self.sockets, ignore_errors=True)
            self.sockets = None

    def fresh_namespace(self) -> None:
        """Start the next report from an empty user namespace; a dead or stuck kernel is replaced."""
        from jupyter_core.utils import run_sync

        if self.km is None or not run_sync(self.km.is_alive)():
            self.start_kernel()
            return
        code = "get_ipython().reset(new_session=False)\nget_ipython().execution_count = 1"
        msg_id = self.kc.execute(code, silent=True, store_history=False, allow_stdin=False)
        deadline = time.monotonic() + 30
        while True:
            try:
                reply = run_sync(self.kc.get_shell_msg)(timeout=max(0.1, deadline - time.monotonic()))
            except Exception:  # noqa: BLE001 - no reply: the kernel is unusable
                self.start_kernel()
                return
            if reply["parent_header"].get("msg_id") == msg_id:
                break
        if reply["content"].get("status") != "ok":
            self.start_kernel()

    # one report ------------------------------------------------------------------------------
    def render(self, job: ReportJob) -> ReportResult:
        import copy

        import nbformat
        import papermill as pm
        from papermill.exceptions import PapermillExecutionError

        started = time.perf_counter()
        html_path, notebook_path = Path(job.html), Path(job.notebook)
        try:
            if job.template not in self.templates:
                self.templates[job.template] = nbformat.read(job.template, as_version=4)
            self.fresh_namespace()
            nb = pm.execute_notebook(
                copy.deepcopy(self.templates[job.template]),
                str(notebook_path),
                parameters=job.parameters,
                engine_name="policylab-warm",
                kernel_name="python3",
                request_save_on_cell_execute=False,
                progress_bar=False,
                execution_timeout=self.timeout,
            )
            title = "PolicyLab 관리자 대시보드" if job.kind == "dashboard" else f"학습 진도 보고서 · {job.name}"
            body, _ = self.exporter.from_notebook_node(
                for_html(nb, title), resources={"policylab_plotly_src": job.plotly_src}
            )
            tmp = html_path.with_suffix(".html.tmp")
            tmp.write_text(body, encoding="utf-8")
            tmp.replace(html_path)
            return ReportResult(job, True, time.perf_counter() - started)
        except Exception as exc:  # noqa: BLE001 - recorded; the batch goes on
            if isinstance(exc, PapermillExecutionError):
                error = f"{exc.ename}: {exc.evalue}".strip()
            else:
                error = f"{exc.__class__.__name__}: {exc}"
            html_path.unlink(missing_ok=True)  # never leave an outdated report linked
            self.close()  # the next report gets a new kernel, whatever state this one is in
            where = f" (executed notebook: {notebook_path})" if notebook_path.is_file() else ""
            return ReportResult(job, False, time.perf_counter() - started, error.splitlines()[0][:500] + where)


_ENGINE = None


def _warm_kernel_engine():
    """papermill's nbclient engine, run on the worker's kernel instead of a new one.

    Built on first use so that importing this module (kernels do) never imports papermill.
    """
    global _ENGINE
    if _ENGINE is None:
        import logging

        from papermill.clientwrap import PapermillNotebookClient
        from papermill.engines import NBClientEngine

        class WarmKernelEngine(NBClientEngine):
            @classmethod
            def execute_managed_notebook(cls, nb_man, kernel_name, log_output=False, stdout_file=None,
                                         stderr_file=None, start_timeout=60, execution_timeout=None, **kwargs):
                client = PapermillNotebookClient(
                    nb_man, km=_WORKER.km, kernel_name=kernel_name, timeout=execution_timeout,
                    startup_timeout=start_timeout, log=logging.getLogger("papermill"), log_output=False,
                )
                client.kc = _WORKER.kc  # with km and kc set, setup_kernel starts nothing and keeps both
                return client.execute()

        _ENGINE = WarmKernelEngine
    return _ENGINE


