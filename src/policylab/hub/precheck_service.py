"""The hub's check service: `policylab check` run trainer-side for a learner's notebook (docs/deploy.md).

Started by JupyterHub as the managed service ``policylab-precheck`` (deploy/jupyterhub_config.py),
as the system user that holds the course's hidden tests and references: the learner's server holds
none of them, it only sends the notebook (:mod:`policylab.hub.learner_check`, behind the Validate
button). Who asks is JupyterHub's own answer (hub OAuth: the learner's server token or login
cookie, with ``access:services!service=policylab-precheck``), so a learner checks only as
themselves, on their own draw.

Each request is one ``policylab check --json`` process (the same pipeline as grading, in the
sandbox). So that a class checking at once cannot starve grading or each other:

- one check per learner at a time (a second is refused, not queued);
- a cool-down after each answer before the same learner may ask again;
- at most ``workers`` checks run at once and at most ``queue`` wait; the next is refused.

Every refusal is an HTTP error with a Korean message and ``Retry-After`` where waiting helps.
"""
from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from policylab.grading.collect import MAX_FILE
from policylab.hub.service_app import oauth_app, serve

SERVICE_NAME = "policylab-precheck"
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,120}\.ipynb")
UNAVAILABLE = "지금은 확인할 수 없습니다 (채점기 쪽 문제입니다). 강사에게 알려 주시고, 제출은 평소처럼 할 수 있습니다."
log = logging.getLogger(SERVICE_NAME)


class Refused(Exception):
    """Not checked: HTTP ``status``, a Korean ``message``, and seconds to wait before asking again."""

    def __init__(self, status: int, message: str, retry_after: int | None = None, *, assessment: bool = False) -> None:
        super().__init__(message)
        self.status, self.message, self.retry_after, self.assessment = status, message, retry_after, assessment


@dataclass
class Limits:
    """The service's admission rules; the state lives here because it spans requests."""

    workers: int = 1          # checks run at once (2 cores: grading keeps the other)
    queue: int = 10           # checks waiting for a worker
    cooldown: float = 10.0    # seconds after a learner's answer before their next check
    running: set = field(default_factory=set)  # learners with a check queued or running
    last_done: dict = field(default_factory=dict)
    clock: object = time.monotonic

    def admit(self, learner: str) -> None:
        """Raise Refused unless ``learner`` may queue a check now; on success they hold a place."""
        if learner in self.running:
            raise Refused(429, "이미 확인하는 중입니다. 앞의 확인 결과가 나온 뒤 다시 요청하세요.")
        wait = self.cooldown - (self.clock() - self.last_done.get(learner, float("-inf")))
        if wait > 0:
            raise Refused(429, f"방금 확인했습니다. {int(wait) + 1}초 뒤에 다시 확인하세요.", int(wait) + 1)
        if len(self.running) >= self.workers + self.queue:
            raise Refused(503, "지금 확인 요청이 많아 받을 수 없습니다. 1분쯤 뒤에 다시 확인하세요.", 60)
        self.running.add(learner)

    def done(self, learner: str) -> None:
        self.running.discard(learner)
        self.last_done[learner] = self.clock()


def notebook_name(name: str) -> str:
    """The file name the check sees (it tells the module, e.g. ``m01.ipynb``): a plain name or refused."""
    base = os.path.basename(name or "")
    if not NAME.fullmatch(base):
        raise Refused(400, f"{base or '(이름 없음)'}: 노트북 파일 이름이 올바르지 않습니다 (.ipynb 파일만 확인합니다).")
    return base


async def run_check(body: bytes, name: str, learner: str, *, command: list[str], env: dict,
                    timeout: float) -> dict:
    """One `policylab check --json` in a process of its own; its answer, or Refused with its Korean message."""
    with tempfile.TemporaryDirectory(prefix="policylab-precheck-") as tmp:
        path = Path(tmp) / name
        path.write_bytes(body)
        os.chmod(path, 0o600)
        proc = await asyncio.create_subprocess_exec(
            *command, "check", str(path), "--learner", learner, "--json", env=env, cwd="/",
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        try:
            out, err = await asyncio.wait_for(proc.communicate(), timeout)
        except asyncio.TimeoutError:
            proc.kill()
            await proc.wait()
            raise Refused(504, f"{name}: 확인이 {int(timeout)}초 안에 끝나지 않았습니다. 잠시 뒤에 다시 확인하세요.") from None
    # the answer names the file by its scratch path: by the learner's name for it here
    text = out.decode("utf-8", "replace").replace(str(path), name)
    if proc.returncode == 0:
        return json.loads(text)
    try:
        refusal = json.loads(text)  # `--json` prints a refusal as {"refused": ..., "assessment": ...}
    except ValueError:
        # anything else (a traceback, a trainer-side path) is for the trainer's log, not the learner's page
        log.error("check of %s by %s failed (exit %s): %s", name, learner, proc.returncode,
                  err.decode("utf-8", "replace")[-4000:])
        raise Refused(503 if proc.returncode == 2 else 500, UNAVAILABLE) from None
    raise Refused(403 if refusal.get("assessment") else 409, refusal.get("refused") or UNAVAILABLE,
                  assessment=bool(refusal.get("assessment")))


async def answer(body: bytes, name: str, learner: str, *, limits: Limits, slots: asyncio.Semaphore,
                 command: list[str], env: dict, timeout: float = 600) -> dict:
    """What the service answers one request (the handler's whole work but for who asks): admitted by
    ``limits``, queued for one of ``slots``, checked; the result with each verdict's Korean label and
    the Korean text. Raises Refused."""
    from policylab.grading import states
    from policylab.grading.precheck import VERDICTS_KO, CheckResult, Question, as_text

    name = notebook_name(name)
    if len(body) > MAX_FILE:
        raise Refused(413, f"{name}: 노트북이 너무 큽니다 ({MAX_FILE // 2**20} MB 넘음). 큰 출력을 지우고 다시 확인하세요.")
    limits.admit(learner)
    try:
        async with slots:
            result = await run_check(body, name, learner, command=command, env=env, timeout=timeout)
    finally:
        limits.done(learner)
    text = as_text(CheckResult(**{**result, "questions": [Question(**q) for q in result["questions"]]}))
    for q in result["questions"]:
        q["label"] = VERDICTS_KO[q["verdict"]]  # the Validate dialog's words, in the learner's language
    result["state_label"] = states.LABELS_KO.get(result["state"], result["state"])
    return {"ok": True, "result": result, "text": text}


def make_app(prefix: str, *, limits: Limits, command: list[str], env: dict, timeout: float = 600):
    """``POST <prefix>api/check`` with the notebook as the body and ``?name=<file name>``."""
    from jupyterhub.services.auth import HubOAuthenticated
    from tornado import web

    slots = asyncio.Semaphore(limits.workers)

    class CheckHandler(HubOAuthenticated, web.RequestHandler):
        def set_default_headers(self) -> None:
            self.set_header("Content-Type", "application/json; charset=utf-8")
            self.set_header("Cache-Control", "no-store")
            self.set_header("X-Content-Type-Options", "nosniff")

        def write_error(self, status_code: int, **kwargs) -> None:
            exc = kwargs.get("exc_info", (None, None))[1]
            message = exc.log_message if isinstance(exc, web.HTTPError) and exc.log_message else \
                {403: "제출 전 확인을 쓸 권한이 없습니다."}.get(status_code, "요청을 처리하지 못했습니다.")
            self.finish(json.dumps({"ok": False, "message": message}, ensure_ascii=False))

        @web.authenticated
        async def post(self) -> None:
            try:
                reply = await answer(self.request.body, self.get_argument("name", ""), self.current_user["name"],
                                     limits=limits, slots=slots, command=command, env=env, timeout=timeout)
            except Refused as exc:
                self.set_status(exc.status)
                if exc.retry_after:
                    self.set_header("Retry-After", str(exc.retry_after))
                reply = {"ok": False, "message": exc.message, "assessment": exc.assessment}
            self.finish(json.dumps(reply, ensure_ascii=False))

    return oauth_app(prefix, [("api/check", CheckHandler)])


def _limits_from_env() -> Limits:
    return Limits(workers=int(os.environ.get("POLICYLAB_PRECHECK_WORKERS", 1)),
                  queue=int(os.environ.get("POLICYLAB_PRECHECK_QUEUE", 10)),
                  cooldown=float(os.environ.get("POLICYLAB_PRECHECK_COOLDOWN", 10)))


def main() -> None:
    """Run as JupyterHub's managed service; the course comes from the hub's settings file."""
    from policylab.hub.settings import HubSettings

    logging.basicConfig(level=logging.INFO, format="[%(levelname)s %(asctime)s %(name)s] %(message)s")
    settings = HubSettings.load(Path(os.environ["POLICYLAB_HUB_SETTINGS"]))
    os.umask(0o002)  # what it writes in the course folder (draws, caches, attempts) stays the trainers' too
    env = {key: os.environ[key] for key in ("PATH", "HOME", "LANG", "LC_ALL", "PYTHONNOUSERSITE") if key in os.environ}
    env.update(POLICYLAB_ROOT=settings.course_root, POLICYLAB_DATASETS=settings.datasets,
               POLICYLAB_DB_URL=Path(settings.gradebook_url_file).read_text(encoding="utf-8").strip())
    prefix = os.environ.get("JUPYTERHUB_SERVICE_PREFIX", f"/services/{SERVICE_NAME}/")
    app = make_app(prefix, limits=_limits_from_env(), command=[str(Path(sys.executable).parent / "policylab")], env=env)
    serve(app, max_body_size=MAX_FILE + 2**20)


if __name__ == "__main__":
    main()
