"""Who a draw belongs to and which key made it: shared by the learner-side lookup
(``policylab.data.draws``) and the generator (``policylab.data.synth.draws``).
"""
from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
from pathlib import Path

DRAW_FILE = "DRAW.json"
KEY_ENV, KEY_FILE_ENV = "POLICYLAB_VARIANT_KEY", "POLICYLAB_VARIANT_KEY_FILE"
# Published, like the pseudonym demo key: real deployments set their own (`policylab hub check` says so).
DEMO_VARIANT_KEY = b"policylab-DEMO-ONLY-variant-key--replace-before-real-learners"
MIN_KEY_BYTES = 16
LEARNER_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


class DrawError(Exception):
    """A draw that cannot be found or built; the message (Korean) names the learner and the fix."""


def load_variant_key() -> tuple[bytes, bool]:
    """(key, is_demo): ``$POLICYLAB_VARIANT_KEY``, the file named by ``$POLICYLAB_VARIANT_KEY_FILE``,
    else the published demo key (demos, tests, a local checkout)."""
    if os.environ.get(KEY_ENV):
        key, source = os.environ[KEY_ENV].strip().encode("utf-8"), f"${KEY_ENV}"
    elif os.environ.get(KEY_FILE_ENV):
        path = Path(os.environ[KEY_FILE_ENV]).expanduser()
        try:
            key, source = path.read_bytes().strip(), str(path)
        except OSError as exc:
            raise DrawError(f"변형 키 파일 {path}을(를) 읽을 수 없습니다 ({exc.strerror}). "
                            f"${KEY_FILE_ENV}이 가리키는 파일을 확인하세요.") from exc
    else:
        return DEMO_VARIANT_KEY, True
    if len(key) < MIN_KEY_BYTES:
        raise DrawError(f"{source}의 변형 키가 {MIN_KEY_BYTES}바이트보다 짧습니다. "
                        "python -c \"import secrets; print(secrets.token_hex(32))\"로 새 키를 만드세요.")
    return key, key == DEMO_VARIANT_KEY


def key_id(key: bytes) -> str:
    """A short public name for a key (recorded with each draw, so a grader can tell keys apart)."""
    return hmac.new(key, b"policylab-variant-key-id", hashlib.sha256).hexdigest()[:12]


def check_learner_id(learner: str) -> str:
    if not isinstance(learner, str) or not LEARNER_ID.fullmatch(learner):
        raise DrawError(f"학습자 ID {learner!r}는 쓸 수 없습니다: 영문자·숫자·'_.-'로 된 64자 이내여야 합니다.")
    return learner


def draw_info(folder: Path) -> dict | None:
    """The draw's identity (``DRAW.json``: learner, module, fingerprint), or None for shared data."""
    try:
        info = json.loads((Path(folder) / DRAW_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return info if isinstance(info, dict) else None
