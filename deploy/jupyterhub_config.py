"""JupyterHub for PolicyLab on one server (docs/deploy.md).

Every answer (paths, ports, the course id, the python of the course environment) comes from
the settings file that `policylab hub init` writes, named by $POLICYLAB_HUB_SETTINGS
(default /srv/policylab/etc/policylab-hub.json): this file holds no site-specific value, so
IT edits one place and `policylab hub check` reads the same one.

Who is who comes from Unix groups, the one list IT already manages:
  policylab           every course member (allowed to log in): their own progress report
  policylab-trainers  trainers: formgrader, the course folder, the gradebook URL, every report
  policylab-managers  managers: log in for the dashboard only (no Jupyter server of their own)
JupyterHub gets groups of the same names; roles give each group custom scopes that the
reports service (policylab.hub.reports_service, at /services/policylab-reports/) checks.
Each single-user server runs as the member's own system user (LocalProcessSpawner), so the
exchange's file modes decide who reads what.
"""
import grp
import json
import os
import pwd

from policylab.hub.precheck_service import SERVICE_NAME as PRECHECK
from policylab.hub.reports_service import SCOPE_ALL, SCOPE_DASHBOARD, SCOPE_OWN, SCOPES, SERVICE_NAME

c = get_config()  # noqa: F821 (provided by JupyterHub)

_settings_path = os.environ.get("POLICYLAB_HUB_SETTINGS", "/srv/policylab/etc/policylab-hub.json")
with open(_settings_path, encoding="utf-8") as fh:
    S = json.load(fh)
for _key, _value in (("manager_group", "policylab-managers"), ("reports_user", "policylab-reports"),
                     ("reports_port", 8002), ("checks_user", "policylab-checks"), ("precheck_port", 8003)):
    S.setdefault(_key, _value)  # a settings file from before the reports service


def _members(group):
    try:
        entry = grp.getgrnam(group)
    except KeyError:
        return set()
    return set(entry.gr_mem) | {p.pw_name for p in pwd.getpwall() if p.pw_gid == entry.gr_gid}


def _is_trainer(name):
    try:
        user = pwd.getpwnam(name)
        return grp.getgrnam(S["trainer_group"]).gr_gid in os.getgrouplist(name, user.pw_gid)
    except KeyError:
        return False


# --------------------------------------------------------------------------- network
c.JupyterHub.bind_url = S["bind_url"]               # put HTTPS (nginx, or ssl_cert/ssl_key) in front
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = int(S["hub_port"])
c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{int(S['proxy_api_port'])}"
if S.get("proxy_command"):
    c.ConfigurableHTTPProxy.command = [S["proxy_command"]]
c.Spawner.ip = "127.0.0.1"

_hub_dir = os.path.join(S["prefix"], "hub")
c.JupyterHub.db_url = "sqlite:///" + os.path.join(_hub_dir, "jupyterhub.sqlite")  # the hub's own state
c.JupyterHub.cookie_secret_file = os.path.join(_hub_dir, "jupyterhub_cookie_secret")
c.JupyterHub.pid_file = os.path.join(_hub_dir, "jupyterhub.pid")

# --------------------------------------------------------------------------- accounts
_course = _members(S["course_group"])
_trainers = _members(S["trainer_group"]) - {S["reports_user"], S["checks_user"]}
_managers = _members(S["manager_group"])
if S.get("authenticator") == "dummy":
    # tests only: one shared password for every course member and manager
    c.JupyterHub.authenticator_class = "dummy"
    c.DummyAuthenticator.password = os.environ["POLICYLAB_HUB_PASSWORD"]
    c.Authenticator.allowed_users = _course | _managers
else:
    c.JupyterHub.authenticator_class = "pam"
    c.PAMAuthenticator.allowed_groups = {S["course_group"], S["manager_group"]}
c.Authenticator.admin_users = set()  # trainers grade; IT administers the host, not the hub UI
c.JupyterHub.load_groups = {S["course_group"]: {"users": sorted(_course)},
                            S["trainer_group"]: {"users": sorted(_trainers)},
                            S["manager_group"]: {"users": sorted(_managers)}}

# `policylab hub check` asks the running hub, with its own token, as a trainer, a learner and a manager
with open(S["check_token_file"], encoding="utf-8") as fh:
    _check_token = fh.read().strip()
_out_dir = os.path.join(S["course_root"], "grading", "out")
c.JupyterHub.services = [
    {"name": "policylab-check", "api_token": _check_token},
    {   # grading/out/ to whoever may see each page (policylab.hub.reports_service)
        "name": SERVICE_NAME,
        "url": f"http://127.0.0.1:{int(S['reports_port'])}",
        "command": [S["python"], "-m", "policylab.hub.reports_service"],
        "user": S["reports_user"],  # in the trainers' group: reads grading/out/, nothing it could write
        "cwd": "/",
        "environment": {"POLICYLAB_REPORTS_DIR": _out_dir, "LC_ALL": "C.UTF-8", "PYTHONNOUSERSITE": "1"},
        "oauth_no_confirm": True,
        "oauth_client_allowed_scopes": sorted(SCOPES),
    },
    {   # check before submit (policylab.hub.precheck_service): learners' servers send notebooks here
        "name": PRECHECK,
        "url": f"http://127.0.0.1:{int(S['precheck_port'])}",
        "command": [S["python"], "-m", "policylab.hub.precheck_service"],
        "user": S["checks_user"],  # in the trainers' group: the hidden tests stay on the trainers' side
        "cwd": "/",
        "environment": {"POLICYLAB_HUB_SETTINGS": _settings_path, "HOME": os.path.join(S["prefix"], "checks"),
                        "POLICYLAB_ROOT": S["course_root"], "POLICYLAB_DATASETS": S["datasets"],
                        "LC_ALL": "C.UTF-8", "LANG": "ko_KR.UTF-8", "PYTHONNOUSERSITE": "1",
                        "PATH": os.pathsep.join([os.path.dirname(S["python"]), "/usr/local/bin", "/usr/bin", "/bin"])},
        "oauth_no_confirm": True,
    },
]
c.JupyterHub.custom_scopes = {scope: {"description": text} for scope, text in SCOPES.items()}
_access = f"access:services!service={SERVICE_NAME}"
c.JupyterHub.load_roles = [
    {"name": "policylab-check", "services": ["policylab-check"],
     "scopes": ["list:users", "read:users", "admin:users", "servers", "tokens", "access:servers",
                "access:services", *SCOPES]},
    {"name": "policylab-learner-reports", "groups": [S["course_group"]], "scopes": [_access, SCOPE_OWN]},
    {"name": "policylab-precheck", "groups": [S["course_group"]], "scopes": [f"access:services!service={PRECHECK}"]},
    {"name": "policylab-manager-reports", "groups": [S["manager_group"]], "scopes": [_access, SCOPE_DASHBOARD]},
    {"name": "policylab-trainer-reports", "groups": [S["trainer_group"]], "scopes": [_access, SCOPE_ALL]},
]


def _default_url(handler):
    """Managers land on the dashboard (they have no server); everybody else on their own server."""
    user = handler.current_user
    if user is not None and user.name in _managers and user.name not in _course:
        return f"/services/{SERVICE_NAME}/"
    return ""


c.JupyterHub.default_url = _default_url

# --------------------------------------------------------------------------- single-user servers
c.JupyterHub.spawner_class = "localprocess"
c.Spawner.cmd = [S["python"], "-m", "jupyterhub.singleuser"]
c.Spawner.default_url = "/lab"
c.Spawner.start_timeout = 120
# the server's own token (JUPYTERHUB_API_TOKEN) may also reach the check service, as its user:
# the Validate button's request (policylab.hub.learner_check) is the learner's, not the server's
c.Spawner.server_token_scopes = ["users:activity!user", "access:servers!server",
                                 f"access:services!service={PRECHECK}"]
c.Spawner.http_timeout = 90
# an idle server is stopped by nothing here; see docs/deploy.md for jupyterhub-idle-culler


def _pre_spawn(spawner):
    """Role by Unix group: the trainer's config (formgrader, course root, gradebook URL) or the learner's."""
    name = spawner.user.name
    if name not in _members(S["course_group"]):  # a manager: the dashboard needs no Jupyter server
        from tornado import web

        raise web.HTTPError(403, "관리자 계정에는 Jupyter 서버가 없습니다. /services/policylab-reports/ 에서 대시보드를 보십시오.")
    trainer = _is_trainer(name)
    role = "trainer" if trainer else "learner"
    env = {
        "JUPYTER_CONFIG_PATH": S["config_dirs"][role],
        "POLICYLAB_DATASETS": S["datasets"],
        "LANG": "ko_KR.UTF-8",
        "LC_ALL": "C.UTF-8",
        "PYTHONNOUSERSITE": "1",
        "POLICYLAB_PRECHECK_URL": f"http://127.0.0.1:{int(S['precheck_port'])}/services/{PRECHECK}/",
        # the course environment first: nbgrader runs `alembic`, formgrader runs `jupyter`
        "PATH": os.pathsep.join([os.path.dirname(S["python"]), "/usr/local/bin", "/usr/bin", "/bin"]),
    }
    if trainer:
        with open(S["gradebook_url_file"], encoding="utf-8") as fh:
            env["POLICYLAB_DB_URL"] = fh.read().strip()
        env["POLICYLAB_ROOT"] = S["course_root"]
        spawner.notebook_dir = S["course_root"]  # formgrader links notebooks below the server's root
        # umask 002: what one trainer writes in the shared course folder (grading/, states) the others
        # can replace; the folder's setgid bit keeps the trainers' group on it
        spawner.cmd = ["/bin/sh", "-c", 'umask 0002 && exec "$0" "$@"', S["python"], "-m", "jupyterhub.singleuser"]
    else:
        spawner.notebook_dir = "~"
        spawner.cmd = [S["python"], "-m", "jupyterhub.singleuser"]
        if S.get("draws"):  # the learner's own exercise data (policylab.hub.draws), read-only, theirs only
            env["POLICYLAB_DRAWS"] = os.path.join(S["draws"], name)
    spawner.environment.update(env)


c.Spawner.pre_spawn_hook = _pre_spawn
