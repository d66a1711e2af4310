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
