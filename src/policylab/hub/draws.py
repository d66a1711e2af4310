"""Each learner's own draws on the hub: ``<prefix>/draws/<learner>/<module>/``, readable by that learner only.

The trainer side builds them (the variant key never reaches a learner's server); the learner's server
gets ``$POLICYLAB_DRAWS=<prefix>/draws/<user>`` (deploy/jupyterhub_config.py), where the exercise's
setup cell finds its module (policylab.data.draws.exercise_data). ``<prefix>/draws`` is 0710 for the
course group: members pass through to their own folder but cannot list the others; each learner's
folder belongs to that learner, 0500 (files 0400), group root.
"""
from __future__ import annotations

import grp
import os
import pwd
from pathlib import Path

from policylab.grading.variants import build_variants, converted_modules
from policylab.hub.layout import share_course
from policylab.hub.settings import HubError, HubSettings, ensure_group, set_owner_mode


def draws_dir(settings: HubSettings) -> Path:
    return Path(settings.draws or Path(settings.prefix) / "draws")


def prepare_draws(settings: HubSettings, learners: list[str]) -> int:
    """Build (or keep, when fresh) every learner's draw of every converted module and lock it to them."""
    if os.geteuid() != 0:
        raise HubError("`policylab hub draws` gives each learner their own folder: run it as root (sudo).")
    root = Path(settings.course_root)
    base = draws_dir(settings)
    base.mkdir(parents=True, exist_ok=True)
    set_owner_mode(base, 0o710, ensure_group(settings.course_group))
    if not learners or not converted_modules(root):
        return 0
    for learner in learners:
        try:
            uid = pwd.getpwnam(learner).pw_uid
        except KeyError:
            raise HubError(f"{learner}: no such user on this server; create the account first.") from None
        folder = base / learner
        if folder.exists():  # the builder writes as root; the lock is set again below
            _chown_tree(folder, 0, 0o700, 0o600)
        build_variants(root, learners=[learner], base=base)
        _chown_tree(folder, uid, 0o500, 0o400)
    # the trainers' copies (and the planted values) were written by root: the trainers' shared folder again
    share_course(root / "grading" / "variants", grp.getgrnam(settings.trainer_group).gr_gid)
    return len(learners)


def _chown_tree(folder: Path, uid: int, dir_mode: int, file_mode: int) -> None:
    for dirpath, dirnames, filenames in os.walk(folder, topdown=False):
        for name in filenames:
            path = Path(dirpath) / name
            if not path.is_symlink():
                os.chown(path, uid, 0)
                os.chmod(path, file_mode)
        for name in dirnames:
            path = Path(dirpath) / name
            if not path.is_symlink():
                os.chown(path, uid, 0)
                os.chmod(path, dir_mode)
    os.chown(folder, uid, 0)
    os.chmod(folder, dir_mode)
