"""`policylab hub init`: write every permission and configuration file of the deployment from one set of answers.

The modes and why are in :mod:`policylab.hub.settings`; a hub that "works" for the trainer who
set it up can still leak solutions to learners, so nothing here is left to a manual chmod.
"""
from __future__ import annotations

import grp
import json
import os
import pwd
import shutil
import subprocess
from pathlib import Path

from policylab.hub.settings import (
    COURSE_GROUP,
    DEPLOY_DIR,
    EXCHANGE_MODES,
    LEARNER_DISABLED_LAB,
    LEARNER_DISABLED_SERVER,
    LEARNER_SERVER,
    SETTINGS_NAME,
    TRAINER_GROUP,
    HubError,
    MANAGER_GROUP,
    REPORTS_USER,
    CHECKS_USER,
    HubSettings,
    add_to_group,
    answers_dir,
    ensure_group,
    ensure_system_user,
    read_course_id,
    set_owner_mode,
    write_file,
)


def _role_configs(settings: HubSettings) -> dict[str, Path]:
    """Write each role's Jupyter config folder (put first on JUPYTER_CONFIG_PATH by the hub)."""
    etc = Path(settings.prefix) / "etc"
    common = (f"c.CourseDirectory.course_id = {settings.course_id!r}\n"
              f"c.Exchange.root = {settings.exchange_root!r}\n"
              "# modes are set by `policylab hub init`; nbgrader must not reset them\n"
              "c.CourseDirectory.groupshared = True\n")
    trainer = etc / "jupyter-trainer"
    course_config = Path(settings.course_root) / "nbgrader_config.py"
    write_file(trainer / "nbgrader_config.py",
           '"""Trainers: the course\'s own nbgrader_config.py (folders, gradebook via POLICYLAB_DB_URL) '
           'plus the exchange. Written by `policylab hub init`."""\n'
           "c = get_config()  # noqa: F821\n"
           f"load_subconfig({str(course_config)!r})  # noqa: F821\n"
           f"c.CourseDirectory.root = {settings.course_root!r}\n" + common, 0o644)
    write_file(trainer / "jupyter_server_config.json", json.dumps({"ServerApp": {}}, indent=2) + "\n", 0o644)
    learner = etc / "jupyter-learner"
    write_file(learner / "nbgrader_config.py",
           '"""Learners: the course id and the exchange only. Written by `policylab hub init`."""\n'
           "c = get_config()  # noqa: F821\n" + common, 0o644)
    write_file(learner / "jupyter_server_config.json",
           json.dumps({"ServerApp": {"jpserver_extensions": {**{k: False for k in LEARNER_DISABLED_SERVER},
                                                             **{k: True for k in LEARNER_SERVER}}}},
                      indent=2) + "\n", 0o644)
    write_file(learner / "labconfig" / "page_config.json",
           json.dumps({"disabledExtensions": {k: True for k in LEARNER_DISABLED_LAB}}, indent=2) + "\n", 0o644)
    return {"trainer": trainer, "learner": learner}


def _owned_tree(folder: Path, *, skip: tuple[str, ...] = ()):
    """(path, is_folder) for every folder and file under ``folder``, links never followed nor yielded."""
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = [d for d in dirnames if d not in skip]
        here = Path(dirpath)
        if here.is_symlink():
            continue
        yield here, True
        for name in filenames:
            if not (here / name).is_symlink():
                yield here / name, False


def share_course(course_root: Path, gid: int) -> None:
    """The course root (solutions, gradebook, submissions) becomes the trainers' shared folder."""
    for path, is_folder in _owned_tree(course_root, skip=(".venv", "node_modules")):
        os.chown(path, 0, gid)
        os.chmod(path, 0o2770 if is_folder else (path.stat().st_mode | 0o660) & ~0o007 & 0o7777)


def protect_answers(folder: Path, gid: int) -> None:
    """The installed ``policylab/data/synth/`` (planted truth, generator, their ``__pycache__``)
    becomes trainers-only: group = trainers, folders 0750, files 0640. Learners' kernels and
    servers never import it; reading it would reveal the data lessons' answers."""
    for path, is_folder in _owned_tree(folder):
        os.chown(path, 0, gid)
        os.chmod(path, 0o750 if is_folder else 0o640)


def _copy_datasets(source: Path, dest: Path) -> None:
    if dest.exists():
        shutil.rmtree(dest)
    if source.is_dir():
        shutil.copytree(source, dest, symlinks=False)
    else:
        dest.mkdir(parents=True)
    for dirpath, _, filenames in os.walk(dest):
        os.chown(dirpath, 0, 0)
        os.chmod(dirpath, 0o755)
        for name in filenames:
            os.chown(Path(dirpath) / name, 0, 0)
            os.chmod(Path(dirpath) / name, 0o644)


def install_lab_overrides(course_root: Path, python: str) -> Path | None:
    """The Korean interface as every user's default: lab/overrides.json into the environment
    (<sys.prefix>/share/jupyter/lab/settings), as the Makefile does for `make lab`."""
    source = Path(course_root) / "lab" / "overrides.json"
    if not source.is_file():
        source = DEPLOY_DIR.parent / "lab" / "overrides.json"
    prefix = subprocess.run([python, "-c", "import sys; print(sys.prefix)"], capture_output=True, text=True,
                            check=True).stdout.strip()
    dest = Path(prefix) / "share" / "jupyter" / "lab" / "settings" / "overrides.json"
    write_file(dest, source.read_text(encoding="utf-8"), 0o644)  # a new file: never writes through a hard link
    return dest


def init_layout(*, prefix: Path, exchange: Path, course_root: Path, db_url: str, python: str,
                trainers: list[str] = (), learners: list[str] = (), bind_url: str = "http://127.0.0.1:8000",
                hub_port: int = 8081, proxy_api_port: int = 8001, proxy_command: str = "",
                authenticator: str = "pam", course_group: str = COURSE_GROUP,
                trainer_group: str = TRAINER_GROUP, managers: list[str] = (), manager_group: str = MANAGER_GROUP,
                reports_user: str = REPORTS_USER, reports_port: int = 8002, checks_user: str = CHECKS_USER,
                precheck_port: int = 8003) -> HubSettings:
    """Create groups, the exchange, the shared course folder, role configs and the settings file."""
    if os.geteuid() != 0:
        raise HubError("`policylab hub init` sets owners and groups: run it as root (sudo).")
    prefix, exchange, course_root = Path(prefix).resolve(), Path(exchange).resolve(), Path(course_root).resolve()
    if not (course_root / "nbgrader_config.py").is_file():
        raise HubError(f"{course_root}: no nbgrader_config.py; --course must be the PolicyLab repository.")
    course_gid, trainer_gid = ensure_group(course_group), ensure_group(trainer_group)
    for user in trainers:
        add_to_group(user, trainer_group)
        add_to_group(user, course_group)
    for user in learners:
        add_to_group(user, course_group)
    ensure_group(manager_group)
    for user in managers:  # the dashboard only: not a course member, so no server, exchange or course folder
        add_to_group(user, manager_group)
    ensure_system_user(reports_user)  # reads grading/out/ for the reports service (traverses the course root)
    add_to_group(reports_user, trainer_group)
    ensure_system_user(checks_user)  # grades learners' checks: reads solutions, writes grading/checks/ and caches
    add_to_group(checks_user, trainer_group)
    course_id = read_course_id(course_root)

    # the exchange (modes: module docstring)
    exchange.mkdir(parents=True, exist_ok=True)
    set_owner_mode(exchange, EXCHANGE_MODES[""], course_gid)
    course_dir = exchange / course_id
    course_dir.mkdir(exist_ok=True)
    set_owner_mode(course_dir, EXCHANGE_MODES["course"], trainer_gid)
    for name in ("outbound", "inbound", "feedback"):
        (course_dir / name).mkdir(exist_ok=True)
        set_owner_mode(course_dir / name, EXCHANGE_MODES[name], trainer_gid)

    prefix.mkdir(parents=True, exist_ok=True)
    set_owner_mode(prefix, 0o755, 0)
    etc = prefix / "etc"
    etc.mkdir(exist_ok=True)
    set_owner_mode(etc, 0o755, 0)
    (course_root / "grading").mkdir(exist_ok=True)
    share_course(course_root, trainer_gid)
    protect_answers(answers_dir(python), trainer_gid)
    _copy_datasets(course_root / "datasets", prefix / "datasets")
    checks_home = prefix / "checks"  # the check service's HOME: Jupyter's runtime files, caches
    checks_home.mkdir(exist_ok=True)
    set_owner_mode(checks_home, 0o700, grp.getgrnam(trainer_group).gr_gid, uid=pwd.getpwnam(checks_user).pw_uid)

    url_file = etc / "gradebook.url"
    write_file(url_file, db_url.strip() + "\n", 0o640, group=trainer_group)
    token_file = etc / "check.token"
    if not token_file.is_file():
        write_file(token_file, os.urandom(24).hex() + "\n", 0o600)
    hub_dir = prefix / "hub"
    hub_dir.mkdir(exist_ok=True)
    os.chmod(hub_dir, 0o700)
    shutil.copy2(DEPLOY_DIR / "jupyterhub_config.py", hub_dir / "jupyterhub_config.py")

    settings = HubSettings(
        prefix=str(prefix), course_root=str(course_root), course_id=course_id, exchange_root=str(exchange),
        datasets=str(prefix / "datasets"), python=python, bind_url=bind_url, hub_port=hub_port,
        proxy_api_port=proxy_api_port, proxy_command=proxy_command, authenticator=authenticator,
        course_group=course_group, trainer_group=trainer_group,
        gradebook_url_file=str(url_file), check_token_file=str(token_file), manager_group=manager_group,
        reports_user=reports_user, reports_port=reports_port, draws=str(prefix / "draws"), checks_user=checks_user,
        precheck_port=precheck_port)
    settings.config_dirs = {k: str(v) for k, v in _role_configs(settings).items()}
    install_lab_overrides(course_root, python)
    settings.save(etc / SETTINGS_NAME)
    return settings


