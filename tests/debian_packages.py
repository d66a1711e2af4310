"""Installing a Debian package from a test that needs it (chromium, postgresql), one at a time.

Why a lock: with ``pytest -n 2`` two workers may each find their package missing on a fresh
machine; apt-get and dpkg refuse to run twice at once ("Could not get lock"), so the installs
queue behind a file lock, and apt itself is told to wait for any other dpkg run.
"""
from __future__ import annotations

import fcntl
import os
import subprocess

LOCK = "/tmp/policylab-tests-apt.lock"


def apt_install(*packages: str, timeout: float = 900) -> subprocess.CompletedProcess:
    """``apt-get update && apt-get install -y <packages>`` as root, serialized across test workers."""
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    wait = "-o DPkg::Lock::Timeout=600"
    with open(LOCK, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return subprocess.run(f"apt-get {wait} update -qq && apt-get {wait} install -y -qq {' '.join(packages)}",
                              shell=True, env=env, capture_output=True, text=True, timeout=timeout)
