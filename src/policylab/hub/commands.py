"""The `policylab hub` click group: thin commands over :mod:`policylab.hub.layout` and :mod:`policylab.hub.check`."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import click

from policylab.hub.check import run_checks
from policylab.data.draws import DrawError
from policylab.hub.draws import prepare_draws
from policylab.hub.layout import init_layout
from policylab.hub.settings import (
    COURSE_GROUP,
    DEFAULT_EXCHANGE,
    DEFAULT_PREFIX,
    DEPLOY_DIR,
    SETTINGS_NAME,
    TRAINER_GROUP,
    HubError,
    MANAGER_GROUP,
    CHECKS_USER,
    REPORTS_USER,
    HubSettings,
    members,
)


@click.group()
def hub() -> None:
    """The multi-user deployment: JupyterHub + nbgrader exchange + PostgreSQL (docs/deploy.md)."""


@hub.command("init")
@click.option("--prefix", type=click.Path(path_type=Path), default=DEFAULT_PREFIX, show_default=True,
              help="Where the hub's settings, role configs and datasets go.")
@click.option("--exchange", type=click.Path(path_type=Path), default=DEFAULT_EXCHANGE, show_default=True,
              help="nbgrader's exchange folder.")
@click.option("--course", "course_root", type=click.Path(path_type=Path, file_okay=False), default=None,
              help="The shared course directory (a checkout of this repository; default: the one you are in).")
@click.option("--db-url", required=True, envvar="POLICYLAB_DB_URL",
              help="The gradebook, e.g. postgresql://policylab:PASSWORD@db-host/policylab.")
@click.option("--python", default=sys.executable, show_default=True,
              help="The course environment's python, readable by every user (single-user servers run it).")
@click.option("--trainer", "trainers", multiple=True, help="Existing user to add to the trainers (repeatable).")
@click.option("--learner", "learners", multiple=True, help="Existing user to add to the learners (repeatable).")
@click.option("--manager", "managers", multiple=True,
              help="Existing user to add to the managers: the dashboard only, no Jupyter server (repeatable).")
@click.option("--bind-url", default="http://127.0.0.1:8000", show_default=True,
              help="Where the hub listens (put HTTPS in front of it, docs/deploy.md).")
@click.option("--hub-port", type=int, default=8081, show_default=True)
@click.option("--proxy-api-port", type=int, default=8001, show_default=True)
@click.option("--proxy-command", default="", help="configurable-http-proxy (default: deploy/node_modules/.bin or PATH).")
@click.option("--authenticator", type=click.Choice(["pam", "dummy"]), default="pam", show_default=True,
              help="'dummy' takes one shared password (POLICYLAB_HUB_PASSWORD): for tests only.")
@click.option("--course-group", default=COURSE_GROUP, show_default=True, help="Unix group of every course member.")
@click.option("--trainer-group", default=TRAINER_GROUP, show_default=True, help="Unix group of the trainers.")
@click.option("--manager-group", default=MANAGER_GROUP, show_default=True, help="Unix group of the managers.")
@click.option("--reports-user", default=REPORTS_USER, show_default=True,
              help="System user the reports service runs as (created if missing, added to the trainers' group).")
@click.option("--reports-port", type=int, default=8002, show_default=True, help="The reports service's port (loopback).")
@click.option("--checks-user", default=CHECKS_USER, show_default=True,
              help="System user the check service runs as (created if missing, added to the trainers' group).")
@click.option("--precheck-port", type=int, default=8003, show_default=True, help="The check service's port (loopback).")
def hub_init(prefix, exchange, course_root, db_url, python, trainers, learners, managers, bind_url, hub_port,
             proxy_api_port, proxy_command, authenticator, course_group, trainer_group, manager_group, reports_user,
             reports_port, checks_user, precheck_port) -> None:
    """Lay out the deployment (run as root); then start JupyterHub with the printed command."""
    from policylab.course.paths import find_root

    if not proxy_command:
        local = DEPLOY_DIR / "node_modules" / ".bin" / "configurable-http-proxy"
        proxy_command = str(local) if local.exists() else (shutil.which("configurable-http-proxy") or "")
    try:
        settings = init_layout(prefix=prefix, exchange=exchange, course_root=course_root or find_root(),
                               db_url=db_url, python=python, trainers=list(trainers), learners=list(learners),
                               bind_url=bind_url, hub_port=hub_port, proxy_api_port=proxy_api_port,
                               proxy_command=proxy_command, authenticator=authenticator,
                               course_group=course_group, trainer_group=trainer_group, managers=list(managers),
                               manager_group=manager_group, reports_user=reports_user, reports_port=reports_port,
                               checks_user=checks_user, precheck_port=precheck_port)
        drawn = prepare_draws(settings, list(learners))
    except (HubError, DrawError, subprocess.CalledProcessError) as exc:
        raise click.ClickException(str(getattr(exc, "stderr", None) or exc)) from None
    hub_dir = Path(settings.prefix) / "hub"
    click.echo(f"learners' own draws: {drawn} learner(s) in {settings.draws} (later learners: `policylab hub draws`)")
    click.echo(f"course {settings.course_id}: exchange {settings.exchange_root}, course root {settings.course_root}")
    click.echo(f"trainers ({trainer_group}): {', '.join(members(trainer_group)) or '-'}; "
               f"course members ({course_group}): {len(members(course_group))}; "
               f"managers ({manager_group}): {', '.join(members(manager_group)) or '-'}")
    if not settings.proxy_command:
        click.echo("configurable-http-proxy not found: `npm ci --prefix deploy` (docs/deploy.md)", err=True)
    click.echo(f"start the hub:\n  cd {hub_dir} && POLICYLAB_HUB_SETTINGS={settings.prefix}/etc/{SETTINGS_NAME} "
               f"{Path(sys.executable).parent}/jupyterhub -f {hub_dir}/jupyterhub_config.py")


@hub.command("draws")
@click.option("--settings", "settings_path", type=click.Path(path_type=Path),
              default=DEFAULT_PREFIX / "etc" / SETTINGS_NAME, show_default=True, envvar="POLICYLAB_HUB_SETTINGS")
@click.option("--learner", "learners", multiple=True, help="Only this learner (repeatable; default: the roster).")
def hub_draws(settings_path: Path, learners: tuple[str, ...]) -> None:
    """Build each learner's own draws into the folder only their server reads (run as root)."""
    from policylab.grading.roster import load_roster

    try:
        settings = HubSettings.load(settings_path)
        names = list(learners) or [r.learner_id for r in load_roster(Path(settings.course_root))]
        done = prepare_draws(settings, names)
    except (HubError, DrawError) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"학습자 {done}명의 개인별 자료를 {settings.draws}에 준비했습니다.")


@hub.command("check")
@click.option("--settings", "settings_path", type=click.Path(path_type=Path),
              default=DEFAULT_PREFIX / "etc" / SETTINGS_NAME, show_default=True, envvar="POLICYLAB_HUB_SETTINGS")
@click.option("--url", default=None, help="The hub's URL (default: bind_url from the settings).")
@click.option("--trainer", default=None, help="A trainer account to check with (default: the first trainer).")
@click.option("--learner", default=None, help="A learner account to check with (default: the first learner).")
@click.option("--manager", default=None, help="A manager account to check with (default: the first manager, if any).")
def hub_check(settings_path: Path, url: str | None, trainer: str | None, learner: str | None,
              manager: str | None) -> None:
    """Verify a running deployment; exits 1 if any check fails."""
    try:
        settings = HubSettings.load(settings_path)
        results = run_checks(settings, url=url, trainer=trainer, learner=learner, manager=manager)
    except HubError as exc:
        raise click.ClickException(str(exc)) from None
    for result in results:
        click.echo(f"{'OK  ' if result.ok else 'FAIL'} {result.name}: {result.detail}")
    failed = [r for r in results if not r.ok]
    click.echo(f"{len(results) - len(failed)}/{len(results)} checks passed.")
    if failed:
        sys.exit(1)
