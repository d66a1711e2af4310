"""`policylab hub`: lay out and verify the one-server JupyterHub deployment (docs/deploy.md).

Why this exists: a hub that "works" for the trainer who set it up can still leak solutions to
learners or refuse their submissions, and neither shows until the first deadline. ``init``
writes every permission and configuration file from one set of answers, and ``check`` asks
the *running* hub, as a trainer and as a learner, whether the result behaves as intended.

The layout (``init``), for ``--prefix /srv/policylab`` and ``--exchange /srv/nbgrader/exchange``:

===========================================  =====================  ======  ====================================
path                                         owner:group            mode    why
===========================================  =====================  ======  ====================================
<exchange>                                   root:policylab         0750    only course members reach the exchange
<exchange>/<course>                          root:policylab-trainers 2775   trainers create, members read
<exchange>/<course>/outbound                 root:policylab-trainers 2775   released exercises: trainers write
<exchange>/<course>/inbound                  root:policylab-trainers 2773   learners drop submissions but cannot
                                                                            list them (nbgrader's ``-wx``)
<exchange>/<course>/feedback                 root:policylab-trainers 2771   feedback under unguessable names
<course root> (the repository)               root:policylab-trainers 2770   solutions and gradebook: trainers only
<prefix>/datasets                            root:root              0755   the published data, read-only for all
<prefix>/etc/jupyter-{trainer,learner}/      root:root              0755   each role's Jupyter and nbgrader config
<prefix>/etc/gradebook.url                   root:policylab-trainers 0640   the PostgreSQL URL (a credential)
<prefix>/etc/policylab-hub.json              root:root              0644   the answers; jupyterhub_config.py reads it
===========================================  =====================  ======  ====================================

"Not world-writable where a group will do": nbgrader documents a world-writable exchange
(``chmod ugo+rw``). Here nothing is writable by "others" except ``inbound``, whose ``-wx`` is
what lets a learner submit without seeing other submissions; and "others" can only get there
through the 0750 exchange root, that is, as a course member. ``CourseDirectory.groupshared``
is on for everybody so that nbgrader never resets these modes.

Learners have no formgrader: its server extension and lab plugins are disabled in the
learner's config folder. That is a convenience; the boundary is the file system (learners
cannot read the course root) and the gradebook URL, which only trainers' servers receive.
"""
from __future__ import annotations

import grp
import json
import os
import pwd
import shutil
import stat
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import click

COURSE_GROUP = "policylab"
TRAINER_GROUP = "policylab-trainers"
SETTINGS_NAME = "policylab-hub.json"
DEFAULT_PREFIX = Path("/srv/policylab")
DEFAULT_EXCHANGE = Path("/srv/nbgrader/exchange")
DEPLOY_DIR = Path(__file__).resolve().parents[2] / "deploy"

# Exchange modes (see the module docstring); the setgid bit keeps new entries in the group.
EXCHANGE_MODES = {"": 0o0750, "course": 0o2775, "outbound": 0o2775, "inbound": 0o2773, "feedback": 0o2771}
LEARNER_DISABLED_SERVER = ("nbgrader.server_extensions.formgrader", "nbgrader.server_extensions.course_list")
LEARNER_DISABLED_LAB = ("@jupyter/nbgrader:formgrader", "@jupyter/nbgrader:create-assignment",
                        "@jupyter/nbgrader:course-list")


class HubError(RuntimeError):
    """The deployment cannot be laid out or checked; the message says what to fix."""


@dataclass
class HubSettings:
    """Everything jupyterhub_config.py and ``hub check`` need, written once by ``hub init``."""

    prefix: str
    course_root: str
    course_id: str
    exchange_root: str
    datasets: str
    python: str                      # the course environment's interpreter for single-user servers
    bind_url: str = "http://127.0.0.1:8000"
    hub_port: int = 8081
    proxy_api_port: int = 8001
    proxy_command: str = ""          # configurable-http-proxy (npm); empty: on PATH
    authenticator: str = "pam"       # "pam" (system passwords) or "dummy" (tests only: one shared password)
    course_group: str = COURSE_GROUP
    trainer_group: str = TRAINER_GROUP
    gradebook_url_file: str = ""
    check_token_file: str = ""
    config_dirs: dict = field(default_factory=dict)  # role -> Jupyter config folder

    @classmethod
    def load(cls, path: Path) -> "HubSettings":
        try:
            return cls(**json.loads(Path(path).read_text(encoding="utf-8")))
        except FileNotFoundError:
            raise HubError(f"{path}: not found; run `policylab hub init` first (or pass --settings).") from None

    def save(self, path: Path) -> Path:
        _write(path, json.dumps(asdict(self), indent=2, ensure_ascii=False) + "\n", 0o644)
        return path


# ----------------------------------------------------------------------------- helpers
def _write(path: Path, text: str, mode: int, group: str | None = None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.chmod(tmp, mode)
    if group is not None:
        os.chown(tmp, 0, grp.getgrnam(group).gr_gid)
    os.replace(tmp, path)


def _ensure_group(name: str) -> int:
    try:
        return grp.getgrnam(name).gr_gid
    except KeyError:
        subprocess.run(["groupadd", "--system", name], check=True, capture_output=True, text=True)
        return grp.getgrnam(name).gr_gid


def _add_to_group(user: str, group: str) -> None:
    try:
        pwd.getpwnam(user)
    except KeyError:
        raise HubError(f"system user {user!r} does not exist; create it first (e.g. `useradd -m {user}`) "
                       "or through the corporation's directory (LDAP/SSSD).") from None
    subprocess.run(["gpasswd", "-a", user, group], check=True, capture_output=True, text=True)


def members(group: str) -> list[str]:
    """Users whose primary or supplementary group is ``group`` (empty if it does not exist)."""
    try:
        entry = grp.getgrnam(group)
    except KeyError:
        return []
    primary = [p.pw_name for p in pwd.getpwall() if p.pw_gid == entry.gr_gid]
    return sorted(set(entry.gr_mem) | set(primary))


def in_group(user: str, group: str) -> bool:
    try:
        gid = grp.getgrnam(group).gr_gid
        return gid in os.getgrouplist(user, pwd.getpwnam(user).pw_gid)
    except KeyError:
        return False


def _set(path: Path, mode: int, gid: int, uid: int = 0) -> None:
    os.chown(path, uid, gid)
    os.chmod(path, mode)


def _course_id(course_root: Path) -> str:
    from policylab.nbconfig import load_config

    return load_config(course_root).CourseDirectory.course_id


# ----------------------------------------------------------------------------- init
def _role_configs(settings: HubSettings) -> dict[str, Path]:
    """Write each role's Jupyter config folder (put first on JUPYTER_CONFIG_PATH by the hub)."""
    etc = Path(settings.prefix) / "etc"
    common = (f"c.CourseDirectory.course_id = {settings.course_id!r}\n"
              f"c.Exchange.root = {settings.exchange_root!r}\n"
              "# modes are set by `policylab hub init`; nbgrader must not reset them\n"
              "c.CourseDirectory.groupshared = True\n")
    trainer = etc / "jupyter-trainer"
    course_config = Path(settings.course_root) / "nbgrader_config.py"
    _write(trainer / "nbgrader_config.py",
           '"""Trainers: the course\'s own nbgrader_config.py (folders, gradebook via POLICYLAB_DB_URL) '
           'plus the exchange. Written by `policylab hub init`."""\n'
           "c = get_config()  # noqa: F821\n"
           f"load_subconfig({str(course_config)!r})  # noqa: F821\n"
           f"c.CourseDirectory.root = {settings.course_root!r}\n" + common, 0o644)
    _write(trainer / "jupyter_server_config.json", json.dumps({"ServerApp": {}}, indent=2) + "\n", 0o644)
    learner = etc / "jupyter-learner"
    _write(learner / "nbgrader_config.py",
           '"""Learners: the course id and the exchange only. Written by `policylab hub init`."""\n'
           "c = get_config()  # noqa: F821\n" + common, 0o644)
    _write(learner / "jupyter_server_config.json",
           json.dumps({"ServerApp": {"jpserver_extensions": {k: False for k in LEARNER_DISABLED_SERVER}}},
                      indent=2) + "\n", 0o644)
    _write(learner / "labconfig" / "page_config.json",
           json.dumps({"disabledExtensions": {k: True for k in LEARNER_DISABLED_LAB}}, indent=2) + "\n", 0o644)
    return {"trainer": trainer, "learner": learner}


def _share_course(course_root: Path, gid: int) -> None:
    """The course root (solutions, gradebook, submissions) becomes the trainers' shared folder."""
    for dirpath, dirnames, filenames in os.walk(course_root):
        dirnames[:] = [d for d in dirnames if d not in (".venv", "node_modules")]
        here = Path(dirpath)
        if here.is_symlink():
            continue
        os.chown(here, 0, gid)
        os.chmod(here, 0o2770)
        for name in filenames:
            path = here / name
            if path.is_symlink():
                continue
            os.chown(path, 0, gid)
            mode = path.stat().st_mode
            os.chmod(path, (mode | 0o660) & ~0o007 & 0o7777)


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
    _write(dest, source.read_text(encoding="utf-8"), 0o644)  # a new file: never writes through a hard link
    return dest


def init_layout(*, prefix: Path, exchange: Path, course_root: Path, db_url: str, python: str,
                trainers: list[str] = (), learners: list[str] = (), bind_url: str = "http://127.0.0.1:8000",
                hub_port: int = 8081, proxy_api_port: int = 8001, proxy_command: str = "",
                authenticator: str = "pam", course_group: str = COURSE_GROUP,
                trainer_group: str = TRAINER_GROUP) -> HubSettings:
    """Create groups, the exchange, the shared course folder, role configs and the settings file."""
    if os.geteuid() != 0:
        raise HubError("`policylab hub init` sets owners and groups: run it as root (sudo).")
    prefix, exchange, course_root = Path(prefix).resolve(), Path(exchange).resolve(), Path(course_root).resolve()
    if not (course_root / "nbgrader_config.py").is_file():
        raise HubError(f"{course_root}: no nbgrader_config.py; --course must be the PolicyLab repository.")
    course_gid, trainer_gid = _ensure_group(course_group), _ensure_group(trainer_group)
    for user in trainers:
        _add_to_group(user, trainer_group)
        _add_to_group(user, course_group)
    for user in learners:
        _add_to_group(user, course_group)
    course_id = _course_id(course_root)

    # the exchange (modes: module docstring)
    exchange.mkdir(parents=True, exist_ok=True)
    _set(exchange, EXCHANGE_MODES[""], course_gid)
    course_dir = exchange / course_id
    course_dir.mkdir(exist_ok=True)
    _set(course_dir, EXCHANGE_MODES["course"], trainer_gid)
    for name in ("outbound", "inbound", "feedback"):
        (course_dir / name).mkdir(exist_ok=True)
        _set(course_dir / name, EXCHANGE_MODES[name], trainer_gid)

    prefix.mkdir(parents=True, exist_ok=True)
    _set(prefix, 0o755, 0)
    etc = prefix / "etc"
    etc.mkdir(exist_ok=True)
    _set(etc, 0o755, 0)
    (course_root / "grading").mkdir(exist_ok=True)
    _share_course(course_root, trainer_gid)
    _copy_datasets(course_root / "datasets", prefix / "datasets")

    url_file = etc / "gradebook.url"
    _write(url_file, db_url.strip() + "\n", 0o640, group=trainer_group)
    token_file = etc / "check.token"
    if not token_file.is_file():
        _write(token_file, os.urandom(24).hex() + "\n", 0o600)
    hub_dir = prefix / "hub"
    hub_dir.mkdir(exist_ok=True)
    os.chmod(hub_dir, 0o700)
    shutil.copy2(DEPLOY_DIR / "jupyterhub_config.py", hub_dir / "jupyterhub_config.py")

    settings = HubSettings(
        prefix=str(prefix), course_root=str(course_root), course_id=course_id, exchange_root=str(exchange),
        datasets=str(prefix / "datasets"), python=python, bind_url=bind_url, hub_port=hub_port,
        proxy_api_port=proxy_api_port, proxy_command=proxy_command, authenticator=authenticator,
        course_group=course_group, trainer_group=trainer_group,
        gradebook_url_file=str(url_file), check_token_file=str(token_file))
    settings.config_dirs = {k: str(v) for k, v in _role_configs(settings).items()}
    install_lab_overrides(course_root, python)
    settings.save(etc / SETTINGS_NAME)
    return settings


# ----------------------------------------------------------------------------- check
@dataclass
class Check:
    name: str
    ok: bool
    detail: str = ""


def check_exchange(settings: HubSettings) -> list[Check]:
    """Modes and groups of the exchange as ``init`` set them, and nothing world-writable but inbound."""
    results = []
    root = Path(settings.exchange_root)
    course = root / settings.course_id
    paths = {"": root, "course": course, **{n: course / n for n in ("outbound", "inbound", "feedback")}}
    groups = {"": settings.course_group}
    for key, path in paths.items():
        label = str(path)
        try:
            st = path.stat()
        except FileNotFoundError:
            results.append(Check(f"exchange {key or 'root'}", False, f"{label} is missing"))
            continue
        group = grp.getgrgid(st.st_gid).gr_name
        want_group = groups.get(key, settings.trainer_group)
        mode = stat.S_IMODE(st.st_mode)
        problems = []
        if mode != EXCHANGE_MODES[key]:
            problems.append(f"mode {mode:04o}, expected {EXCHANGE_MODES[key]:04o}")
        if group != want_group:
            problems.append(f"group {group}, expected {want_group}")
        if mode & stat.S_IWOTH and key != "inbound":
            problems.append("world-writable")
        results.append(Check(f"exchange {key or 'root'}", not problems, f"{label}: " + ("; ".join(problems) or
                                                                                          f"{mode:04o} {group}")))
    return results


def check_gradebook(settings: HubSettings) -> Check:
    from sqlalchemy import create_engine, inspect, text

    url = Path(settings.gradebook_url_file).read_text(encoding="utf-8").strip()
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
            tables = set(inspect(conn).get_table_names())
    except Exception as exc:  # noqa: BLE001 - any failure to connect is the finding
        return Check("gradebook reachable", False, f"{engine.url.render_as_string()}: {exc.__class__.__name__}: "
                                                    f"{str(exc).splitlines()[0]}")
    finally:
        engine.dispose()
    detail = f"{engine.url.render_as_string()} ({'nbgrader tables present' if 'assignment' in tables else 'empty'})"
    return Check("gradebook reachable", True, detail)


class HubClient:
    """The hub's REST API with the check service's token, and servers with per-user tokens."""

    def __init__(self, url: str, token: str, timeout: float = 30):
        import requests

        self.url, self.timeout = url.rstrip("/"), timeout
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"token {token}"

    def api(self, method: str, path: str, **kw):
        response = self.session.request(method, f"{self.url}/hub/api{path}", timeout=self.timeout, **kw)
        if response.status_code >= 400:
            raise HubError(f"{method} /hub/api{path}: HTTP {response.status_code} {response.text[:300]}")
        return response.json() if response.content else None

    def user_token(self, user: str) -> str:
        body = {"note": "policylab hub check", "expires_in": 600, "scopes": [f"access:servers!user={user}"]}
        return self.api("POST", f"/users/{user}/tokens", json=body)["token"]

    def ensure_server(self, user: str, wait: float = 90) -> bool:
        """Start ``user``'s server unless it runs; True if this call started it."""
        try:
            model = self.api("GET", f"/users/{user}")
        except HubError:  # PAM adds users at their first login: add them for the check
            model = self.api("POST", f"/users/{user}")
        if model.get("servers", {}).get("", {}).get("ready"):
            return False
        self.session.post(f"{self.url}/hub/api/users/{user}/server", timeout=self.timeout)
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            model = self.api("GET", f"/users/{user}")
            if model.get("servers", {}).get("", {}).get("ready"):
                return True
            time.sleep(0.5)
        raise HubError(f"{user}'s server did not start within {wait:.0f} s; see the hub's log.")

    def stop_server(self, user: str) -> None:
        self.session.delete(f"{self.url}/hub/api/users/{user}/server", timeout=self.timeout)

    def get(self, user_token: str, path: str):
        import requests

        return requests.get(f"{self.url}{path}", headers={"Authorization": f"token {user_token}"},
                            timeout=self.timeout, allow_redirects=False)


def check_running(settings: HubSettings, *, url: str, trainer: str, learner: str) -> list[Check]:
    """Ask the running hub: formgrader for the trainer only, the same course id everywhere."""
    token = Path(settings.check_token_file).read_text(encoding="utf-8").strip()
    hub = HubClient(url, token)
    results = []
    started = []
    try:
        for user in (trainer, learner):
            if hub.ensure_server(user):
                started.append(user)
        tokens = {user: hub.user_token(user) for user in (trainer, learner)}

        r = hub.get(tokens[trainer], f"/user/{trainer}/formgrader/api/assignments")
        results.append(Check("formgrader: trainer", r.status_code == 200,
                             f"/user/{trainer}/formgrader/api/assignments → HTTP {r.status_code}"))
        trainer_ids = {a.get("name") for a in r.json()} if r.status_code == 200 else set()
        r = hub.get(tokens[learner], f"/user/{learner}/formgrader")
        results.append(Check("formgrader: not for learners", r.status_code == 404,
                             f"/user/{learner}/formgrader → HTTP {r.status_code} (expected 404: extension off)"))
        r = hub.get(tokens[learner], f"/user/{trainer}/formgrader")
        results.append(Check("formgrader: learner kept out of the trainer's server", r.status_code in (302, 403),
                             f"learner token on /user/{trainer}/formgrader → HTTP {r.status_code}"))

        r = hub.get(tokens[learner], f"/user/{learner}/assignments?course_id={settings.course_id}")
        listed = r.json().get("value", []) if r.status_code == 200 else []
        courses = {a.get("course_id") for a in listed}
        config_id = _course_id(Path(settings.course_root))
        from policylab.course import load_course

        yml_id = load_course(Path(settings.course_root)).get("course_id", config_id)
        exchange_ids = {p.name for p in Path(settings.exchange_root).iterdir() if p.is_dir()}
        consistent = (r.status_code == 200 and config_id == settings.course_id == yml_id
                      and exchange_ids == {settings.course_id} and courses <= {settings.course_id})
        results.append(Check("course id consistent", consistent,
                             f"settings {settings.course_id}, nbgrader_config.py {config_id}, course.yml {yml_id}, "
                             f"exchange {sorted(exchange_ids)}, learner's list {sorted(courses) or '(empty)'} "
                             f"(HTTP {r.status_code}), formgrader assignments {sorted(trainer_ids)}"))
        r = hub.get(tokens[learner], f"/user/{learner}/lab/api/settings/@jupyterlab/translation-extension:plugin")
        locale = None
        if r.status_code == 200:  # the user's own choice, else the default overrides.json sets
            body = r.json()
            locale = (body.get("settings") or {}).get("locale") or \
                body.get("schema", {}).get("properties", {}).get("locale", {}).get("default")
        results.append(Check("Korean interface for learners", locale == "ko_KR",
                             f"locale {locale!r} (HTTP {r.status_code})"))
    finally:
        for user in started:
            hub.stop_server(user)
    return results


def run_checks(settings: HubSettings, *, url: str | None, trainer: str | None, learner: str | None) -> list[Check]:
    results = check_exchange(settings)
    results.append(check_gradebook(settings))
    trainer = trainer or next(iter(members(settings.trainer_group)), None)
    learner = learner or next((u for u in members(settings.course_group)
                               if not in_group(u, settings.trainer_group)), None)
    if not trainer or not learner:
        results.append(Check("hub", False, f"need a trainer (group {settings.trainer_group}) and a learner "
                                           f"(group {settings.course_group} only); pass --trainer/--learner"))
        return results
    try:
        results += check_running(settings, url=url or settings.bind_url, trainer=trainer, learner=learner)
    except Exception as exc:  # noqa: BLE001 - a hub that cannot be asked is a failed check, not a crash
        results.append(Check("hub reachable", False, f"{exc.__class__.__name__}: {exc}"))
    return results


# ----------------------------------------------------------------------------- command line
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
@click.option("--bind-url", default="http://127.0.0.1:8000", show_default=True,
              help="Where the hub listens (put HTTPS in front of it, docs/deploy.md).")
@click.option("--hub-port", type=int, default=8081, show_default=True)
@click.option("--proxy-api-port", type=int, default=8001, show_default=True)
@click.option("--proxy-command", default="", help="configurable-http-proxy (default: deploy/node_modules/.bin or PATH).")
@click.option("--authenticator", type=click.Choice(["pam", "dummy"]), default="pam", show_default=True,
              help="'dummy' takes one shared password (POLICYLAB_HUB_PASSWORD): for tests only.")
@click.option("--course-group", default=COURSE_GROUP, show_default=True, help="Unix group of every course member.")
@click.option("--trainer-group", default=TRAINER_GROUP, show_default=True, help="Unix group of the trainers.")
def hub_init(prefix, exchange, course_root, db_url, python, trainers, learners, bind_url, hub_port, proxy_api_port,
             proxy_command, authenticator, course_group, trainer_group) -> None:
    """Lay out the deployment (run as root); then start JupyterHub with the printed command."""
    from policylab.paths import find_root

    if not proxy_command:
        local = DEPLOY_DIR / "node_modules" / ".bin" / "configurable-http-proxy"
        proxy_command = str(local) if local.exists() else (shutil.which("configurable-http-proxy") or "")
    try:
        settings = init_layout(prefix=prefix, exchange=exchange, course_root=course_root or find_root(),
                               db_url=db_url, python=python, trainers=list(trainers), learners=list(learners),
                               bind_url=bind_url, hub_port=hub_port, proxy_api_port=proxy_api_port,
                               proxy_command=proxy_command, authenticator=authenticator,
                               course_group=course_group, trainer_group=trainer_group)
    except (HubError, subprocess.CalledProcessError) as exc:
        raise click.ClickException(str(getattr(exc, "stderr", None) or exc)) from None
    hub_dir = Path(settings.prefix) / "hub"
    click.echo(f"course {settings.course_id}: exchange {settings.exchange_root}, course root {settings.course_root}")
    click.echo(f"trainers ({trainer_group}): {', '.join(members(trainer_group)) or '-'}; "
               f"course members ({course_group}): {len(members(course_group))}")
    if not settings.proxy_command:
        click.echo("configurable-http-proxy not found: `npm ci --prefix deploy` (docs/deploy.md)", err=True)
    click.echo(f"start the hub:\n  cd {hub_dir} && POLICYLAB_HUB_SETTINGS={settings.prefix}/etc/{SETTINGS_NAME} "
               f"{Path(sys.executable).parent}/jupyterhub -f {hub_dir}/jupyterhub_config.py")


@hub.command("check")
@click.option("--settings", "settings_path", type=click.Path(path_type=Path),
              default=DEFAULT_PREFIX / "etc" / SETTINGS_NAME, show_default=True, envvar="POLICYLAB_HUB_SETTINGS")
@click.option("--url", default=None, help="The hub's URL (default: bind_url from the settings).")
@click.option("--trainer", default=None, help="A trainer account to check with (default: the first trainer).")
@click.option("--learner", default=None, help="A learner account to check with (default: the first learner).")
def hub_check(settings_path: Path, url: str | None, trainer: str | None, learner: str | None) -> None:
    """Verify a running deployment; exits 1 if any check fails."""
    try:
        settings = HubSettings.load(settings_path)
        results = run_checks(settings, url=url, trainer=trainer, learner=learner)
    except HubError as exc:
        raise click.ClickException(str(exc)) from None
    for result in results:
        click.echo(f"{'OK  ' if result.ok else 'FAIL'} {result.name}: {result.detail}")
    failed = [r for r in results if not r.ok]
    click.echo(f"{len(results) - len(failed)}/{len(results)} checks passed.")
    if failed:
        sys.exit(1)
