"""nbgrader's configuration for this course, loaded once, with per-call overrides."""
from __future__ import annotations

from pathlib import Path

from traitlets.config import Config
from traitlets.config.loader import PyFileConfigLoader

from policylab.paths import find_root


def load_config(root: Path | None = None, **overrides: dict) -> Config:
    """Read <root>/nbgrader_config.py; ``overrides`` are {ClassName: {trait: value}}."""
    root = Path(root) if root else find_root()
    config = PyFileConfigLoader("nbgrader_config.py", path=str(root)).load_config()
    config.CourseDirectory.root = str(root)
    for section, traits in overrides.items():
        for trait, value in traits.items():
            config[section][trait] = value
    return config


def make_api(config: Config):
    """An NbGraderAPI bound to ``config`` (nbgrader imported here: it is slow to import)."""
    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory

    return NbGraderAPI(coursedir=CourseDirectory(config=config), config=config)
