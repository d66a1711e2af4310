"""Per-learner draws: each learner × module gets its own deterministic copy of the exercise data.

A *recipe* (one module per course module: ``m01.py``, ``m09.py`` …) makes only the files its
exercise reads, from a numpy Generator: same schema and story as the shared data, the learner's
own values, units, dates and planted effect sizes. Its second return value is the draw's truth
(the planted parameters and effects): written beside, never inside, the data folder, because the
data folder is what a learner's server and the grading sandbox see.

Seeds come from HMAC(variant key, module, learner): without the key nobody can rebuild another
learner's draw, and the same key always rebuilds the same draw (cached by fingerprint).
"""
from __future__ import annotations

import hashlib
import hmac
import importlib
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd

from policylab.data.draw_identity import DRAW_FILE, DrawError, check_learner_id, draw_info, key_id

RECIPE_VERSION = 2  # bump when the builder changes; a recipe's own code is in each draw's fingerprint
RECIPES = ("m01", "m02", "m03", "m04", "m05", "m06", "m07", "m08", "m09", "m10", "m11", "m12", "m13")  # modules whose exercise reads a per-learner draw (course.yml marks them converted)


def variants_dir(root: Path) -> Path:
    """Trainer-side home of every draw (under grading/, never mounted whole anywhere)."""
    return Path(root) / "grading" / "variants"


def draw_dir(root: Path, learner: str, module_id: str, *, base: Path | None = None) -> Path:
    return Path(base or variants_dir(root) / "draws") / learner / module_id


def truth_path(root: Path, learner: str, module_id: str) -> Path:
    return variants_dir(root) / "truth" / learner / f"{module_id}.json"


def record_key(root: Path, key: bytes) -> None:
    """Note which key built the course's draws (``policylab variants build``), so grading with another
    key is refused instead of judging learners on draws they never saw."""
    path = variants_dir(root) / "KEY_ID"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(key_id(key) + "\n", encoding="utf-8")


def check_key(root: Path, key: bytes) -> None:
    path = variants_dir(root) / "KEY_ID"
    if not path.is_file():
        return
    recorded = path.read_text(encoding="utf-8").strip()
    if recorded and recorded != key_id(key):
        raise DrawError(f"지금 변형 키(키 ID {key_id(key)})가 학습자 자료를 만든 키(키 ID {recorded}, {path})와 "
                        "다릅니다. 다른 자료로 채점하지 않도록 멈췄습니다. $POLICYLAB_VARIANT_KEY_FILE이 "
                        "`policylab variants build` 때와 같은 키 파일을 가리키는지 확인하세요.")


def seed_for(key: bytes, module_id: str, learner: str) -> int:
    digest = hmac.new(key, f"draw:{module_id}:{learner}".encode("utf-8"), hashlib.sha256).digest()
    return int.from_bytes(digest[:8], "big")


def fingerprint(key: bytes, module_id: str, learner: str) -> str:
    """Short public name of one draw: printed by the setup cell, recorded by the grader. It covers the
    recipe's code, so editing a recipe rebuilds its draws (and the references cached on them)."""
    recipe = Path(__file__).with_name(f"{module_id}.py")
    code = hashlib.sha256(recipe.read_bytes()).hexdigest() if recipe.is_file() else ""
    text = f"fp:{module_id}:{learner}:{RECIPE_VERSION}:{code}".encode("utf-8")
    return hmac.new(key, text, hashlib.sha256).hexdigest()[:8]


def make(module_id: str, seed: int) -> tuple[dict[str, pd.DataFrame], dict]:
    """Run a module's recipe: ({file name: table}, truth)."""
    if module_id not in RECIPES:
        raise KeyError(f"{module_id} has no per-learner draw (policylab.data.synth.draws.RECIPES)")
    recipe = importlib.import_module(f"policylab.data.synth.draws.{module_id}")
    return recipe.make(np.random.default_rng(seed))


def _write_table(table: pd.DataFrame | bytes, path: Path) -> None:
    if isinstance(table, bytes):  # a file the recipe rendered itself (a CP949 CSV, an Excel report)
        path.write_bytes(table)
    elif path.suffix == ".gz":
        # mtime=0: the same draw gives the same bytes. Level 1, not gzip's default 9: a draw is built per
        # learner while grading, and level 9 spent 0.8 s of a 0.9 s build on a 100,000-row table for
        # a file 20 % smaller (reading it back takes the same time)
        table.to_csv(path, index=False, encoding="utf-8",
                     compression={"method": "gzip", "mtime": 0, "compresslevel": 1})
    else:
        table.to_csv(path, index=False, encoding="utf-8")


def build_draw(module_id: str, learner: str, *, key: bytes, root: Path, base: Path | None = None,
               force: bool = False) -> Path:
    """The learner's draw folder for the module, built unless a fresh one is there."""
    check_learner_id(learner)
    fp = fingerprint(key, module_id, learner)
    folder = draw_dir(root, learner, module_id, base=base)
    info = draw_info(folder)
    if not force and info and info.get("fingerprint") == fp:
        return folder
    tables, truth = make(module_id, seed_for(key, module_id, learner))
    tmp = folder.with_name(f".{module_id}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    for name, table in tables.items():
        _write_table(table, tmp / name)
    (tmp / DRAW_FILE).write_text(json.dumps({"learner": learner, "module": module_id, "fingerprint": fp,
                                             "key_id": key_id(key)}, ensure_ascii=False) + "\n",
                                 encoding="utf-8")
    old = folder.with_name(f".{module_id}.old-{os.getpid()}")
    try:
        if folder.exists():
            folder.rename(old)
        tmp.rename(folder)
    except OSError:  # another process built the same draw at the same moment: keep theirs if it is this one
        shutil.rmtree(tmp, ignore_errors=True)
        if (draw_info(folder) or {}).get("fingerprint") != fp:
            raise
    shutil.rmtree(old, ignore_errors=True)
    out = truth_path(root, learner, module_id)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"learner": learner, "module": module_id, "fingerprint": fp, **truth},
                              ensure_ascii=False, indent=1, default=_plain) + "\n", encoding="utf-8")
    return folder


def read_truth(root: Path, learner: str, module_id: str) -> dict:
    return json.loads(truth_path(root, learner, module_id).read_text(encoding="utf-8"))


def _plain(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (pd.Timestamp,)):
        return value.isoformat()
    raise TypeError(type(value).__name__)
