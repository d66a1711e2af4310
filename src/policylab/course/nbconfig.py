"""nbgrader's configuration for this course, loaded once, with per-call overrides."""
from __future__ import annotations

import os
import sys
from pathlib import Path

from traitlets.config import Config
from traitlets.config.loader import PyFileConfigLoader

from policylab.course.paths import find_root


def load_config(root: Path | None = None, **overrides: dict) -> Config:
    """Read <root>/nbgrader_config.py; ``overrides`` are {ClassName: {trait: value}}."""
    root = Path(root) if root else find_root()
    config = PyFileConfigLoader("nbgrader_config.py", path=str(root)).load_config()
    config.CourseDirectory.root = str(root)
    for section, traits in overrides.items():
        for trait, value in traits.items():
            config[section][trait] = value
    return config


def prepare_environment(config: Config) -> None:
    """What nbgrader assumes but does not ensure: the SQLite folder exists, and `alembic`
    (which nbgrader runs as a command to create a gradebook) is on PATH even when
    policylab is started as .venv/bin/policylab without activating the venv."""
    db_url = config.CourseDirectory.db_url
    if isinstance(db_url, str) and db_url.startswith("sqlite:///"):
        Path(db_url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    bindir = str(Path(sys.executable).parent)
    if bindir not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = bindir + os.pathsep + os.environ.get("PATH", "")


def make_api(config: Config):
    """An NbGraderAPI bound to ``config`` (nbgrader imported here: it is slow to import)."""
    prepare_environment(config)
    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory

    return NbGraderAPI(coursedir=CourseDirectory(config=config), config=config)
