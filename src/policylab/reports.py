"""Learner progress reports and the manager dashboard: grading snapshot → papermill → HTML.

One batch (``render_reports``) works like this:

1. the gradebook is read once, by grading's ``export_snapshot`` (``_export_snapshot`` is the
   only call into grading), into the CSV files of docs/snapshot.md;
2. the snapshot is checked here, in the parent process, so a broken path or file stops the
   batch with an error naming the file before any kernel starts;
3. worker processes render one report per papermill run, each worker reusing one kernel
   (the user namespace is reset between reports, the kernel restarted after any failure),
   so no report pays for a kernel start or for importing pandas and plotly;
4. each executed notebook is kept next to its HTML (``learners/<id>.ipynb``); the HTML has
   no code cells and loads plotly.js from ``grading/out/plotly.min.js``, written once;
5. ``index.html`` links the dashboard and every learner's report.

The templates (``grading/reports/*.ipynb``) read the snapshot through ``load_snapshot`` and
draw charts through ``show_chart``; the privacy rules (quartiles only, cells under
``MIN_GROUP`` learners suppressed) live in ``cohort_quartiles`` and ``suppress_cells``.
Nothing heavy is imported at module level: kernels import this module too.
"""
from __future__ import annotations

import html
import os
import re
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Iterable

from policylab.paths import find_root
from policylab.states import STATES

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

MIN_GROUP = 5
"""Smallest number of learners an aggregate may describe (DESIGN §4, §6)."""

TEMPLATES = {"learner": "learner_report.ipynb", "dashboard": "dashboard.ipynb"}

SNAPSHOT_COLUMNS: dict[str, tuple[str, ...]] = {
    "roster.csv": ("learner_id", "department", "cohort", "start_date", "name"),
    "results.csv": (
        "learner_id", "department", "cohort", "module", "state", "reason", "score", "max_score",
        "auto_score", "auto_max", "manual_score", "manual_max", "submitted_at", "graded_at",
    ),
    "questions.csv": ("learner_id", "module", "question", "title", "skills", "kind", "score", "max_score"),
    "comments.csv": ("learner_id", "module", "question", "comment"),
}
NUMERIC_COLUMNS = {"score", "max_score", "auto_score", "auto_max", "manual_score", "manual_max"}

STATE_LABELS = {
    "graded": "채점 완료",
    "timed_out": "시간 초과",
    "kernel_died": "실행 중단(커널 종료)",
    "limit_exceeded": "자원 한도 초과(메모리·CPU·출력 등)",
    "unreadable": "파일을 읽을 수 없음",
    "tampered": "보호된 셀 수정(원본 복원 후 채점)",
    "missing": "미제출",
}
assert set(STATE_LABELS) == set(STATES), "policylab.states and the report labels must list the same states"
COMPLETED_STATES = ("graded", "tampered")
"""A module counts as completed when it was submitted and graded in full (tampered cells are
restored from the source before grading)."""

FONT_FAMILY = "'Noto Sans KR', 'Malgun Gothic', 'Apple SD Gothic Neo', 'Nanum Gothic', sans-serif"
LEARNER_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


class ReportError(RuntimeError):
    """A snapshot, template or option is unusable; the message names the file and the fix."""


# --------------------------------------------------------------------------- the snapshot


@dataclass
class Snapshot:
    """The four snapshot tables (docs/snapshot.md), text columns as ``str``, points as floats."""

    folder: Path
    roster: "pd.DataFrame"
    results: "pd.DataFrame"
    questions: "pd.DataFrame"
    comments: "pd.DataFrame"


def default_snapshot_dir(root: Path | None = None) -> Path:
    return (Path(root) if root else find_root()) / "grading" / "out" / "data"


def _read_table(path: Path) -> "pd.DataFrame":
    import pandas as pd

    if not path.is_file():
        raise ReportError(
            f"{path}: snapshot file not found. Run `policylab report` without --snapshot to export "
            "a fresh snapshot from the gradebook, or point --snapshot at a folder holding "
            f"{', '.join(SNAPSHOT_COLUMNS)}."
        )
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8")
    except (UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise ReportError(f"{path}: not a readable UTF-8 CSV file ({exc.__class__.__name__}: {exc})") from None
    missing = [c for c in SNAPSHOT_COLUMNS[path.name] if c not in frame.columns]
    if missing:
        raise ReportError(
            f"{path}: missing column(s) {', '.join(missing)}; docs/snapshot.md lists the columns "
            "grading's export_snapshot writes."
        )
    for column in NUMERIC_COLUMNS & set(frame.columns):
        text = frame[column].str.strip()
        numbers = pd.to_numeric(text.where(text != ""), errors="coerce")
        bad = numbers.isna() & (text != "")
        if bad.any():
            row = int(bad.to_numpy().nonzero()[0][0]) + 2  # 1-based, after the header line
            raise ReportError(f"{path}: line {row}: column {column!r} is not a number ({text[bad].iloc[0]!r})")
        frame[column] = numbers.astype("float64")
    return frame


def load_snapshot(folder: str | os.PathLike | None = None, *, root: str | os.PathLike | None = None) -> Snapshot:
    """Read and check the snapshot CSVs; any problem raises ReportError naming the file."""
    folder = Path(folder) if folder else default_snapshot_dir(Path(root) if root else None)
    if not folder.is_dir():
        raise ReportError(
            f"{folder}: snapshot folder not found. Run `policylab report` (it exports the snapshot "
            "from the gradebook) or pass --snapshot with the folder that holds roster.csv."
        )
    tables = {name: _read_table(folder / name) for name in SNAPSHOT_COLUMNS}
    roster = tables["roster.csv"]
    if roster.empty:
        raise ReportError(f"{folder / 'roster.csv'}: the roster lists no learners")
    duplicated = roster["learner_id"][roster["learner_id"].duplicated()]
    if not duplicated.empty:
        raise ReportError(f"{folder / 'roster.csv'}: learner {duplicated.iloc[0]!r} is listed twice")
    results = tables["results.csv"]
    unknown = sorted(set(results["state"]) - set(STATES))
    if unknown:
        raise ReportError(
            f"{folder / 'results.csv'}: unknown state(s) {', '.join(map(repr, unknown))}; "
            f"expected one of {', '.join(STATES)}"
        )
    return Snapshot(folder, roster, results, tables["questions.csv"], tables["comments.csv"])


# --------------------------------------------------------------------------- the course map


@dataclass(frozen=True)
class CourseInfo:
    """What the templates need from course.yml: modules in course order and skill names."""

    modules: "pd.DataFrame"  # module, title, lesson, ready, order, skills (tuple)
    skills: dict[str, str]   # skill id → Korean name


def load_course_info(root: str | os.PathLike | None = None) -> CourseInfo:
    import pandas as pd

    from policylab.course import load_course, load_modules

    root = Path(root) if root else find_root()
    modules = load_modules(root)
    frame = pd.DataFrame(
        {
            "module": [m.id for m in modules],
            "title": [m.title_ko for m in modules],
            "lesson": [m.lesson.relative_to(root).as_posix() for m in modules],
            "ready": [m.ready for m in modules],
            "order": list(range(len(modules))),
            "skills": [m.skills for m in modules],
        }
    )
    skills = {key: value.get("ko", key) for key, value in load_course(root).get("skills", {}).items()}
    return CourseInfo(frame, skills)


# --------------------------------------------------------------------------- privacy rules


def cohort_quartiles(frame: "pd.DataFrame", by: str | list[str], value: str, *, min_n: int = MIN_GROUP) -> "pd.DataFrame":
    """Q1, median and Q3 of ``value`` per group, with ``n``; groups under ``min_n`` get no quartiles.

    Only these three numbers ever describe other learners in a learner's report.
    """
    import pandas as pd

    keys = [by] if isinstance(by, str) else list(by)
    rows = []
    for key, group in frame.dropna(subset=[value]).groupby(keys, sort=False):
        values = group[value]
        key = key if isinstance(key, tuple) else (key,)
        row = dict(zip(keys, key), n=len(values))
        if len(values) >= min_n:
            row.update(q1=values.quantile(0.25), median=values.quantile(0.5), q3=values.quantile(0.75))
        rows.append(row)
    out = pd.DataFrame(rows, columns=[*keys, "n", "q1", "median", "q3"])
    return out.astype({"n": "int64", "q1": "float64", "median": "float64", "q3": "float64"})


def suppress_cells(values: "pd.DataFrame", counts: "pd.DataFrame", *, min_n: int = MIN_GROUP) -> tuple["pd.DataFrame", "pd.DataFrame"]:
    """Hide every cell whose ``counts`` (learners it describes) is between 1 and ``min_n - 1``.

    A column total shown elsewhere would let a reader recover a single hidden cell by
    subtraction, so in each column further cells are hidden, smallest first, until the
    hidden cells together describe at least ``min_n`` learners (secondary suppression).
    Returns (values with hidden cells as NaN, a status frame: "" shown, "small" hidden because
    it describes too few learners, "secondary" hidden to protect another cell, "empty" no learners).
    """
    import pandas as pd

    counts = counts.reindex(index=values.index, columns=values.columns).fillna(0)
    status = pd.DataFrame("", index=values.index, columns=values.columns, dtype=object)
    status[counts == 0] = "empty"
    small = (counts > 0) & (counts < min_n)
    status[small] = "small"
    for column in values.columns:
        hidden = status[column] == "small"
        if not hidden.any():
            continue
        covered = counts.loc[hidden, column].sum()
        candidates = counts.loc[status[column] == "", column].sort_values(kind="stable")
        for index, count in candidates.items():
            if covered >= min_n and hidden.sum() >= 2:
                break
            status.loc[index, column] = "secondary"
            hidden[index] = True
            covered += count
    shown = values.astype("float64").where(status == "")
    return shown, status


def skill_mastery(questions: "pd.DataFrame") -> "pd.DataFrame":
    """Points earned / points possible per learner × skill tag, over graded questions only.

    A question tagged with several skills (``data-loading;python-basics``) counts for each;
    questions without a score yet (written answers a trainer has not graded) are left out.
    """
    graded = questions.dropna(subset=["score", "max_score"])
    tags = graded.assign(skill=graded["skills"].str.split(";")).explode("skill")
    tags["skill"] = tags["skill"].str.strip()
    tags = tags[tags["skill"].notna() & (tags["skill"] != "")]
    out = tags.groupby(["learner_id", "skill"], as_index=False)[["score", "max_score"]].sum()
    out = out[out["max_score"] > 0]
    return out.assign(pct=100.0 * out["score"] / out["max_score"]).reset_index(drop=True)


SUPPRESSION_NOTE = {"small": "비공개¹", "secondary": "비공개²", "empty": "–"}
SUPPRESSION_FOOTNOTE = (
    f"비공개¹: {MIN_GROUP}명 미만의 학습자를 묘사하는 칸입니다. "
    "비공개²: 전체 값에서 빼서 비공개¹ 칸을 알아낼 수 없도록 함께 가린 칸입니다. –: 해당 학습자가 없습니다."
)


def format_cells(shown: "pd.DataFrame", status: "pd.DataFrame", fmt: str = "{:.0f}") -> "pd.DataFrame":
    """Text for a table: numbers formatted, hidden cells labelled with why."""
    out = shown.copy().astype(object)
    for column in shown.columns:
        for index in shown.index:
            reason = status.loc[index, column]
            value = shown.loc[index, column]
            out.loc[index, column] = SUPPRESSION_NOTE[reason] if reason else fmt.format(value)
    return out


# --------------------------------------------------------------------------- display helpers


def show_chart(fig, name: str, *, as_html: bool = True) -> None:
    """Display a plotly figure; as HTML that uses the page's plotly.js (never a CDN) when rendering.

    plotly's default renderer inside a papermill kernel writes output nbconvert's HTML does
    not show (DESIGN §8), so reports always pass ``as_html=True``; a trainer running the
    template in JupyterLab leaves it False and sees the ordinary interactive figure.
    """
    from IPython.display import HTML, display

    fig.update_layout(font_family=FONT_FAMILY, template="plotly_white", margin=dict(t=60, r=30, b=50, l=60))
    if not as_html:
        fig.show()
        return
    display(HTML(fig.to_html(
        full_html=False,
        include_plotlyjs=False,
        div_id=f"chart-{name}",
        config={"displaylogo": False, "responsive": True},
    )))


def suppressed_heatmap(shown: "pd.DataFrame", status: "pd.DataFrame", *, title: str, value_title: str,
                       fmt: str = "{:.0f}", zmax: float = 100.0):
    """A heatmap of ``shown`` where hidden cells are grey and say why, never their value."""
    import plotly.graph_objects as go

    labels = format_cells(shown, status, fmt)
    x, y = [str(c) for c in shown.columns], [str(i) for i in shown.index]
    hidden = status.isin(["small", "secondary"]).to_numpy()
    values = shown.to_numpy()
    fig = go.Figure()
    fig.add_heatmap(
        x=x, y=y, z=[[1.0 if h else None for h in row] for row in hidden],
        text=[[labels.iat[i, j] if hidden[i][j] else "" for j in range(len(x))] for i in range(len(y))],
        texttemplate="%{text}", colorscale=[[0, "#d9d9d9"], [1, "#d9d9d9"]], showscale=False,
        hovertemplate="%{y} · %{x}: %{text}<extra></extra>", xgap=2, ygap=2,
    )
    fig.add_heatmap(
        x=x, y=y, z=[[None if v != v else float(v) for v in row] for row in values],
        text=[[labels.iat[i, j] if not hidden[i][j] else "" for j in range(len(x))] for i in range(len(y))],
        texttemplate="%{text}", colorscale="Blues", zmin=0, zmax=zmax,
        colorbar=dict(title=dict(text=value_title)),
        hovertemplate="%{y} · %{x}: %{text}<extra></extra>", xgap=2, ygap=2,
    )
    fig.update_layout(title=title, yaxis=dict(autorange="reversed", type="category"),
                      xaxis=dict(type="category", side="top"), height=120 + 40 * len(y))
    return fig


def show_table(frame: "pd.DataFrame", *, index: bool = False) -> None:
    """Display a table as escaped HTML (trainer comments are free text)."""
    from IPython.display import HTML, display

    frame = frame.rename_axis(columns=None)
    display(HTML(frame.to_html(index=index, escape=True, na_rep="–", border=0, classes="policylab-table")))


def show_text(markdown: str) -> None:
    from IPython.display import Markdown, display

    display(Markdown(markdown))


# --------------------------------------------------------------------------- a batch


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


def _export_snapshot(*, root: Path, out_dir: Path) -> Path:
    """Read the gradebook once for the batch: the only place reports call into grading."""
    import importlib

    from policylab.nbconfig import load_config

    export = None
    for name in ("policylab.export", "policylab.grading"):  # where grading's export_snapshot lives
        try:
            export = getattr(importlib.import_module(name), "export_snapshot", None)
        except ImportError:
            continue
        if export is not None:
            break
    if export is None:
        raise ReportError(
            "grading's export_snapshot is not available in this version; "
            "pass --snapshot DIR with CSV files as described in docs/snapshot.md."
        )
    db_url = load_config(root).CourseDirectory.db_url  # nbgrader_config.py honours POLICYLAB_DB_URL
    if db_url.startswith("sqlite:///"):
        db_file = Path(db_url.removeprefix("sqlite:///"))
        if not db_file.is_file():
            raise ReportError(
                f"{db_file}: gradebook not found (a mistyped path would give empty reports). "
                "Grade submissions first (`policylab grade MODULE` or `policylab demo`), or fix "
                "POLICYLAB_DB_URL / db_url in nbgrader_config.py."
            )
    out_dir.mkdir(parents=True, exist_ok=True)
    try:
        export(root=root, out_dir=out_dir)
    except ReportError:
        raise
    except Exception as exc:  # grading's own errors name their file; keep the message
        raise ReportError(f"exporting the grading snapshot failed: {exc}") from exc
    return out_dir


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

    ``snapshot_dir`` None exports a fresh snapshot from the gradebook into ``out_dir/data``;
    otherwise the CSVs there are used as they are. ``dashboard`` defaults to True for a full
    batch and False when ``learners`` is given. A report that fails is recorded in the
    summary (its executed notebook kept, its HTML removed) and the others go on.
    """
    started = time.perf_counter()
    root = Path(root).resolve() if root else find_root()
    out_dir = Path(out_dir).resolve() if out_dir else root / "grading" / "out"
    out_dir.mkdir(parents=True, exist_ok=True)
    if snapshot_dir is None:
        snapshot_dir = _export_snapshot(root=root, out_dir=out_dir / "data")
    snap = load_snapshot(snapshot_dir)

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
        self.exporter = _html_exporter()
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
                _for_html(nb, title), resources={"policylab_plotly_src": job.plotly_src}
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


_HTML_TEMPLATE = """\
{%- extends 'lab/index.html.j2' -%}
{%- block html_head_js -%}
<script src="{{ resources.policylab_plotly_src }}" charset="utf-8"></script>
{%- endblock html_head_js -%}
{%- block jupyter_widgets -%}{%- endblock jupyter_widgets -%}
{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
{%- block extra_css -%}
<style type="text/css">
body.jp-Notebook { font-family: FONTS; max-width: 1100px; margin: 0 auto; }
.jp-RenderedHTMLCommon, .jp-RenderedMarkdown { font-family: FONTS; }
.jp-RenderedHTMLCommon table.policylab-table { border-collapse: collapse; margin: 0.5em 0 1em; }
.jp-RenderedHTMLCommon table.policylab-table th,
.jp-RenderedHTMLCommon table.policylab-table td { padding: 4px 10px; border-bottom: 1px solid #ddd; text-align: left; }
.jp-RenderedHTMLCommon table.policylab-table th { background: #f3f5f8; }
</style>
{%- endblock extra_css -%}
""".replace("FONTS", FONT_FAMILY)


def _html_exporter():
    """nbconvert's lab HTML without code, with no script or stylesheet from a network."""
    from jinja2 import DictLoader
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(
        extra_loaders=[DictLoader({"policylab_report.html.j2": _HTML_TEMPLATE})],
        template_file="policylab_report.html.j2",
        exclude_input=True,
        exclude_input_prompt=True,
        exclude_output_prompt=True,
        language_code="ko",
    )
    return exporter


def _for_html(nb, title: str):
    """A copy for the HTML page: its title, and no stderr streams (warnings are for the record, not the reader)."""
    import copy

    nb = copy.deepcopy(nb)
    nb.metadata["title"] = title
    for cell in nb.cells:
        if cell.get("cell_type") == "code":
            cell["outputs"] = [o for o in cell.get("outputs", [])
                               if not (o.get("output_type") == "stream" and o.get("name") == "stderr")]
    return nb


# --------------------------------------------------------------------------- index and summary


def write_index(out_dir: Path, snap: Snapshot, results: list[ReportResult]) -> Path:
    """``index.html``: the dashboard and every learner's report present in ``out_dir``."""
    this_run = {r.job.name: r for r in results}
    rows = []
    for learner, department in zip(snap.roster["learner_id"], snap.roster["department"]):
        page = out_dir / "learners" / f"{learner}.html"
        result = this_run.get(learner)
        if result is not None and not result.ok:
            status = f'<span class="failed">실패: {html.escape(result.error)}</span>'
        elif page.is_file():
            status = "생성됨" if result is not None else "이전 실행에서 생성됨"
        else:
            status = "아직 만들지 않음"
        link = (f'<a href="learners/{html.escape(learner)}.html">{html.escape(learner)}</a>'
                if page.is_file() else html.escape(learner))
        rows.append(f"<tr><td>{link}</td><td>{html.escape(department)}</td><td>{status}</td></tr>")
    board = this_run.get("dashboard")
    if (out_dir / "dashboard.html").is_file():
        board_line = '<a href="dashboard.html">관리자 대시보드</a> (부서·모듈별 집계, 5명 미만 칸은 비공개)'
    elif board is not None and not board.ok:
        board_line = f'관리자 대시보드: <span class="failed">실패: {html.escape(board.error)}</span>'
    else:
        board_line = "관리자 대시보드: 아직 만들지 않았습니다."
    failed = sum(1 for r in results if not r.ok)
    page = f"""<!DOCTYPE html>
<html lang="ko">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<title>PolicyLab 보고서</title>
<style>
body {{ font-family: {FONT_FAMILY}; max-width: 960px; margin: 2em auto; padding: 0 1em; color: #222; }}
table {{ border-collapse: collapse; width: 100%; }}
th, td {{ text-align: left; padding: 4px 10px; border-bottom: 1px solid #ddd; }}
th {{ background: #f3f5f8; }}
.failed {{ color: #b00020; }}
</style>
</head>
<body>
<h1>PolicyLab 보고서</h1>
<p>생성 시각: {time.strftime("%Y-%m-%d %H:%M")} · 이번 실행: {len(results)}건, 실패 {failed}건 ·
채점 스냅샷: <code>{html.escape(str(snap.folder))}</code></p>
<h2>관리자용</h2>
<p>{board_line}</p>
<h2>학습자별 진도 보고서 (강사용 목록)</h2>
<p>각 보고서에는 해당 학습자 본인의 점수와 동기 전체의 사분위수만 들어 있습니다.</p>
<table>
<thead><tr><th>학습자</th><th>부서</th><th>상태</th></tr></thead>
<tbody>
{chr(10).join(rows)}
</tbody>
</table>
</body>
</html>
"""
    index = out_dir / "index.html"
    index.write_text(page, encoding="utf-8")
    return index


def format_summary(summary: ReportSummary, *, root: Path | None = None) -> str:
    """The end-of-run table: done, failed and why, where the outputs are."""
    def show(path) -> str:
        path = Path(path)
        try:
            return str(path.relative_to(root)) if root else str(path)
        except ValueError:
            return str(path)

    n = len(summary.results)
    per = summary.seconds / n if n else 0.0
    lines = [
        f"보고서 {n}건: 완료 {len(summary.done)}건, 실패 {len(summary.failed)}건 "
        f"({summary.seconds:.1f}초, 보고서당 {per:.2f}초, 작업 프로세스 {summary.workers}개)",
    ]
    for result in summary.failed:
        lines.append(f"  실패  {result.job.name}: {result.error}")
    lines.append(f"스냅샷: {show(summary.snapshot_dir)}")
    lines.append(f"실행 기록(.ipynb)과 HTML: {show(summary.out_dir)}")
    lines.append(f"목록: {show(summary.index)}")
    return "\n".join(lines)
