"""The ``policylab`` command: thin click wrappers over one function per capability."""
from __future__ import annotations

import sys
from pathlib import Path

import click

from policylab import __version__


def _root(ctx: click.Context) -> Path | None:
    return ctx.obj.get("root")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--root", type=click.Path(file_okay=False, path_type=Path),
              help="Course directory (default: the repository you are in).")
@click.version_option(__version__, prog_name="policylab")
@click.pass_context
def main(ctx: click.Context, root: Path | None) -> None:
    """PolicyLab: build, grade and report the evidence-based policy course."""
    ctx.obj = {"root": root.resolve() if root else None}


@main.command()
@click.option("--check", is_flag=True, help="Only verify that exercises/ matches solutions/; change nothing.")
@click.option("--module", "modules", multiple=True, help="Module id (repeatable); default: every ready module.")
@click.pass_context
def build(ctx: click.Context, check: bool, modules: tuple[str, ...]) -> None:
    """Generate exercises/ from solutions/ with nbgrader (or check it is up to date)."""
    from policylab.course.build import BuildError, build_exercises, check_exercises

    try:
        if check:
            drifts = check_exercises(root=_root(ctx), modules=list(modules))
            for drift in drifts:
                click.echo(f"DRIFT {drift}", err=True)
            if drifts:
                sys.exit(1)
            click.echo("exercises/ matches solutions/.")
        else:
            for path in build_exercises(root=_root(ctx), modules=list(modules)):
                click.echo(f"built {path}")
    except BuildError as exc:
        raise click.ClickException(str(exc)) from None


@main.command()
@click.option("--learners", type=click.IntRange(min=1), default=30, show_default=True,
              help="Simulated learners across the corporation's departments.")
@click.option("--workers", type=click.IntRange(min=1), default=None,
              help="Processes for grading (default: cores + 1), feedback and reports (default: cores).")
@click.pass_context
def demo(ctx: click.Context, learners: int, workers: int | None) -> None:
    """The whole cycle on simulated learners: build, release, submit, autograde, feedback, reports."""
    from policylab.demo.cohort import CohortError
    from policylab.demo.run import run_demo
    from policylab.reports.pages import format_summary
    from policylab.reports.snapshot import ReportError

    try:
        result = run_demo(root=_root(ctx), learners=learners, workers=workers, echo=click.echo,
                          grading_bar=_grading_bar)
    except (*_grading_errors(), CohortError, ReportError) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(format_summary(result.summary, root=result.root))
    for line in result.unexpected:
        click.echo(f"  주의: 가상 제출물의 상태가 예상과 다릅니다: {line}", err=True)
    click.echo(f"\n보고서 목록을 브라우저로 여십시오: {result.summary.index}")
    if result.summary.failed or result.unexpected:
        sys.exit(1)


@main.group()
def data() -> None:
    """Synthetic datasets and the privacy toolkit (build, check, scan)."""


@data.command("build")
@click.option("--seed", type=int, default=None, help="Seed (default: the course seed in policylab.data.synth.truth).")
@click.pass_context
def data_build(ctx: click.Context, seed: int | None) -> None:
    """Regenerate datasets/ deterministically (files, README.md, MANIFEST.json)."""
    import time

    from policylab.data.publish import PublishError, build_datasets
    from policylab.data.synth.truth import SEED

    started = time.perf_counter()
    try:
        paths = build_datasets(root=_root(ctx.find_root()), seed=SEED if seed is None else seed)
    except PublishError as exc:
        raise click.ClickException(str(exc)) from None
    import json

    manifest = json.loads(paths[-1].read_text(encoding="utf-8"))
    click.echo(f"{'file':<28}{'rows':>10}{'MB':>8}")
    for name, entry in manifest["files"].items():
        click.echo(f"{name:<28}{entry['rows']:>10,}{entry['bytes'] / 1e6:>8.2f}")
    size = sum(p.stat().st_size for p in paths)
    click.echo(f"wrote {len(paths)} files to {paths[0].parent} ({size / 1e6:.1f} MB) "
               f"in {time.perf_counter() - started:.1f} s")


@data.command("check")
@click.pass_context
def data_check(ctx: click.Context) -> None:
    """Verify datasets/ against MANIFEST.json and re-run the privacy checks."""
    from policylab.data.publish import check_datasets

    problems = check_datasets(root=_root(ctx.find_root()))
    for problem in problems:
        click.echo(f"FAIL {problem}", err=True)
    if problems:
        sys.exit(1)
    click.echo("datasets/ matches MANIFEST.json and passes the privacy checks.")


@data.command("scan")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--quasi", default="", help="Quasi-identifier columns, comma-separated (e.g. 행정동,성별,연령대).")
@click.option("--entity", default=None, help="Person id column: count distinct people per class, not rows.")
@click.option("--k", "k", type=int, default=5, show_default=True, help="Required k.")
def data_scan(file: Path, quasi: str, entity: str | None, k: int) -> None:
    """Scan a CSV (UTF-8 or CP949) or Excel FILE for direct identifiers and report its k.

    Exits 1 when it finds an identifier or a class smaller than k."""
    from policylab.data.privacy import scan_file

    columns = [c.strip() for c in quasi.split(",") if c.strip()]
    try:
        report = scan_file(file, quasi=columns, entity=entity, k=k)
    except (KeyError, ValueError) as exc:
        raise click.ClickException(str(exc).strip('"')) from None
    for line in report.summary():
        click.echo(line)
    if not report.ok:
        sys.exit(1)


# --------------------------------------------------------------------------- grading pipeline
def _grading_bar(desc: str):
    """A tqdm bar (with ETA) fed by grade_module's progress callback: (callback, close)."""
    from tqdm import tqdm

    bars = []

    def progress(done: int, total: int, record) -> None:
        if record is None:
            bars.append(tqdm(total=total, unit="명", desc=desc, disable=total == 0))
            return
        bars[-1].update(1)
        bars[-1].set_postfix_str(f"{record.learner}: {record.label}")

    def close() -> None:
        for bar in bars:
            bar.close()

    return progress, close


def _grading_errors():
    from policylab.course.modules import CourseError
    from policylab.grading.batch import GradingError
    from policylab.grading.collect import CollectError
    from policylab.grading.gradebook import GradebookError
    from policylab.grading.roster import RosterError

    return (CollectError, CourseError, GradebookError, GradingError, RosterError)


def _table(rows: list[tuple], headers: tuple[str, ...]) -> None:
    """A plain-text table (wide Korean characters counted as two columns)."""
    import unicodedata

    def width(text: str) -> int:
        return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)

    cells = [tuple(str(c) for c in headers)] + [tuple(str(c) for c in row) for row in rows]
    widths = [max(width(row[i]) for row in cells) for i in range(len(headers))]
    for n, row in enumerate(cells):
        click.echo("  ".join(c + " " * (w - width(c)) for c, w in zip(row, widths)).rstrip())
        if n == 0:
            click.echo("  ".join("-" * w for w in widths))


def _names(items: list[str], limit: int = 6) -> str:
    return ", ".join(items[:limit]) + (f" 외 {len(items) - limit}명" if len(items) > limit else "")


@main.command()
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@click.option("--module", "module_id", required=True, help="The module these submissions are for (e.g. m01).")
@click.option("--replace", is_flag=True,
              help="Replace an earlier, different submission (the earlier one is kept in grading/submitted/.history/).")
@click.option("--pattern", default=None,
              help="Regular expression for flat file names, with groups (?P<learner>…) and optionally "
                   "(?P<module>…), (?P<timestamp>…). Default: <learner>_<module>[_…].ipynb.")
@click.pass_context
def collect(ctx: click.Context, path: Path, module_id: str, replace: bool, pattern: str | None) -> None:
    """Take a folder or zip of submissions (PATH) into grading/submitted/<learner>/<module>/."""
    from policylab.grading.collect import collect_submissions

    try:
        report = collect_submissions(path, module_id=module_id, root=_root(ctx), replace=replace, pattern=pattern)
    except _grading_errors() as exc:
        raise click.ClickException(str(exc)) from None
    _table([(status, len(items), _names([i.learner or i.source for i in items]))
            for status, items in sorted(report.by_status().items())], ("결과", "건수", "학습자/파일"))
    for item in report.problems:
        click.echo(f"  {item.status}: {item.source}: {item.message}", err=True)
    if report.items:
        click.echo(f"제출물 폴더: {Path(report.items[0].dest).parents[1] if report.items[0].dest else 'grading/submitted'}")
    if report.problems:
        sys.exit(1)


@main.command()
@click.argument("module_ids", metavar="MODULE...", nargs=-1, required=True)
@click.option("--workers", type=click.IntRange(min=1), default=None,
              help="Grading processes (default: one more than the number of cores).")
@click.option("--learner", "learners", multiple=True, help="Grade only this learner (repeatable).")
@click.option("--force", is_flag=True, help="Regrade submissions that have not changed since they were graded.")
@click.option("--timeout", type=click.IntRange(min=1), default=None,
              help="Seconds a cell may run (default: Execute.timeout in nbgrader_config.py).")
@click.option("--no-sandbox", is_flag=True,
              help="Run learner code without the grading sandbox (trusted learners only; recorded with the grades).")
@click.pass_context
def grade(ctx: click.Context, module_ids: tuple[str, ...], workers: int | None, learners: tuple[str, ...],
          force: bool, timeout: int | None, no_sandbox: bool) -> None:
    """Autograde each MODULE's submissions in parallel (``all``: every ready module; several modules share one
    set of grading processes); exits 1 if any submission is not cleanly graded."""
    from contextlib import nullcontext

    from policylab.course.modules import load_modules
    from policylab.course.paths import find_root
    from policylab.grading.batch import shared_pool
    from policylab.grading.sandbox.configure import SandboxUnavailable

    root = _root(ctx)
    ids = [m.id for m in load_modules(root, ready_only=True)] if "all" in module_ids else list(dict.fromkeys(module_ids))
    failed = False
    try:
        with shared_pool(root or find_root(), workers) if len(ids) > 1 else nullcontext() as pool:
            for module_id in ids:
                try:
                    failed |= _grade_one(root, module_id, pool, list(learners), workers, force, timeout, no_sandbox)
                except _grading_errors() as exc:  # one module that cannot be graded does not stop the others
                    click.echo(f"{module_id}: 오류: {exc}", err=True)
                    failed = True
    except SandboxUnavailable as exc:
        click.echo(f"{exc}\n채점 샌드박스를 시작할 수 없어 채점하지 않았습니다. 위 안내대로 설치한 뒤 다시 "
                   "실행하거나, 신뢰할 수 있는(가상) 학습자만이라면 --no-sandbox를 붙이십시오.", err=True)
        sys.exit(2)
    if failed:
        sys.exit(1)


def _grade_one(root, module_id: str, pool, learners, workers, force, timeout, no_sandbox) -> bool:
    """Grade one module and print its table; True when a submission was not cleanly graded."""
    from policylab.grading import states
    from policylab.grading.batch import grade_module

    progress, close_bar = _grading_bar(f"{module_id} 채점")
    try:
        report = grade_module(module_id, root=root, learners=learners or None, workers=workers, force=force,
                              timeout=timeout, progress=progress, sandbox=not no_sandbox, pool=pool)
    finally:
        close_bar()
    groups = report.by_state()
    _table([(states.LABELS_KO[s], s, len(groups[s]), _names(groups[s])) for s in states.STATES if s in groups],
           ("상태", "state", "인원", "학습자"))
    click.echo(f"{module_id}: 이번에 채점 {len(report.regraded)}명, 변경 없어 건너뜀 {len(report.unchanged)}명 "
               f"({report.seconds:.1f}초, 작업 프로세스 {report.workers}개).")
    click.echo("채점 샌드박스: 사용" if report.sandbox else
               "채점 샌드박스: 사용 안 함 (--no-sandbox). 학습자 코드가 채점자 권한으로 실행되었고, "
               "이 사실이 채점 기록(grading/states/)에 남았습니다.")
    for learner, record in sorted(report.problems.items()):
        click.echo(f"  {learner} [{record.label}] {record.reason}", err=True)
    click.echo("기록: grading/gradebook.db (또는 POLICYLAB_DB_URL), grading/autograded/, "
               f"grading/states/{module_id}/")
    return bool(report.problems)


@main.command()
@click.argument("notebook", type=click.Path(path_type=Path))
@click.option("--module", "module_id", default=None, help="The module (default: from the file name, e.g. m01.ipynb).")
@click.option("--learner", default=None, help="Whose draw (default: $POLICYLAB_LEARNER or ~/.policylab-learner).")
@click.option("--json", "as_json", is_flag=True, help="Print the answer as JSON (for the hub's check service).")
@click.pass_context
def check(ctx: click.Context, notebook: Path, module_id: str | None, learner: str | None, as_json: bool) -> None:
    """Check NOTEBOOK before submitting: each question right, the known mistake, or what stopped it. Not a grade."""
    import json

    from policylab.grading.precheck import CheckRefused, as_dict, as_text, check_notebook
    from policylab.grading.sandbox.configure import SandboxUnavailable

    try:
        result = check_notebook(notebook, learner=learner, module_id=module_id, root=_root(ctx))
    except CheckRefused as exc:
        if as_json:  # the hub's check service tells assessment mode from other refusals
            click.echo(json.dumps({"refused": str(exc), "assessment": exc.assessment}, ensure_ascii=False))
            sys.exit(1)
        raise click.ClickException(str(exc)) from None
    except SandboxUnavailable as exc:
        click.echo(f"{exc}\n채점 샌드박스를 시작할 수 없어 확인하지 않았습니다.", err=True)
        sys.exit(2)
    except _grading_errors() as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(json.dumps(as_dict(result), ensure_ascii=False) if as_json else as_text(result))


@main.command()
@click.argument("module_id", metavar="MODULE")
@click.option("--learner", "learners", multiple=True, help="Only this learner (repeatable).")
@click.option("--workers", type=click.IntRange(min=1), default=None,
              help="Processes writing pages (default: the number of cores).")
@click.pass_context
def feedback(ctx: click.Context, module_id: str, learners: tuple[str, ...], workers: int | None) -> None:
    """Write Korean feedback HTML for MODULE (no hidden test code in it)."""
    from policylab.grading.feedback import write_feedback

    try:
        report = write_feedback(module_id, root=_root(ctx), learners=list(learners) or None, workers=workers)
    except _grading_errors() as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"피드백 {len(report.written) - len(report.withheld)}명 작성, 보류 {len(report.withheld)}명.")
    for learner, why in sorted(report.withheld.items()):
        click.echo(f"  {learner}: {why}", err=True)
    click.echo(f"위치: grading/feedback/<학습자>/{module_id}/")
    if report.withheld:
        sys.exit(1)


@main.command("release-feedback")
@click.argument("module_id", metavar="MODULE")
@click.option("--learner", "learners", multiple=True, help="Only this learner (repeatable).")
@click.option("--exchange", type=click.Path(path_type=Path, file_okay=False), default=None,
              help="nbgrader's exchange (default: Exchange.root from the Jupyter config path, as on the hub).")
@click.pass_context
def release_feedback_cmd(ctx: click.Context, module_id: str, learners: tuple[str, ...], exchange) -> None:
    """Release MODULE's Korean feedback through nbgrader's exchange ("Fetch Feedback" in the Assignments tab)."""
    from policylab.grading.release_feedback import ReleaseError, release_feedback

    try:
        report = release_feedback(module_id, root=_root(ctx), learners=list(learners) or None, exchange=exchange)
    except (ReleaseError, *_grading_errors()) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"피드백 배포 {len(report.released)}명, 건너뜀 {len(report.skipped)}명. 학습자는 과제 탭의 "
               "'Fetch Feedback'으로 받습니다.")
    for learner, why in sorted(report.skipped.items()):
        click.echo(f"  {learner}: {why}", err=True)
    if report.skipped:
        sys.exit(1)


@main.command()
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="CSV file to write (default: grading/out/results.csv).")
@click.option("--snapshot", "snapshot_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Also write the reports' snapshot (roster, results, questions, comments CSV) into this folder.")
@click.option("--no-bom", is_flag=True, help="Plain UTF-8 without the byte-order mark Excel needs for Korean.")
@click.pass_context
def export(ctx: click.Context, out: Path | None, snapshot_dir: Path | None, no_bom: bool) -> None:
    """Write learner × module results (state, score, submitted-at) as CSV for HR."""
    from collections import Counter

    from policylab.grading.export import export_results
    from policylab.pipeline import export_item_analysis
    from policylab.reports.snapshot import ReportError

    try:
        path, rows = export_results(root=_root(ctx), out=out, excel=not no_bom)
        items = export_item_analysis(root=_root(ctx), out_dir=path.parent, snapshot_dir=snapshot_dir)
    except (*_grading_errors(), ReportError) as exc:
        raise click.ClickException(str(exc)) from None
    counts = Counter((r["module"], r["state"]) for r in rows)
    _table([(m, s, n) for (m, s), n in sorted(counts.items())], ("모듈", "state", "인원"))
    click.echo(f"wrote {path} ({len(rows)} rows), {items} (item analysis for trainers)"
               + (f" and the snapshot in {snapshot_dir}" if snapshot_dir else ""))


@main.command()
@click.option("--learner", "learners", multiple=True,
              help="Render only this learner's report (repeatable); the dashboard is then skipped.")
@click.option("--workers", type=click.IntRange(min=1), default=None,
              help="Report processes (default: the number of cores).")
@click.option("--snapshot", "snapshot_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Use this snapshot folder (docs/snapshot.md) instead of exporting one from the gradebook.")
@click.pass_context
def report(ctx: click.Context, learners: tuple[str, ...], workers: int | None, snapshot_dir: Path | None) -> None:
    """Render learner reports and the manager dashboard (HTML) into grading/out/."""
    from policylab.course.paths import find_root
    from policylab.pipeline import render_from_gradebook
    from policylab.reports.pages import format_summary
    from policylab.reports.snapshot import ReportError

    root = _root(ctx) or find_root()
    try:
        summary = render_from_gradebook(root=root, learners=list(learners) or None, workers=workers,
                                        snapshot_dir=snapshot_dir)
    except (*_grading_errors(), ReportError) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(format_summary(summary, root=root))
    if summary.failed:
        sys.exit(1)


from policylab.hub.commands import hub as _hub  # noqa: E402 (the multi-user deployment: deploy/, docs/deploy.md)

main.add_command(_hub)
from policylab.grading.variants_commands import variants as _variants  # noqa: E402 (each learner's draws)

main.add_command(_variants)
