"""The learner's Validate button asks the hub's check service (issue 21), in place of nbgrader's validate.

A Jupyter server extension, on in the learner's Jupyter config (``policylab hub init``) with nbgrader's
own ``validate_assignment`` extension off: nbgrader's lab plugin keeps its Validate buttons (notebook
toolbar, Assignments tab) and posts to ``/assignments/validate`` as before, and this handler answers.
It reads the learner's own notebook (never a link, never outside the server's root) and sends it to
:mod:`policylab.hub.precheck_service` with the server's own hub token, so the check runs trainer-side:
this server holds no hidden test, reference or key. The answer is put in the shape nbgrader's dialog
shows (``failed`` cells, one per question not right); the dialog writes ``error`` as HTML, so every
text is escaped here. It imports nothing of the grading code: the learner's server needs none.
In assessment mode the service refuses, and nbgrader's own format check runs.
"""
from __future__ import annotations

import html
import json
import os
from pathlib import Path

MAX_FILE = 50 * 1024 * 1024  # the service's own bound (policylab.grading.collect.MAX_FILE); imports kept out


def validate_reply(answer: dict) -> dict:
    """The service's answer as nbgrader's ``/assignments/validate`` reply (what its dialog renders)."""
    if not answer.get("ok"):
        return {"success": False, "value": answer.get("message") or "확인하지 못했습니다."}
    result = answer["result"]
    wrong = [q for q in result["questions"] if q["verdict"] != "right"]
    if not wrong and result["state"] == "graded":
        return {"success": True, "value": {}}  # nbgrader's "Success! Your notebook passes all the tests."
    total, right = len(result["questions"]), len(result["questions"]) - len(wrong)
    summary = f"{total}문제 중 {right}문제를 맞았습니다 ({result['attempt']}번째 확인"
    summary += f", 남은 확인 {result['remaining']}번). " if result.get("remaining") is not None else "). "
    summary += "이 확인은 성적에 기록되지 않습니다."
    failed = []
    if result["state"] != "graded" or not wrong:
        failed.append({"source": f"{result['module']}: {result.get('state_label') or result['state']}",
                       "error": html.escape(result.get("reason") or "")})
    for q in wrong:
        label = f"{q['grade_id']} {q['title']}".strip()
        failed.append({"source": f"{label}: {q['label']}", "error": html.escape(q.get("text") or "")})
    failed[0]["error"] = html.escape(summary) + "<br>" + failed[0]["error"]
    return {"success": True, "value": {"failed": failed}}


def _format_check(path: Path) -> dict:
    """Assessment mode: nbgrader's own validate (what the button did before this extension)."""
    from jupyter_core.paths import jupyter_config_path
    from nbgrader.apps import NbGrader
    from nbgrader.validator import Validator

    try:
        app = NbGrader()
        app.config_file_paths.append(jupyter_config_path())
        app.load_config_file()
        return {"success": True, "value": Validator(config=app.config).validate(str(path))}
    except Exception as exc:  # noqa: BLE001 - the dialog shows it; the server goes on
        return {"success": False, "value": f"{path.name}: 형식을 확인하지 못했습니다 ({type(exc).__name__})."}


def _load_jupyter_server_extension(serverapp) -> None:
    import requests
    from jupyter_server.base.handlers import JupyterHandler
    from jupyter_server.utils import url_path_join
    from nbgrader import __version__ as nbgrader_version
    from tornado import web
    from tornado.ioloop import IOLoop

    root = Path(serverapp.root_dir).resolve()
    service = os.environ.get("POLICYLAB_PRECHECK_URL", "")
    token = os.environ.get("JUPYTERHUB_API_TOKEN", "")

    def ask(body: bytes, name: str) -> dict:
        try:
            r = requests.post(f"{service.rstrip('/')}/api/check", params={"name": name}, data=body, timeout=900,
                              headers={"Authorization": f"token {token}", "Content-Type": "application/x-ipynb+json"})
            return r.json()
        except (requests.RequestException, ValueError):
            return {"ok": False, "message": "확인 서비스에 연결하지 못했습니다. 잠시 뒤에 다시 확인하거나 강사에게 알려 주세요."}

    class ValidateHandler(JupyterHandler):
        @web.authenticated
        async def post(self) -> None:
            path = self.get_argument("path", None) or (self.get_json_body() or {}).get("path", "")
            target = root / path
            if target.is_symlink() or not target.resolve().is_relative_to(root) or not target.is_file():
                return self.finish(json.dumps({"success": False, "value": f"{path}: 확인할 수 없는 파일입니다 (링크이거나 없는 파일)."},
                                              ensure_ascii=False))
            if target.stat().st_size > MAX_FILE:
                return self.finish(json.dumps({"success": False, "value": f"{path}: 노트북이 너무 큽니다."}, ensure_ascii=False))
            answer = await IOLoop.current().run_in_executor(None, ask, target.read_bytes(), target.name)
            reply = _format_check(target) if answer.get("assessment") else validate_reply(answer)
            self.finish(json.dumps(reply, ensure_ascii=False))

    class VersionHandler(JupyterHandler):
        @web.authenticated
        def get(self) -> None:  # the lab plugin's check before it saves and validates
            ok = self.get_argument("version", "") == nbgrader_version
            self.finish(json.dumps({"success": ok, "message": "" if ok else "nbgrader 버전이 맞지 않습니다."}))

    base = serverapp.web_app.settings["base_url"]
    serverapp.web_app.add_handlers(".*$", [(url_path_join(base, "assignments/validate"), ValidateHandler),
                                           (url_path_join(base, "nbgrader_version"), VersionHandler)])


def _jupyter_server_extension_points() -> list[dict]:
    return [{"module": "policylab.hub.learner_check"}]
