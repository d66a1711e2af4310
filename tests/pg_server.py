"""A throwaway PostgreSQL server on 127.0.0.1 for the tests that need a real gradebook server.

Why a real server and not a mock: nbgrader talks to its gradebook through SQLAlchemy and
creates it with the ``alembic`` command; only a real PostgreSQL shows whether anything in
grading, export or the hub setup still assumes SQLite.

The server is Debian's ``postgresql`` package (installed with apt-get when missing, as
tests/test_browser.py does for chromium). ``initdb`` refuses to run as root, so as root the
cluster belongs to the ``postgres`` system user the package creates and every server
command runs through ``runuser``. The cluster lives in a fresh temporary folder, listens
on 127.0.0.1 at a free port (and on a Unix socket in that folder, never in
/var/run/postgresql), trusts loopback connections, and is stopped and deleted at the end
of the session, also when a test fails.

``POLICYLAB_TEST_PG_URL`` (an existing server the tests may create databases on) replaces
the throwaway server, for a machine that already runs one.
"""
from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import pytest

from policylab.grading.workers import pid_alive

INSTALL = "apt-get install -y postgresql"
SUPERUSER = "policylab"


def _bindir() -> Path | None:
    """The newest Debian PostgreSQL server binaries (/usr/lib/postgresql/<major>/bin)."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3]))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).resolve().parent if initdb else None


def find_server_binaries() -> Path:
    """Where initdb, pg_ctl and postgres live; installs Debian's postgresql when root, else fails."""
    bindir = _bindir()
    if bindir is not None:
        return bindir
    if not sys.platform.startswith("linux") or not shutil.which("apt-get"):
        pytest.fail(f"PostgreSQL is missing and this is not a Debian-like system: install it (Debian: `sudo {INSTALL}`) "
                    "or set POLICYLAB_TEST_PG_URL to a server the tests may create databases on.")
    if os.geteuid() != 0:
        pytest.fail(f"PostgreSQL is missing and apt-get needs root: run `sudo {INSTALL}`")
    from debian_packages import apt_install

    install = apt_install("postgresql")
    # The package may start its own cluster on port 5432; the tests use their own, so stop it.
    subprocess.run("pg_lsclusters -h 2>/dev/null | awk '$4 == \"online\" {print $1, $2}' | "
                   "while read v c; do pg_ctlcluster \"$v\" \"$c\" stop; done", shell=True,
                   capture_output=True, timeout=120)
    bindir = _bindir()
    if bindir is None:
        pytest.fail(f"installing postgresql failed:\n{install.stdout[-2000:]}\n{install.stderr[-2000:]}")
    return bindir


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PostgresServer:
    """One initdb'd cluster, started with pg_ctl; ``database()`` hands out fresh empty databases."""

    def __init__(self, bindir: Path):
        self.bindir = bindir
        self.base = Path(tempfile.mkdtemp(prefix=f"policylab-pg-{os.getpid()}-"))
        self.data = self.base / "data"
        self.log = self.base / "server.log"
        self.port = free_port()
        self.owner = None
        if os.geteuid() == 0:
            try:
                self.owner = pwd.getpwnam("postgres")
            except KeyError:
                pytest.fail("running as root, initdb needs an unprivileged owner but there is no `postgres` "
                            f"user: reinstall Debian's package (`{INSTALL}`)")
            os.chown(self.base, self.owner.pw_uid, self.owner.pw_gid)
        self.started = False

    def _run(self, *argv: str, timeout: float = 120) -> subprocess.CompletedProcess:
        cmd = [str(self.bindir / argv[0]), *argv[1:]]
        if self.owner is not None:
            cmd = ["runuser", "-u", self.owner.pw_name, "--", *cmd]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=self.base,
                              env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C.UTF-8"})
        if done.returncode != 0:
            log = self.log.read_text(errors="replace")[-3000:] if self.log.exists() else ""
            raise RuntimeError(f"{' '.join(argv[:2])} failed ({done.returncode}):\n{done.stdout[-2000:]}\n"
                               f"{done.stderr[-2000:]}\n{log}")
        return done

    def start(self) -> "PostgresServer":
        self._run("initdb", "-D", str(self.data), "-U", SUPERUSER, "--auth=trust", "-E", "UTF8",
                  "--locale=C.UTF-8", "--no-instructions")
        options = f"-h 127.0.0.1 -p {self.port} -k {self.base} -c fsync=off -c full_page_writes=off"
        self._run("pg_ctl", "start", "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60", "-o", options)
        self.started = True
        return self

    @property
    def admin_url(self) -> str:
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/postgres"

    def database(self, prefix: str = "gradebook") -> str:
        return create_database(self.admin_url, prefix)

    def stop(self) -> None:
        try:
            if self.started:
                self._run("pg_ctl", "stop", "-D", str(self.data), "-m", "fast", "-w", "-t", "60")
        finally:
            self.started = False
            shutil.rmtree(self.base, ignore_errors=True)


def create_database(admin_url: str, prefix: str = "gradebook") -> str:
    """CREATE DATABASE <prefix>_<random> on the server of ``admin_url``; returns its URL."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    engine = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}" ENCODING \'UTF8\''))
    finally:
        engine.dispose()
    return make_url(admin_url).set(database=name).render_as_string(hide_password=False)


def stop_stale_servers(bindir: Path) -> None:
    """Stop and delete clusters left by a test process that was killed before its teardown
    (their folders are named policylab-pg-<pid>-…; the pid is gone)."""
    for folder in Path(tempfile.gettempdir()).glob("policylab-pg-*-*"):
        try:
            pid = int(folder.name.split("-")[2])
        except (ValueError, IndexError):
            continue
        if pid_alive(pid):
            continue  # its session still runs
        if (folder / "data" / "postmaster.pid").is_file():
            owner = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
            subprocess.run([*owner, str(bindir / "pg_ctl"), "stop", "-D", str(folder / "data"), "-m", "immediate"],
                           capture_output=True, timeout=60)
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def pg_server():
    """The admin URL of a PostgreSQL server for this test session (started here unless given)."""
    given = os.environ.get("POLICYLAB_TEST_PG_URL")
    if given:
        yield given
        return
    bindir = find_server_binaries()
    stop_stale_servers(bindir)
    server = PostgresServer(bindir)
    try:
        server.start()
        yield server.admin_url
    finally:
        server.stop()


@pytest.fixture()
def pg_url(pg_server) -> str:
    """A fresh, empty database on the session's server (a gradebook a test may fill)."""
    return create_database(pg_server)
