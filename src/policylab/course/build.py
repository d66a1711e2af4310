"""solutions/ → exercises/ through nbgrader's generate_assignment, and the drift check.

exercises/ is tracked in git so learners can fetch it without running nbgrader, which
means it can go stale: ``check_exercises`` regenerates into a scratch folder and
compares, so a hand edit or a forgotten rebuild fails CI with the notebook's name.
"""
from __future__ import annotations

import filecmp
import json
import tempfile
from dataclasses import dataclass
from pathlib import Path

from policylab.course.modules import Module, load_modules
from policylab.course.nbconfig import load_config, make_api
from policylab.course.paths import find_root


class BuildError(RuntimeError):
    pass


@dataclass(frozen=True)
class Drift:
    path: Path
    reason: str

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


def _select(root: Path, modules: list[str] | None) -> list[Module]:
    ready = load_modules(root, ready_only=True)
    if not modules:
        return ready
    by_id = {m.id: m for m in load_modules(root)}
    unknown = [m for m in modules if m not in by_id]
    if unknown:
        raise BuildError(f"Unknown module(s) {unknown}; course.yml lists {sorted(by_id)}")
    return [by_id[m] for m in modules]


def _generate(config, module: Module) -> None:
    if not module.source.is_file():
        raise BuildError(f"{module.source}: source notebook missing for module {module.id}")
    result = make_api(config).generate_assignment(module.id, force=True, create=True)
    if not result["success"]:
        raise BuildError(
            f"{module.source}: nbgrader generate_assignment failed\n{result.get('error') or result.get('log')}"
        )


def build_exercises(*, root: Path | None = None, modules: list[str] | None = None) -> list[Path]:
    """Regenerate the released notebooks of the given (default: every ready) module."""
    root = Path(root) if root else find_root()
    config = load_config(root)
    built = []
    for module in _select(root, modules):
        _generate(config, module)
        built.append(module.release)
    return built


def _normalized(path: Path) -> dict:
    """The notebook as JSON, minus what changes between runs without changing content."""
    nb = json.loads(path.read_text(encoding="utf-8"))
    for cell in nb.get("cells", []):
        cell.get("metadata", {}).pop("execution", None)
    return nb


def _compare_trees(expected: Path, actual: Path) -> list[Drift]:
    drifts = []
    want = {p.relative_to(expected) for p in expected.rglob("*") if p.is_file()}
    have = {p.relative_to(actual) for p in actual.rglob("*") if p.is_file()} if actual.is_dir() else set()
    for rel in sorted(want - have):
        drifts.append(Drift(actual / rel, "missing: run `policylab build`"))
    for rel in sorted(have - want):
        drifts.append(Drift(actual / rel, "not generated from solutions/: remove it or add it to the source"))
    for rel in sorted(want & have):
        a, b = expected / rel, actual / rel
        same = _normalized(a) == _normalized(b) if rel.suffix == ".ipynb" else filecmp.cmp(a, b, shallow=False)
        if not same:
            drifts.append(Drift(b, "differs from what nbgrader generates from solutions/: "
                                   "edit the source notebook and run `policylab build`"))
    return drifts


def check_exercises(*, root: Path | None = None, modules: list[str] | None = None) -> list[Drift]:
    """Regenerate into a scratch folder and list every released file that differs."""
    root = Path(root) if root else find_root()
    drifts = []
    with tempfile.TemporaryDirectory(prefix="policylab-build-") as tmp:
        config = load_config(root, CourseDirectory={
            "release_directory": str(Path(tmp) / "exercises"),
            "db_url": f"sqlite:///{Path(tmp) / 'gradebook.db'}",
        })
        for module in _select(root, modules):
            _generate(config, module)
            drifts += _compare_trees(Path(tmp) / "exercises" / module.id, root / "exercises" / module.id)
    return drifts
