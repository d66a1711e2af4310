"""The deployment's settings, groups and file-mode helpers; the layout `policylab hub init` writes (docs/deploy.md).

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
<prefix>/draws                               root:policylab         0710   members reach only their own folder
<prefix>/draws/<learner>                     <learner>:root         0500   that learner's own draws (files 0400)
<prefix>/etc/jupyter-{trainer,learner}/      root:root              0755   each role's Jupyter and nbgrader config
<prefix>/etc/gradebook.url                   root:policylab-trainers 0640   the PostgreSQL URL (a credential)
<prefix>/etc/policylab-hub.json              root:root              0644   the answers; jupyterhub_config.py reads it
user policylab-reports (system, no login)    in policylab-trainers          the reports service reads grading/out/
user policylab-checks (system, no login)     in policylab-trainers          the check service grades learners'
                                                                            checks (reads solutions, writes
                                                                            grading/checks/ and caches)
<prefix>/checks                              policylab-checks       0700   the check service's home (runtime files)
===========================================  =====================  ======  ====================================

Groups: ``policylab`` (every course member), ``policylab-trainers`` and ``policylab-managers``
(managers: log in for the dashboard only, no Jupyter server, no access to the course folder).
JupyterHub gets the same three groups, and :mod:`policylab.hub.reports_service` decides by
the custom scopes their roles carry.

"Not world-writable where a group will do": nbgrader documents a world-writable exchange
(``chmod ugo+rw``). Here nothing is writable by "others" except ``inbound``, whose ``-wx`` is
what lets a learner submit without seeing other submissions; and "others" can only get there
through the 0750 exchange root, that is, as a course member. ``CourseDirectory.groupshared``
is on for everybody so that nbgrader never resets these modes.

Learners have no formgrader: its server extension and lab plugins are disabled in the
learner's config folder. That is a convenience; the boundary is the file system (learners
cannot read the course root) and the gradebook URL, which only trainers' servers receive.
Their Validate button is answered by :mod:`policylab.hub.learner_check` (nbgrader's own validate
extension off), which sends the notebook to the check service: the hidden tests stay trainer-side.
"""
from __future__ import annotations

import grp
import json
import os
import pwd
import subprocess
from dataclasses import asdict, dataclass, field
from pathlib import Path

COURSE_GROUP = "policylab"
TRAINER_GROUP = "policylab-trainers"
MANAGER_GROUP = "policylab-managers"  # log in for the dashboard only: no Jupyter server, no course folder
REPORTS_USER = "policylab-reports"    # the reports service's system user (reads grading/out/)
CHECKS_USER = "policylab-checks"      # the check service's system user (grades learners' checks in the sandbox)
SETTINGS_NAME = "policylab-hub.json"
DEFAULT_PREFIX = Path("/srv/policylab")
DEFAULT_EXCHANGE = Path("/srv/nbgrader/exchange")
DEPLOY_DIR = Path(__file__).resolve().parents[3] / "deploy"  # src/policylab/hub/settings.py → the repository

# Exchange modes (see the module docstring); the setgid bit keeps new entries in the group.
EXCHANGE_MODES = {"": 0o0750, "course": 0o2775, "outbound": 0o2775, "inbound": 0o2773, "feedback": 0o2771}
LEARNER_DISABLED_SERVER = ("nbgrader.server_extensions.formgrader", "nbgrader.server_extensions.course_list",
                           "nbgrader.server_extensions.validate_assignment")  # policylab.hub.learner_check answers
LEARNER_SERVER = ("policylab.hub.learner_check",)  # the Validate button asks the hub's check service
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
    manager_group: str = MANAGER_GROUP
    reports_user: str = REPORTS_USER
    reports_port: int = 8002
    config_dirs: dict = field(default_factory=dict)  # role -> Jupyter config folder
    draws: str = ""                  # <prefix>/draws: each learner's own exercise data (policylab.hub.draws)
    checks_user: str = CHECKS_USER   # runs the check service (policylab.hub.precheck_service)
    precheck_port: int = 8003

    @classmethod
    def load(cls, path: Path) -> "HubSettings":
        try:
            return cls(**json.loads(Path(path).read_text(encoding="utf-8")))
        except FileNotFoundError:
            raise HubError(f"{path}: not found; run `policylab hub init` first (or pass --settings).") from None

    def save(self, path: Path) -> Path:
        write_file(path, json.dumps(asdict(self), indent=2, ensure_ascii=False) + "\n", 0o644)
        return path


def write_file(path: Path, text: str, mode: int, group: str | None = None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.chmod(tmp, mode)
    if group is not None:
        os.chown(tmp, 0, grp.getgrnam(group).gr_gid)
    os.replace(tmp, path)


def ensure_system_user(name: str) -> None:
    """A system account with no login and no home (the reports service runs as it)."""
    try:
        pwd.getpwnam(name)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", "--home-dir", "/nonexistent",
                        "--shell", "/usr/sbin/nologin", "--user-group", name], check=True, capture_output=True, text=True)


def ensure_group(name: str) -> int:
    try:
        return grp.getgrnam(name).gr_gid
    except KeyError:
        subprocess.run(["groupadd", "--system", name], check=True, capture_output=True, text=True)
        return grp.getgrnam(name).gr_gid


def add_to_group(user: str, group: str) -> None:
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


def set_owner_mode(path: Path, mode: int, gid: int, uid: int = 0) -> None:
    os.chown(path, uid, gid)
    os.chmod(path, mode)


def answers_dir(python: str) -> Path:
    """The installed package's ``policylab/data/synth/`` for ``python``: the planted truth and the
    generator, i.e. the answers of the data lessons (trainers only; the grading sandbox hides it)."""
    out = subprocess.run([python, "-c", "import policylab.data.synth as s; print(list(s.__path__)[0])"],
                         capture_output=True, text=True, check=True).stdout.strip()
    return Path(out).resolve()


def read_course_id(course_root: Path) -> str:
    from policylab.course.nbconfig import load_config

    return load_config(course_root).CourseDirectory.course_id


