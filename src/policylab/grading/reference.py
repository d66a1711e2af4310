"""The reference layer: each converted module's expected values, computed once per draw.

``solutions/<module>/reference.py`` (trainer-side, never released, like the misconception bank)
defines ``reference(data: Path) -> dict``: every autograded question's expected values, computed
from a datasets folder (a learner's draw). Hidden tests ask for their question's part::

    from policylab.grading.reference import expected as _expected
    _ref = _expected("m09")["q3"]

At grading the hidden tests run in the checker process (outside the learner's kernel), where the
data folder is that learner's draw: the reference is computed on the first test cell that asks and
kept for the rest of the notebook (in this process) and for later batches (a pickle under the
cache folder, keyed by the reference file and the draw's fingerprint).
"""
from __future__ import annotations

import hashlib
import importlib.util
import os
import pickle
from pathlib import Path

from policylab.course.paths import find_root
from policylab.data.draws import draw_info, exercise_data
from policylab.grading.signatures import cache_base

_memo: dict[tuple, dict] = {}


def reference_file(module_id: str, root: Path | None = None) -> Path:
    return Path(root or find_root()) / "solutions" / module_id / "reference.py"


def _load(path: Path):
    spec = importlib.util.spec_from_file_location(f"policylab_reference_{path.parent.name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def compute(module_id: str, data: Path, *, root: Path | None = None) -> dict:
    """The module's reference on ``data``, from this process's memo or the cache when fresh."""
    root = Path(root or find_root())
    path = reference_file(module_id, root)
    code = path.read_bytes()
    info = draw_info(data) or {}
    draw = info.get("fingerprint") or str(Path(data).resolve())
    key = (module_id, hashlib.sha256(code).hexdigest()[:16], info.get("learner", ""), draw)
    if key in _memo:
        return _memo[key]
    cache = cache_base(root) / "reference" / f"{module_id}-{key[1]}-{hashlib.sha256('|'.join(key).encode()).hexdigest()[:16]}.pkl"
    if info.get("fingerprint") and cache.is_file():  # only draws have a stable fingerprint to key on
        try:
            _memo[key] = pickle.loads(cache.read_bytes())
            return _memo[key]
        except Exception:  # noqa: BLE001 - a damaged cache entry is recomputed
            pass
    result = _load(path).reference(Path(data))
    _memo[key] = result
    if info.get("fingerprint"):
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_suffix(f".tmp-{os.getpid()}")
        tmp.write_bytes(pickle.dumps(result))
        tmp.replace(cache)
    return result


def expected(module_id: str) -> dict:
    """Every question's expected values on the data this notebook's exercise reads."""
    return compute(module_id, exercise_data(module_id, quiet=True))
