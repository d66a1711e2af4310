"""`policylab variants`: the trainer's commands for each learner's own draw (policylab.grading.variants)."""
from __future__ import annotations

from pathlib import Path

import click


@click.group()
def variants() -> None:
    """Each learner's own draw of a converted module's exercise data."""


@variants.command("build")
@click.option("--learner", "learners", multiple=True, help="Only this learner (repeatable; default: the roster).")
@click.option("--module", "modules", multiple=True, help="Only this module (repeatable; default: every converted one).")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Write the data folders here (<out>/<learner>/<module>/, e.g. the hub's draws folder).")
@click.pass_context
def variants_build(ctx: click.Context, learners: tuple[str, ...], modules: tuple[str, ...], out: Path | None) -> None:
    """Build every learner's draw (cached: unchanged draws are kept)."""
    from policylab.course.paths import find_root
    from policylab.data.draws import DrawError, load_variant_key
    from policylab.grading.variants import build_variants

    root = ctx.obj.get("root") or find_root()
    try:
        _, demo = load_variant_key()
        done = build_variants(root, learners=list(learners) or None, modules=list(modules) or None, base=out)
    except DrawError as exc:
        raise click.ClickException(str(exc)) from None
    slowest = max((d[3] for d in done), default=0.0)
    click.echo(f"개인별 자료 {len(done)}개 준비 (가장 오래 걸린 것 {slowest:.2f}초): "
               f"{out or root / 'grading' / 'variants' / 'draws'}")
    if demo:
        click.echo("주의: 공개된 데모 변형 키를 썼습니다. 실제 학습자에게는 $POLICYLAB_VARIANT_KEY_FILE로 "
                   "비밀 키를 지정하세요.", err=True)


@variants.command("show")
@click.argument("learner")
@click.argument("module_id", metavar="MODULE")
@click.pass_context
def variants_show(ctx: click.Context, learner: str, module_id: str) -> None:
    """Print a learner's draw: planted values and the reference figures written answers are marked against."""
    from policylab.course.paths import find_root
    from policylab.data.draws import DrawError
    from policylab.grading.variants import describe

    try:
        click.echo(describe(ctx.obj.get("root") or find_root(), learner, module_id))
    except (DrawError, KeyError, FileNotFoundError) as exc:
        raise click.ClickException(str(exc)) from None
