"""Which data an exercise reads: the learner's own draw (docs/authoring.md, "Per-learner draws").

Lessons read the shared corporation data in ``datasets/``; a converted module's exercise reads
the learner's own draw of its files: same schema and story, the learner's own values. The setup
cell calls :func:`exercise_data`, which finds the draw wherever the notebook runs:

- grading (the sandbox, the checker, the diagnosis kernel): ``$POLICYLAB_DATASETS`` is that
  learner's draw, mounted read-only; it holds ``DRAW.json`` naming the learner and module;
- the hub: ``$POLICYLAB_DRAWS`` is the learner's own read-only folder, one subfolder per module,
  prepared by the trainer (``policylab variants build``); the learner's server has no key;
- a local checkout (``make lab``): the learner id from ``$POLICYLAB_LEARNER`` or the one-line file
  ``~/.policylab-learner``; without one, a practice draw. Built here on first use (demo key).

This module runs in the learner's kernel: it imports no generator at module level (the generator,
and so the planted effects, are hidden from the grading sandbox).
"""
from __future__ import annotations

import os
from pathlib import Path

from policylab.data.draw_identity import (  # noqa: F401 - re-exported for notebooks and tools
    DRAW_FILE,
    DrawError,
    check_learner_id,
    draw_info,
    key_id,
    load_variant_key,
)

LEARNER_ENV, DRAWS_ENV = "POLICYLAB_LEARNER", "POLICYLAB_DRAWS"
LEARNER_FILE = Path("~/.policylab-learner")
PRACTICE = "practice"


def local_learner() -> str | None:
    """The learner id of a local checkout: the environment, else the one-line settings file."""
    if os.environ.get(LEARNER_ENV, "").strip():
        return os.environ[LEARNER_ENV].strip()
    try:
        text = LEARNER_FILE.expanduser().read_text(encoding="utf-8").strip()
    except OSError:
        return None
    return text.splitlines()[0].strip() if text else None


def exercise_data(module_id: str, *, quiet: bool = False) -> Path:
    """The folder the module's exercise reads; prints which draw it is (a trainer sees it in the
    submitted notebook). Raises DrawError (Korean) when the learner's draw is not there."""
    folder, note = _locate(module_id)
    info = draw_info(folder) or {}
    if not quiet:
        print(f"자료: 학습자 {info.get('learner', '?')}의 {module_id} 자료 (지문 {info.get('fingerprint', '?')})")
        if note:
            print(note)
    return folder


def _locate(module_id: str) -> tuple[Path, str]:
    datasets = os.environ.get("POLICYLAB_DATASETS")
    if datasets and (draw_info(Path(datasets)) or {}).get("module") == module_id:
        return Path(datasets), ""          # grading: this learner's draw, mounted read-only
    if os.environ.get("POLICYLAB_SANDBOX"):
        raise DrawError(f"채점 환경에 이 학습자의 {module_id} 자료가 없습니다. 강사에게 알려 주세요.")
    if os.environ.get(DRAWS_ENV):          # the hub: the learner's own folder, prepared by the trainer
        folder = Path(os.environ[DRAWS_ENV]) / module_id
        if (draw_info(folder) or {}).get("module") != module_id:
            raise DrawError(f"{folder}에 {module_id} 자료가 아직 없습니다. 강사에게 "
                            "이 모듈의 개인별 자료 준비(`policylab hub draws`)를 요청하세요.")
        return folder, ""
    learner = local_learner()
    note = ""
    if not learner:
        learner = PRACTICE
        note = (f"연습용 자료입니다. 내 자료로 풀려면 ${LEARNER_ENV}에 학습자 ID를 넣거나 "
                f"{LEARNER_FILE} 파일에 학습자 ID 한 줄을 적은 뒤 커널을 다시 시작하세요.")
    from policylab.course.paths import find_root
    from policylab.data.synth.draws.build import build_draw  # local checkout only: the generator is here

    key, _ = load_variant_key()
    return build_draw(module_id, check_learner_id(learner), key=key, root=find_root()), note
