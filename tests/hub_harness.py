"""Real processes for the hub's end-to-end test: system users, the course python, the hub itself.

Why each piece is real: the exchange's guarantees are Unix file modes, so learners and
trainers must be distinct system users (LocalProcessSpawner, the hub running as root);
anything simulated here would pass whatever the modes are.

The one adaptation to this machine: single-user servers run as those users, so the course
environment's python must be readable by them. A venv whose interpreter lives under
/root (pyenv; /root is 0700) is not; then a venv on the system python of the same version
is built once (cached in /tmp, keyed by the installed packages) with the project's
site-packages hard-linked into it and its console scripts re-pointed at it (nbgrader runs
``alembic`` as a command). A deployment installs the course environment in /opt or /srv
instead (docs/deploy.md).
"""
from __future__ import annotations

import grp
import hashlib
import json
import os
import pwd
import shutil
import signal
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

import pytest

from policylab.grading.workers import pid_alive

REPO = Path(__file__).resolve().parents[1]
DEPLOY = REPO / "deploy"
ACCOUNT_PREFIX = "plhub-"  # test accounts and groups: plhub-<role letter><pid of the pytest process>


def _world_executable(path: Path) -> bool:
    path = Path(path).resolve()
    return all(os.stat(p).st_mode & 0o001 for p in [path, *path.parents]) and bool(os.stat(path).st_mode & 0o004)


def _installed_key() -> str:
    """Changes whenever a package in the project's environment is added, removed or upgraded."""
    from importlib.metadata import distributions

    names = sorted(f"{d.metadata['Name']}=={d.version}" for d in distributions())
    return hashlib.sha1("\n".join([sys.prefix, *names]).encode()).hexdigest()[:12]


def _src_key() -> str:
    """Changes whenever the project's own source changes (the runtime carries a copy of it)."""
    digest = hashlib.sha1()
    for path in sorted((REPO / "src").rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts and ".egg-info" not in str(path):
            digest.update(str(path.relative_to(REPO)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:8]


def _link_tree(source: Path, dest: Path) -> None:
    """Hard-link a tree (instant on one file system), else copy it."""
    if subprocess.run(["cp", "-al", str(source), str(dest)], capture_output=True).returncode != 0:
        shutil.rmtree(dest, ignore_errors=True)
        shutil.copytree(source, dest, symlinks=True)


def runtime_python() -> str:
    """A python every test user can run, with the project's packages: a self-contained venv.

    Self-contained because the grading sandbox binds exactly the interpreter's prefix and
    site-packages into the kernel's view: a venv that borrowed packages from elsewhere
    would import nothing in there.
    """
    if _world_executable(Path(sys.executable)) and _world_executable(Path(sysconfig.get_paths()["purelib"])):
        return sys.executable
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    system = Path(f"/usr/bin/python{version}")
    if not system.is_file():
        pytest.fail(f"{sys.executable} is not readable by other users and there is no {system} to build a shared "
                    f"runtime from: install python{version} (Debian: `apt-get install -y python{version}-venv`) "
                    "or create .venv from a python outside /root.")
    installed = _installed_key()
    final = Path(f"/tmp/policylab-hub-runtime-{installed}-{_src_key()}")
    if (final / ".complete").is_file():
        return str(final / "bin" / "python")
    for stale in Path("/tmp").glob("policylab-hub-runtime-*/.complete"):
        # this environment's runtime for older source, or another environment's unused for a week
        if stale.parent.name.startswith(f"policylab-hub-runtime-{installed}-") \
                or time.time() - stale.stat().st_mtime > 7 * 86400:
            shutil.rmtree(stale.parent, ignore_errors=True)
    # built under a private name, then renamed: a concurrent session never sees half a runtime
    venv = Path(f"{final}.building-{os.getpid()}")
    shutil.rmtree(venv, ignore_errors=True)
    python = venv / "bin" / "python"
    subprocess.run([str(system), "-m", "venv", "--without-pip", str(venv)], check=True, capture_output=True)
    target = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                                 check=True, capture_output=True, text=True).stdout.strip())
    shutil.rmtree(target)
    _link_tree(Path(sysconfig.get_paths()["purelib"]), target)
    # The editable install points at the checkout, which other users may not reach (a CI clone
    # under a private folder): carry a copy of src/ and point the .pth file at it instead.
    shutil.copytree(REPO / "src", venv / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    for pth in target.glob("__editable__*policylab*.pth"):
        pth.unlink()  # a hard link to .venv's own file: replace it, never write through it
        pth.write_text(f"{final / 'src'}\n", encoding="utf-8")
    for name in ("share", "etc"):  # Jupyter's data (lab assets, extensions) and config under sys.prefix
        if (Path(sys.prefix) / name).is_dir():
            _link_tree(Path(sys.prefix) / name, venv / name)
    for script in Path(sys.prefix, "bin").iterdir():
        try:
            head, _, body = script.read_bytes().partition(b"\n")
        except (IsADirectoryError, PermissionError):
            continue
        if head.startswith(b"#!") and b"python" in head and not (venv / "bin" / script.name).exists():
            (venv / "bin" / script.name).write_bytes(b"#!" + str(final / "bin" / "python").encode() + b"\n" + body)
            os.chmod(venv / "bin" / script.name, 0o755)
    for dirpath, dirnames, filenames in os.walk(venv):
        os.chmod(dirpath, os.stat(dirpath).st_mode | 0o755)
    (venv / ".complete").touch()
    try:
        venv.rename(final)
    except OSError:  # another session finished first: use theirs
        shutil.rmtree(venv, ignore_errors=True)
    return str(final / "bin" / "python")


def proxy_command() -> str:
    """configurable-http-proxy from the npm registry, installed into deploy/ from its lock file."""
    local = DEPLOY / "node_modules" / ".bin" / "configurable-http-proxy"
    if not local.exists():
        npm = shutil.which("npm")
        if npm is None:
            pytest.fail("npm is missing: install Node.js and npm (Debian: `apt-get install -y nodejs npm`)")
        done = subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--prefix", str(DEPLOY)], capture_output=True,
                              text=True, timeout=300)
        if done.returncode != 0 or not local.exists():
            pytest.fail(f"`npm ci --prefix deploy` failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    return str(local)


class SystemAccounts:
    """Test users and groups, removed again by ``remove`` (also those a crashed run left)."""

    def __init__(self, users: list[str], groups: list[str], home_base: Path):
        self.users, self.groups, self.home_base = users, groups, Path(home_base)
        self.uids: list[int] = []

    def _cleanup(self) -> None:
        for user in self.users:
            self.kill_processes(user)
            subprocess.run(["userdel", user], capture_output=True)
        for group in self.groups:
            subprocess.run(["groupdel", group], capture_output=True)

    def create(self) -> "SystemAccounts":
        if os.geteuid() != 0:
            pytest.fail("the hub test creates system users and runs JupyterHub as root: run it as root "
                        "(CI does; locally `sudo .venv/bin/python -m pytest tests/test_hub_e2e.py`)")
        self._cleanup()
        for user in self.users:
            home = self.home_base / user
            subprocess.run(["useradd", "--no-create-home", "--home-dir", str(home), "--shell", "/bin/sh",
                            "--user-group", user], check=True, capture_output=True, text=True)
            home.mkdir(parents=True)
            entry = pwd.getpwnam(user)
            self.uids.append(entry.pw_uid)
            os.chown(home, entry.pw_uid, entry.pw_gid)
            os.chmod(home, 0o700)
        return self

    @staticmethod
    def pids_of(user: str | int) -> list[int]:
        """Processes of a user name or uid (a uid still works after the account is deleted)."""
        try:
            uid = user if isinstance(user, int) else pwd.getpwnam(user).pw_uid
        except KeyError:
            return []
        pids = []
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    if entry.stat().st_uid == uid:
                        pids.append(int(entry.name))
                except FileNotFoundError:
                    continue
        return pids

    def leftovers(self) -> list[int]:
        """Processes still running under the test accounts' uids (after ``remove``: none)."""
        return [pid for uid in self.uids for pid in self.pids_of(uid)]

    @classmethod
    def kill_processes(cls, user: str | int, wait: float = 10) -> None:
        """SIGKILL every process of ``user`` and wait until they are gone (userdel refuses otherwise)."""
        deadline = time.monotonic() + wait
        while (pids := cls.pids_of(user)) and time.monotonic() < deadline:
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            time.sleep(0.1)

    def remove(self) -> None:
        self._cleanup()


def run_as(user: str, argv: list[str], *, env: dict, cwd: Path, timeout: float = 300,
           umask: int | None = None) -> subprocess.CompletedProcess:
    """``argv`` as ``user`` (runuser), with exactly ``env`` plus that user's HOME and PATH (and ``umask``)."""
    home = pwd.getpwnam(user).pw_dir
    full = {"HOME": home, "USER": user, "LOGNAME": user, "PATH": f"{Path(argv[0]).parent}:/usr/bin:/bin",
            "LC_ALL": "C.UTF-8", **env}
    if umask is not None:
        argv = ["/bin/sh", "-c", f'umask {umask:04o} && exec "$0" "$@"', *argv]
    return subprocess.run(["runuser", "-u", user, "--", "env", "-i", *[f"{k}={v}" for k, v in full.items()], *argv],
                          cwd=cwd, capture_output=True, text=True, timeout=timeout)


class RunningHub:
    """``jupyterhub -f deploy/jupyterhub_config.py`` in its own process group, stopped by ``stop``."""

    def __init__(self, settings_path: Path, password: str, log: Path):
        self.settings = json.loads(Path(settings_path).read_text())
        self.settings_path, self.password, self.log = Path(settings_path), password, Path(log)
        self.url = self.settings["bind_url"].rstrip("/")
        self.proc = None

    def start(self, timeout: float = 60) -> "RunningHub":
        import requests

        hub_dir = Path(self.settings["prefix"]) / "hub"
        env = dict(os.environ, POLICYLAB_HUB_SETTINGS=str(self.settings_path), POLICYLAB_HUB_PASSWORD=self.password)
        env["PATH"] = f"{Path(sys.executable).parent}:{env.get('PATH', '/usr/bin:/bin')}"
        self._log = open(self.log, "wb")
        self.proc = subprocess.Popen([str(Path(sys.executable).parent / "jupyterhub"), "-f",
                                      str(hub_dir / "jupyterhub_config.py")], cwd=hub_dir, env=env,
                                     stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"jupyterhub exited with {self.proc.returncode}:\n{self.tail()}")
            try:
                if requests.get(f"{self.url}/hub/api/", timeout=2).status_code == 200:
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.3)
        raise RuntimeError(f"jupyterhub did not answer within {timeout:.0f} s:\n{self.tail()}")

    def tail(self, n: int = 6000) -> str:
        return self.log.read_text(errors="replace")[-n:] if self.log.exists() else ""

    def stop(self) -> None:
        """SIGTERM (the hub stops the single-user servers and its proxy), then SIGKILL the group."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                pass
        # the proxy runs in its own session: if the hub could not stop it, its pid file names it
        _kill_group_from_pidfile(Path(self.settings["prefix"]) / "hub" / "jupyterhub-proxy.pid",
                                 b"configurable-http-proxy")
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait()
        self._log.close()


def rss_tree(pid: int) -> dict:
    """RSS and PSS (kB) and CPU seconds so far of ``pid`` and all its descendants, from /proc."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (FileNotFoundError, ProcessLookupError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry.name))
    todo, seen, rss, pss, ticks = [pid], [], 0, 0, 0
    while todo:
        current = todo.pop()
        seen.append(current)
        todo += children.get(current, [])
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
            ticks += int(fields[11]) + int(fields[12])  # utime + stime
        except (FileNotFoundError, ProcessLookupError, IndexError, ValueError):
            pass
        try:
            for line in Path(f"/proc/{current}/smaps_rollup").read_text().splitlines():
                if line.startswith("Rss:"):
                    rss += int(line.split()[1])
                elif line.startswith("Pss:"):
                    pss += int(line.split()[1])
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
    return {"pids": seen, "rss_kb": rss, "pss_kb": pss, "cpu_s": ticks / os.sysconf("SC_CLK_TCK")}


def group_exists(name: str) -> bool:
    try:
        grp.getgrnam(name)
        return True
    except KeyError:
        return False


def remove_stale_accounts() -> None:
    """Remove test accounts and groups (``plhub-<letter><pid>``) whose pytest process is gone: what a
    session killed before its teardown left behind."""
    if os.geteuid() != 0:
        return
    import re

    pattern = re.compile(rf"^{re.escape(ACCOUNT_PREFIX)}[a-z](\d+)$")
    for entry in pwd.getpwall():
        match = pattern.match(entry.pw_name)
        if match and not pid_alive(int(match.group(1))):
            SystemAccounts.kill_processes(entry.pw_uid)
            subprocess.run(["userdel", entry.pw_name], capture_output=True)
    for entry in grp.getgrall():
        match = pattern.match(entry.gr_name)
        if match and not pid_alive(int(match.group(1))):
            subprocess.run(["groupdel", entry.gr_name], capture_output=True)


def stop_stale_hubs() -> None:
    """Kill hubs (and their proxies, in the same process group) left by a test process that was
    killed before its teardown: /tmp/policylab-hub-<pid>-…/srv/hub/jupyterhub.pid, the pid gone."""
    import tempfile

    for pidfile in Path(tempfile.gettempdir()).glob("policylab-hub-*-*/srv/hub/jupyterhub.pid"):
        base = pidfile.parents[2]
        try:
            owner = int(base.name.split("-")[2])
        except (ValueError, IndexError):
            continue
        if pid_alive(owner):
            continue
        for name, marker in (("jupyterhub.pid", b"jupyterhub"), ("jupyterhub-proxy.pid", b"configurable-http-proxy")):
            _kill_group_from_pidfile(pidfile.parent / name, marker)
        shutil.rmtree(base, ignore_errors=True)


def _kill_group_from_pidfile(pidfile: Path, marker: bytes) -> None:
    """SIGKILL the process group of the pid in ``pidfile`` if that process is still ``marker``."""
    try:
        pid = int(pidfile.read_text().strip())
        if marker in Path(f"/proc/{pid}/cmdline").read_bytes():
            os.killpg(pid, signal.SIGKILL)
    except (ValueError, FileNotFoundError, ProcessLookupError, PermissionError):
        pass
