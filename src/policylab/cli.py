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
    from policylab.build import BuildError, build_exercises, check_exercises

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
@click.pass_context
def demo(ctx: click.Context) -> None:
    """Build the exercises and autograde each ready module's solution (what exists so far)."""
    import shutil

    from policylab.build import build_exercises
    from policylab.course import load_modules
    from policylab.grading import grade_module, read_scores
    from policylab.paths import find_root

    root = _root(ctx) or find_root()
    click.echo("PolicyLab demo — 현재 단계: 연습문제 생성과 모범답안 자동채점까지만 합니다 "
               "(가상 학습자 채점과 보고서는 아직 없습니다).")
    for path in build_exercises(root=root):
        click.echo(f"built {path.relative_to(root)}")
    for module in load_modules(root, ready_only=True):
        target = root / "grading" / "submitted" / "demo-solution" / module.id
        target.mkdir(parents=True, exist_ok=True)
        shutil.copy2(module.source, target / module.source.name)
        grade_module(module.id, root=root, learners=["demo-solution"])
        cells = read_scores(module.id, root=root)["demo-solution"]
        got, best = sum(s for s, _ in cells.values()), sum(m for _, m in cells.values())
        click.echo(f"{module.id}: solution autograded {got:g}/{best:g} points")


@main.group()
def data() -> None:
    """Synthetic datasets and the privacy toolkit (build, check, scan)."""


@data.command("build")
@click.option("--seed", type=int, default=None, help="Seed (default: the course seed in policylab.data.truth).")
@click.pass_context
def data_build(ctx: click.Context, seed: int | None) -> None:
    """Regenerate datasets/ deterministically (files, README.md, MANIFEST.json)."""
    import time

    from policylab.data.publish import PublishError, build_datasets
    from policylab.data.truth import SEED

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

