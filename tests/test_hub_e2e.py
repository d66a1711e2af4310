"""The multi-user deployment end to end, on loopback: JupyterHub, nbgrader's exchange, PostgreSQL.

One hub per module (``deployment``), laid out by `policylab hub init` exactly as IT would, with
two real system users: a trainer and a learner (LocalProcessSpawner as root: the exchange's
guarantees are file modes, which only mean something between distinct users). The
authenticator is JupyterHub's DummyAuthenticator with one fixed password: PAM would need the
test to set system passwords, and login itself is not what is tested here.

The flow, each step through the interface its user has: the trainer releases m01 from
formgrader; the learner logs in in headless Chromium and sees m01 in JupyterLab's Assignments
tab, fetches it, runs the solution in a kernel of their own server (its memory is measured for
docs/deploy.md), saves and submits it; the trainer collects it in formgrader, grades it with
`policylab grade` (sandboxed) into the PostgreSQL gradebook and renders the reports. Then the trainer
releases the Korean feedback (`policylab release-feedback`, nbgrader's exchange) and the learner fetches
it with the request the Assignments tab's "Fetch Feedback" sends. Before that, the learner checks a
notebook with one wrong answer from JupyterLab's Validate button and reads the named mistake
(the check service, trainer-side). And the reports service is opened in
Chromium by each role: the learner their own report (403 for another's and the dashboard), a manager
(no Jupyter server) the dashboard (403 for any learner's report), the trainer the index.
Everything is stopped and removed at the end, also on failure; every wait is bounded.
"""
from __future__ import annotations

import asyncio
import grp
import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import nbformat
import pytest
import requests
from conftest import copy_course
from hub_harness import (
    ACCOUNT_PREFIX,
    REPO,
    RunningHub,
    SystemAccounts,
    group_exists,
    proxy_command,
    remove_stale_accounts,
    rss_tree,
    run_as,
    runtime_python,
    stop_stale_hubs,
)
from pg_server import create_database, free_port

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("hub")]

# Names carry this process's id: two test sessions on one machine never share accounts, and a crashed
# session's leftovers are recognised and removed by the next one (hub_harness.remove_stale_accounts).
TRAINER, LEARNER = f"{ACCOUNT_PREFIX}t{os.getpid()}", f"{ACCOUNT_PREFIX}l{os.getpid()}"
MANAGER, REPORTS_USER = f"{ACCOUNT_PREFIX}m{os.getpid()}", f"{ACCOUNT_PREFIX}r{os.getpid()}"
COURSE_GROUP, TRAINER_GROUP = f"{ACCOUNT_PREFIX}c{os.getpid()}", f"{ACCOUNT_PREFIX}g{os.getpid()}"
MANAGER_GROUP = f"{ACCOUNT_PREFIX}k{os.getpid()}"
CHECKS_USER = f"{ACCOUNT_PREFIX}x{os.getpid()}"
REPORTS = "/services/policylab-reports/"
# every chart whose inline script the page has was drawn (a CSP that blocked them would leave none)
CHARTS_DRAWN = ("document.readyState === 'complete' && [...document.scripts].filter(s => !s.src && "
                "s.text.includes('Plotly.newPlot')).length <= document.querySelectorAll('.js-plotly-plot').length")
PASSWORD = "policylab-e2e-" + uuid.uuid4().hex[:8]
MODULE = "m01"


@pytest.fixture(scope="module")
def deployment(pg_server):
    """`policylab hub init` + a running hub; yields a dict of what the tests need."""
    from policylab.course.build import build_exercises
    from policylab.hub.settings import HubSettings

    stop_stale_hubs()
    remove_stale_accounts()
    python = runtime_python()
    proxy = proxy_command()
    from policylab.hub.settings import answers_dir

    # `hub init` makes the installed package's answers folder trainers-only; here that package may be
    # this checkout (an editable install), so its owners and modes are put back at the end
    answers = answers_dir(python)
    answers_before = {p: p.lstat() for p in [answers, *answers.rglob("*")]}
    base = Path(tempfile.mkdtemp(prefix=f"policylab-hub-{os.getpid()}-"))
    os.chmod(base, 0o755)  # the test users' homes and the course live below it
    accounts = SystemAccounts([TRAINER, LEARNER, MANAGER, REPORTS_USER, CHECKS_USER],
                              [COURSE_GROUP, TRAINER_GROUP, MANAGER_GROUP],
                              base / "home")
    hub = None
    try:
        accounts.create()
        course = copy_course(base / "course", [MODULE])  # what IT checks out: config, sources, templates
        (course / "datasets").unlink()  # a copy, not a link into a checkout the test users may not reach
        shutil.copytree(REPO / "datasets", course / "datasets")
        shutil.copytree(REPO / "grading" / "reports", course / "grading" / "reports")
        shutil.copytree(REPO / "lab", course / "lab")
        build_exercises(root=course, modules=[MODULE])
        db_url = create_database(pg_server, "hubgradebook")
        # `policylab hub init`, the command IT runs (docs/deploy.md), with the test's ports and accounts
        init = subprocess.run(
            [str(Path(sys.executable).parent / "policylab"), "hub", "init", "--prefix", str(base / "srv"),
             "--exchange", str(base / "exchange"), "--course", str(course), "--db-url", db_url, "--python", python,
             "--trainer", TRAINER, "--learner", LEARNER, "--bind-url", f"http://127.0.0.1:{free_port()}",
             "--hub-port", str(free_port()), "--proxy-api-port", str(free_port()), "--proxy-command", proxy,
             "--authenticator", "dummy", "--course-group", COURSE_GROUP, "--trainer-group", TRAINER_GROUP,
             "--manager", MANAGER, "--manager-group", MANAGER_GROUP, "--reports-user", REPORTS_USER,
             "--reports-port", str(free_port()), "--checks-user", CHECKS_USER, "--precheck-port", str(free_port())],
            capture_output=True, text=True, timeout=300)
        assert init.returncode == 0, init.stdout + init.stderr
        settings_path = base / "srv" / "etc" / "policylab-hub.json"
        settings = HubSettings.load(settings_path)
        assert settings.course_root == str(course.resolve()) and settings.python == python
        hub = RunningHub(settings_path, PASSWORD, base / "jupyterhub.log").start()
        yield {"base": base, "settings": settings, "settings_path": settings_path, "hub": hub, "python": python,
               "db_url": db_url, "course": course}
    finally:
        if hub is not None:
            hub.stop()
            print("---- jupyterhub log (end) ----\n" + hub.tail(3000))
        for path, st in answers_before.items():
            if path.exists() and not path.is_symlink():
                os.chown(path, st.st_uid, st.st_gid)
                os.chmod(path, stat.S_IMODE(st.st_mode))
        accounts.remove()
        shutil.rmtree(base, ignore_errors=True)
        assert not accounts.leftovers(), accounts.leftovers()  # every server, kernel and grader ended
        assert not any(group_exists(g) for g in (COURSE_GROUP, TRAINER_GROUP, MANAGER_GROUP))


def _hub_client(deployment):
    from policylab.hub.check import HubClient

    token = Path(deployment["settings"].check_token_file).read_text().strip()
    return HubClient(deployment["hub"].url, token, timeout=60)


def test_hub_check_passes_on_the_laid_out_deployment(deployment):
    """`policylab hub check`, the command IT runs, against the running hub."""
    done = subprocess.run([str(Path(sys.executable).parent / "policylab"), "hub", "check", "--settings",
                           str(deployment["settings_path"]), "--trainer", TRAINER, "--learner", LEARNER,
                           "--manager", MANAGER],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr + deployment["hub"].tail()
    for name in ("exchange inbound", "answers trainers-only", "gradebook reachable", "formgrader: trainer", "formgrader: not for learners",
                 "formgrader: learner kept out", "course id consistent", "Korean interface",
                 "reports service answers", "reports: trainer", "reports: learner", "reports: manager",
                 "check service answers a learner"):
        assert f"OK   {name}" in done.stdout, done.stdout


def test_hub_check_fails_on_a_world_writable_exchange_and_a_dead_gradebook(deployment, tmp_path):
    """The checks can fail: a chmod o+w on outbound and a wrong gradebook URL are both caught."""
    from dataclasses import replace

    from policylab.hub.check import check_exchange, check_gradebook

    settings = deployment["settings"]
    outbound = Path(settings.exchange_root) / settings.course_id / "outbound"
    before = stat.S_IMODE(outbound.stat().st_mode)
    os.chmod(outbound, before | 0o002)
    try:
        failed = {c.name: c.detail for c in check_exchange(settings) if not c.ok}
    finally:
        os.chmod(outbound, before)
    assert "world-writable" in failed.get("exchange outbound", ""), failed
    assert all(c.ok for c in check_exchange(settings))
    from policylab.hub.check import check_answers_hidden
    from policylab.hub.settings import answers_dir

    truth = answers_dir(settings.python) / "truth.py"
    before = stat.S_IMODE(truth.stat().st_mode)
    os.chmod(truth, before | 0o004)
    try:
        hidden = check_answers_hidden(settings)
    finally:
        os.chmod(truth, before)
    assert not hidden.ok and "truth.py" in hidden.detail, hidden
    assert check_answers_hidden(settings).ok
    bad_url = tmp_path / "gradebook.url"
    bad_url.write_text(f"postgresql://policylab@127.0.0.1:{free_port()}/nothing\n")
    assert not check_gradebook(replace(settings, gradebook_url_file=str(bad_url))).ok


def _learner_sees_module_in_assignments_tab(hub_url: str, module: str) -> dict:
    """Headless Chromium: log in as the learner, open Nbgrader → Assignment List, wait for ``module``."""
    from test_browser import CHROMIUM_FLAGS, DevTools, find_chromium

    # the reports' flags (every host unresolvable, no network) with one exception: the hub on loopback
    flags = [f if not f.startswith("--host-resolver-rules=") else f + ", EXCLUDE 127.0.0.1" for f in CHROMIUM_FLAGS]
    profile = Path(tempfile.mkdtemp(prefix="policylab-hub-chromium-"))
    tools = DevTools(find_chromium(), profile, flags)
    try:
        target = tools.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = tools.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        tools.send("Page.enable", session=session)
        tools.send("Page.bringToFront", session=session)  # input events go to the front page
        tools.send("Emulation.setFocusEmulationEnabled", {"enabled": True}, session=session)
        tools.send("Runtime.enable", session=session)

        def js(expression: str):
            result = tools.send("Runtime.evaluate", {"expression": expression, "returnByValue": True},
                                session=session)
            return result.get("result", {}).get("value")

        def wait_for(expression: str, what: str, timeout: float = 60):
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                try:
                    value = js(expression)
                except RuntimeError:  # navigation in progress
                    value = None
                if value:
                    return value
                time.sleep(0.3)
            raise AssertionError(f"timed out waiting for {what}; page: {js('location.href')!r} "
                                 f"{(js('document.body && document.body.innerText') or '')[:500]!r}")

        def click(selector: str, what: str, kinds=("mouseMoved", "mousePressed", "mouseReleased")) -> None:
            """A real mouse click (Input.dispatchMouseEvent) in the middle of the element."""
            box = wait_for(f"""(() => {{ const e = document.querySelector({json.dumps(selector)});
                if (!e) return null; const r = e.getBoundingClientRect();
                return r.width ? {{x: r.x + r.width / 2, y: r.y + r.height / 2}} : null; }})()""", what)
            for kind in kinds:
                tools.send("Input.dispatchMouseEvent", {"type": kind, "x": box["x"], "y": box["y"],
                                                        "button": "left", "buttons": 1 if kind == "mousePressed" else 0,
                                                        "clickCount": 1}, session=session)
                time.sleep(0.1)

        tools.send("Page.navigate", {"url": f"{hub_url}/hub/login"}, session=session)
        wait_for("!!document.querySelector('input[name=username]')", "the login form")
        js(f"""document.querySelector('input[name=username]').value = {json.dumps(LEARNER)};
               document.querySelector('input[name=password]').value = {json.dumps(PASSWORD)};
               document.querySelector('form').submit();""")
        wait_for(f"location.pathname.startsWith('/user/{LEARNER}/lab')", "the learner's JupyterLab", timeout=120)
        wait_for("!!document.querySelector('#jp-main-dock-panel') && "
                 "[...document.querySelectorAll('.lm-MenuBar-itemLabel')].some(e => e.textContent === 'Nbgrader')",
                 "JupyterLab with the Nbgrader menu", timeout=90)
        menus = js("[...document.querySelectorAll('.lm-MenuBar-itemLabel')].map(e => e.textContent)")
        index = menus.index("Nbgrader")
        js("document.querySelectorAll('.jp-Notification-Toast-close, .jp-toast-button').forEach(b => b.click())")
        items = "Object.fromEntries([...document.querySelectorAll('.lm-Menu-item[data-command]')]" \
                ".map(e => [e.dataset.command, e.innerText.trim()]))"
        commands = None
        for _ in range(8):  # right after start-up, plugins may still be wiring the menu bar: click again
            click(f".lm-MenuBar-content > .lm-MenuBar-item:nth-child({index + 1})", "the Nbgrader menu")
            try:
                commands = wait_for(items, "the Nbgrader menu's items", timeout=3)
                break
            except AssertionError:
                tools.send("Input.dispatchKeyEvent", {"type": "keyDown", "key": "Escape"}, session=session)
                time.sleep(1)
        assert commands, "the Nbgrader menu never opened"
        click(".lm-Menu-item[data-command='nbgrader:open-assignment-list']", "Assignment List")
        # the panel's "Released assignments" list (an element under the widget, found by its heading)
        listed = wait_for(f"""(() => {{
                const panels = [...document.querySelectorAll('.lm-Widget')].filter(
                    e => e.innerText && e.innerText.startsWith('Released, downloaded, and submitted assignments'));
                const text = panels.length ? panels[panels.length - 1].innerText : '';
                const released = text.split('Downloaded assignments')[0];
                return released.includes('Released assignments') && released.includes({json.dumps(module)})
                    ? text : null; }})()""", f"{module} in the Assignments tab", timeout=60)
        page_config = js("JSON.parse(document.getElementById('jupyter-config-data').textContent)")
        return {"menus": menus, "commands": commands, "listed": listed, "page_config": page_config,
                "lang": js("document.documentElement.lang"), "body": js("document.body.innerText")}
    finally:
        tools.close()
        shutil.rmtree(profile, ignore_errors=True)


async def _execute(ws_url: str, token: str, sources: list[str], timeout: float = 120) -> list[dict]:
    """Run ``sources`` in a kernel over the server's websocket; the execute_reply contents, in order."""
    from tornado.httpclient import HTTPRequest
    from tornado.websocket import websocket_connect

    conn = await websocket_connect(HTTPRequest(ws_url, headers={"Authorization": f"token {token}"}))
    replies = []
    try:
        for source in sources:
            msg_id = uuid.uuid4().hex
            await conn.write_message(json.dumps({
                "header": {"msg_id": msg_id, "msg_type": "execute_request", "username": LEARNER,
                           "session": uuid.uuid4().hex, "version": "5.3", "date": ""},
                "parent_header": {}, "metadata": {}, "channel": "shell", "buffers": [],
                "content": {"code": source, "silent": False, "store_history": True, "user_expressions": {},
                            "allow_stdin": False, "stop_on_error": True}}))
            deadline = time.monotonic() + timeout
            while True:
                raw = await asyncio.wait_for(conn.read_message(), max(1, deadline - time.monotonic()))
                assert raw is not None, "the kernel's websocket closed"
                msg = json.loads(raw)
                if msg.get("parent_header", {}).get("msg_id") == msg_id and msg["msg_type"] == "execute_reply":
                    replies.append(msg["content"])
                    break
    finally:
        conn.close()
    return replies


def test_release_fetch_submit_collect_grade_and_report(deployment):
    from policylab.course.modules import get_module
    from policylab.demo.cohort import ModuleMaterial

    hub, settings, course = deployment["hub"], deployment["settings"], deployment["course"]
    client = _hub_client(deployment)
    for user in (TRAINER, LEARNER):
        client.ensure_server(user)
    token = {user: client.user_token(user) for user in (TRAINER, LEARNER)}
    auth = {user: {"Authorization": f"token {token[user]}"} for user in token}
    url = hub.url

    # 1. the trainer releases m01 from formgrader
    r = requests.post(f"{url}/user/{TRAINER}/formgrader/api/assignment/{MODULE}/release", headers=auth[TRAINER],
                      timeout=120)
    assert r.status_code == 200 and r.json().get("success"), r.text
    released = Path(settings.exchange_root) / settings.course_id / "outbound" / MODULE / f"{MODULE}.ipynb"
    assert released.is_file()
    # the learner can read the release but not the course (solutions, gradebook)
    assert run_as(LEARNER, ["/bin/cat", str(released)], env={}, cwd=Path("/")).returncode == 0
    assert run_as(LEARNER, ["/bin/ls", str(course / "solutions")], env={}, cwd=Path("/")).returncode != 0
    # nor the installed package's planted truth (the data lessons' answers): not by import, not by path
    from policylab.hub.settings import answers_dir

    truth = answers_dir(settings.python) / "truth.py"
    assert run_as(TRAINER, ["/bin/cat", str(truth)], env={}, cwd=Path("/")).returncode == 0
    assert run_as(LEARNER, ["/bin/cat", str(truth)], env={}, cwd=Path("/")).returncode != 0
    imported = run_as(LEARNER, [settings.python, "-c", "import policylab.data.synth.truth"], env={}, cwd=Path("/"))
    assert imported.returncode != 0 and ("PermissionError" in imported.stderr or "ModuleNotFoundError"
                                         in imported.stderr), imported.stderr

    # the learner's server holds only that learner's own draw of the exercise data (issue 14): their
    # folder is readable, the draws folder cannot be listed, another learner's folder cannot be read
    from policylab.hub.draws import prepare_draws

    draws = Path(settings.draws)
    prepare_draws(settings, [TRAINER])  # a second person's folder beside the learner's
    assert (draws / TRAINER / MODULE / "DRAW.json").is_file()
    own = run_as(LEARNER, ["/bin/cat", str(draws / LEARNER / MODULE / "DRAW.json")], env={}, cwd=Path("/"))
    assert own.returncode == 0 and json.loads(own.stdout)["learner"] == LEARNER, own.stderr
    assert run_as(LEARNER, ["/bin/ls", str(draws)], env={}, cwd=Path("/")).returncode != 0
    assert run_as(LEARNER, ["/bin/ls", str(draws / TRAINER)], env={}, cwd=Path("/")).returncode != 0
    assert not [p for p in draws.rglob("*") if "truth" in p.name], "the planted truth never sits in a learner's folder"

    # 2. the learner logs in (Chromium) and sees m01 in JupyterLab's Assignments tab
    seen = _learner_sees_module_in_assignments_tab(url, MODULE)
    assert seen["commands"].get("nbgrader:open-assignment-list"), seen["commands"]
    # no formgrader for learners: its plugins are off, so the menu's formgrader entries have no command behind them
    disabled = seen["page_config"].get("disabledExtensions", [])
    assert {"@jupyter/nbgrader:formgrader", "@jupyter/nbgrader:create-assignment"} <= set(disabled), disabled
    assert not seen["commands"].get("nbgrader:open-formgrader"), seen["commands"]
    assert not seen["commands"].get("nbgrader:open-create-assignment"), seen["commands"]
    assert MODULE in seen["listed"]
    assert seen["lang"].startswith("ko"), seen["lang"]  # the Korean language pack is the default

    # 3. fetch, fill in the solution, run it in the learner's own kernel, save, submit
    form = {"course_id": settings.course_id, "assignment_id": MODULE}
    r = requests.post(f"{url}/user/{LEARNER}/assignments/fetch", data=form, headers=auth[LEARNER], timeout=120)
    assert r.status_code == 200, r.text
    path = f"{MODULE}/{MODULE}.ipynb"
    r = requests.get(f"{url}/user/{LEARNER}/api/contents/{path}", headers=auth[LEARNER], timeout=60)
    assert r.status_code == 200, r.text
    fetched = nbformat.from_dict(r.json()["content"])
    material = ModuleMaterial(get_module(MODULE, course))
    filled = material.notebook(material.answers, "유료 주차장이 대부분이므로 요금 개편의 영향이 큽니다. 추가 분석이 필요합니다.")
    assert [c.get("id") for c in filled.cells] == [c.get("id") for c in fetched.cells]  # the same notebook

    server_pid = _server_pid(client, LEARNER)
    idle = rss_tree(server_pid)
    r = requests.post(f"{url}/user/{LEARNER}/api/kernels", json={"name": "python3"}, headers=auth[LEARNER],
                      timeout=60)
    assert r.status_code in (200, 201), r.text
    kernel = r.json()["id"]
    ws = url.replace("http://", "ws://") + f"/user/{LEARNER}/api/kernels/{kernel}/channels"
    code = [c.source for c in filled.cells if c.cell_type == "code"]
    started = time.monotonic()
    replies = asyncio.run(_execute(ws, token[LEARNER], code))
    wall = time.monotonic() - started
    assert [r_["status"] for r_ in replies] == ["ok"] * len(code), [r_ for r_ in replies if r_["status"] != "ok"]
    running = rss_tree(server_pid)
    _report_memory(idle, running, wall)
    assert 50_000 < idle["rss_kb"] < running["rss_kb"] < 1_500_000  # DESIGN §7: a lesson runs in under 1.5 GB
    requests.delete(f"{url}/user/{LEARNER}/api/kernels/{kernel}", headers=auth[LEARNER], timeout=60)

    r = requests.put(f"{url}/user/{LEARNER}/api/contents/{path}", headers=auth[LEARNER], timeout=60,
                     json={"type": "notebook", "format": "json", "content": json.loads(nbformat.writes(filled))})
    assert r.status_code == 200, r.text
    r = requests.post(f"{url}/user/{LEARNER}/assignments/submit", data=form, headers=auth[LEARNER], timeout=120)
    assert r.status_code == 200, r.text
    assert isinstance(r.json(), dict) is False or r.json().get("success") is not False, r.text  # a list on success
    inbound = Path(settings.exchange_root) / settings.course_id / "inbound"
    assert [p.name.split("+")[0] for p in inbound.iterdir()] == [LEARNER]
    # a learner cannot list inbound (nbgrader's -wx): nobody sees another's submission
    assert run_as(LEARNER, ["/bin/ls", str(inbound)], env={}, cwd=Path("/")).returncode != 0

    # 4. the trainer collects (formgrader), grades with `policylab grade`, renders the learner's report
    r = requests.post(f"{url}/user/{TRAINER}/formgrader/api/assignment/{MODULE}/collect", headers=auth[TRAINER],
                      timeout=120)
    assert r.status_code == 200 and r.json().get("success"), r.text
    submitted = course / "grading" / "submitted" / LEARNER / MODULE / f"{MODULE}.ipynb"
    assert submitted.is_file()
    # written by the trainer's server into the shared course folder: the trainers' group can replace it,
    # and whatever the trainer writes from that server (terminal, formgrader) is group-writable too
    assert submitted.stat().st_gid == grp.getgrnam(TRAINER_GROUP).gr_gid and submitted.stat().st_mode & 0o020
    umask = {user: _umask(_server_pid(client, user)) for user in (TRAINER, LEARNER)}
    assert umask == {TRAINER: 0o002, LEARNER: 0o022}, umask
    env = {"POLICYLAB_DB_URL": Path(settings.gradebook_url_file).read_text().strip(),
           "POLICYLAB_DATASETS": settings.datasets, "POLICYLAB_ROOT": str(course)}
    bindir = Path(deployment["python"]).parent
    # from the trainer's terminal on the hub, whose umask is 002 (jupyterhub_config.py): the caches it makes
    # in the shared course folder stay writable by the other trainers and the check service
    graded = run_as(TRAINER, [str(bindir / "policylab"), "grade", MODULE, "--workers", "1"], env=env, cwd=course,
                    timeout=600, umask=0o002)
    assert graded.returncode == 0, graded.stdout + graded.stderr
    record = json.loads((course / "grading" / "states" / MODULE / f"{LEARNER}.json").read_text())
    assert record["state"] == "graded", record
    assert record["auto_score"] == record["auto_max"] > 0, record
    assert record.get("sandbox", True), record  # graded in the sandbox, not with --no-sandbox

    from sqlalchemy import create_engine, text

    engine = create_engine(deployment["db_url"])
    try:
        with engine.connect() as conn:
            score = conn.execute(text(
                "SELECT SUM(g.auto_score) FROM grade g JOIN submitted_notebook n ON g.notebook_id = n.id "
                "JOIN submitted_assignment a ON n.assignment_id = a.id JOIN student s ON a.student_id = s.id "
                "WHERE s.id = :learner"), {"learner": LEARNER}).scalar()
    finally:
        engine.dispose()
    assert score == record["auto_score"]  # the PostgreSQL gradebook holds the same score

    # The report is rendered by this test's own python (the project's .venv, as root): on this machine the
    # users' runtime is Debian's python3.11 (3.11.2), on which soupsieve, and so nbconvert's HTML export,
    # fails to parse CSS selectors (docs/deploy.md: use CPython >= 3.11.7 for the course environment).
    from policylab.pipeline import render_from_gradebook

    os.environ.update(env)
    try:
        # every learner (the only one), so the dashboard and the index too: the reports service serves them
        summary = render_from_gradebook(root=course, workers=1, progress=False)
    finally:
        for key in env:
            os.environ.pop(key, None)
    assert not summary.failed, [r.error for r in summary.failed]
    page = (course / "grading" / "out" / "learners" / f"{LEARNER}.html").read_text(encoding="utf-8")
    assert LEARNER in page and "보고서" in page


def test_learner_checks_before_submitting_in_the_browser(deployment):
    """Issue 21: the learner's Validate button (nbgrader's lab plugin, answered by policylab.hub.learner_check)
    sends the notebook to the check service, which grades it trainer-side on the learner's draw: the
    dialog names the one wrong answer's mistake; the attempt is recorded; the submission is untouched."""
    from hub_browser import HubBrowser

    from policylab.course.modules import get_module
    from policylab.demo.cohort import ModuleMaterial
    from policylab.grading.bank import load_bank

    hub, course = deployment["hub"], deployment["course"]
    client = _hub_client(deployment)
    client.ensure_server(LEARNER)
    auth = {"Authorization": f"token {client.user_token(LEARNER)}"}
    module = get_module(MODULE, course)
    material = ModuleMaterial(module)
    mistake = next(m for m in load_bank(module.misconceptions, lesson=module.lesson.name)
                   if m.id == "size-instead-of-rows")
    wrong = material.notebook({**material.answers, mistake.cell: mistake.code}, "요금 개편의 영향이 큽니다.")
    r = requests.put(f"{hub.url}/user/{LEARNER}/api/contents/check", headers=auth, json={"type": "directory"},
                     timeout=60)
    assert r.status_code in (200, 201), r.text
    r = requests.put(f"{hub.url}/user/{LEARNER}/api/contents/check/{MODULE}.ipynb", headers=auth, timeout=60,
                     json={"type": "notebook", "format": "json", "content": json.loads(nbformat.writes(wrong))})
    assert r.status_code in (200, 201), r.text
    submitted = course / "grading" / "submitted" / LEARNER / MODULE / f"{MODULE}.ipynb"
    before = submitted.read_bytes() if submitted.is_file() else None
    validate = ("[...document.querySelectorAll('.jp-NotebookPanel-toolbar .jp-ToolbarButtonComponent-label')]"
                ".find(e => e.innerText.trim() === 'Validate')")
    with HubBrowser(hub.url) as learner:
        learner.login(LEARNER, PASSWORD, next_path=f"/user/{LEARNER}/lab/tree/check/{MODULE}.ipynb")
        learner.wait_for(f"!!({validate})", "the notebook's Validate button", timeout=120)
        started = time.monotonic()
        learner.js(f"({validate}).closest('jp-button, button').click()")
        message = learner.wait_for("document.querySelector('#validation-message') && "
                                   "document.querySelector('#validation-message').innerText",
                                   "the check's answer", timeout=300)
        waited = time.monotonic() - started
        # asking again at once is refused with the cool-down, in Korean, with Retry-After
        service = f"{hub.url}/services/policylab-precheck/api/check"
        service_auth = {"Authorization": "token " + client.user_token(
            LEARNER, scopes=[f"access:servers!user={LEARNER}", "access:services!service=policylab-precheck"])}
        again = requests.post(service, params={"name": f"{MODULE}.ipynb"}, data=nbformat.writes(wrong),
                              headers=service_auth, timeout=60)
    print(f"\nCHECK from the Validate button to the answer: {waited:.1f} s")
    assert mistake.description.strip() in message, message      # the mistake, named
    assert mistake.cell.split("_")[0] in message and "틀렸습니다" in message, message
    assert "문제 중" in message and "성적에 기록되지 않습니다" in message, message
    attempts = [json.loads(line) for line in
                (course / "grading" / "checks" / MODULE / f"{LEARNER}.jsonl").read_text().splitlines()]
    assert attempts[-1]["questions"]["q1_tests"] == {"verdict": "named", "misconception": mistake.id}, attempts
    assert (submitted.read_bytes() if submitted.is_file() else None) == before  # the submission flow untouched

    assert again.status_code == 429 and "다시 확인하세요" in again.json()["message"], again.text
    assert again.headers.get("Retry-After"), again.headers
    # not without a login; and only notebooks, by a plain name
    r = requests.post(service, params={"name": f"{MODULE}.ipynb"}, data=nbformat.writes(wrong), timeout=60)
    assert r.status_code == 403 or "/hub/login" in r.url, (r.status_code, r.url)
    r = requests.post(service, params={"name": f"{MODULE}.ipynb"}, data=b"{}", headers=auth, timeout=60)
    assert r.status_code == 403, r.text  # a token of the learner's without the service's scope
    r = requests.post(service, params={"name": f"{MODULE}.html"}, data=b"{}", headers=service_auth, timeout=60)
    assert r.status_code == 400 and "노트북 파일 이름" in r.json()["message"], r.text


def test_feedback_released_and_reports_served_per_role(deployment):
    """After grading: the trainer releases the Korean feedback through nbgrader's exchange and the
    learner fetches it; the reports service shows each role its own pages (headless Chromium)."""
    from hub_browser import HubBrowser

    from policylab.grading.feedback import write_feedback

    hub, settings, course = deployment["hub"], deployment["settings"], deployment["course"]
    out = course / "grading" / "out"
    if not (out / "learners" / f"{LEARNER}.html").is_file():
        pytest.skip("needs the graded submission and report of test_release_fetch_submit_collect_grade_and_report")
    client = _hub_client(deployment)
    env = {"POLICYLAB_DB_URL": Path(settings.gradebook_url_file).read_text().strip(),
           "POLICYLAB_DATASETS": settings.datasets, "POLICYLAB_ROOT": str(course)}

    # 1. `policylab feedback` (in this test's python, as for the reports: Debian's 3.11.2 breaks nbconvert's
    # HTML export) and the trainer's umask 002, then `policylab release-feedback` as the trainer, in the
    # environment the trainer's server gives its terminal (the trainers' Jupyter config folder)
    os.environ.update(env)
    try:
        written = write_feedback(MODULE, root=course, learners=[LEARNER])
    finally:
        for key in env:
            os.environ.pop(key, None)
    assert LEARNER in written.written and not written.withheld, written
    for path in (course / "grading" / "feedback").rglob("*"):
        os.chmod(path, path.stat().st_mode | 0o020)
    bindir = Path(deployment["python"]).parent
    released = run_as(TRAINER, [str(bindir / "policylab"), "release-feedback", MODULE],
                      env={**env, "JUPYTER_CONFIG_PATH": settings.config_dirs["trainer"]}, cwd=course)
    assert released.returncode == 0, released.stdout + released.stderr
    exchange_feedback = Path(settings.exchange_root) / settings.course_id / "feedback"
    pages = list(exchange_feedback.iterdir())
    ours = (course / "grading" / "feedback" / LEARNER / MODULE / f"{MODULE}.html").read_bytes()
    assert len(pages) == 1 and pages[0].read_bytes() == ours  # PolicyLab's Korean page, not nbgrader's
    assert stat.S_IMODE(exchange_feedback.stat().st_mode) == 0o2771
    assert stat.S_IMODE(pages[0].stat().st_mode) == 0o644
    # the folder is not listable: a learner finds only the name their own submission secret hashes to
    assert run_as(LEARNER, ["/bin/ls", str(exchange_feedback)], env={}, cwd=Path("/")).returncode != 0

    # 2. the learner fetches it: the request the Assignments tab's "Fetch Feedback" button sends
    client.ensure_server(LEARNER)
    auth = {"Authorization": f"token {client.user_token(LEARNER)}"}
    form = {"course_id": settings.course_id, "assignment_id": MODULE}
    r = requests.get(f"{hub.url}/user/{LEARNER}/assignments", params={"course_id": settings.course_id},
                     headers=auth, timeout=120)
    listed = [a for a in r.json()["value"] if a["assignment_id"] == MODULE and a["status"] == "submitted"]
    assert listed and any(s_.get("has_exchange_feedback") for s_ in listed[0]["submissions"]), r.text
    r = requests.post(f"{hub.url}/user/{LEARNER}/assignments/fetch_feedback", data=form, headers=auth, timeout=120)
    assert r.status_code == 200, r.text
    r = requests.get(f"{hub.url}/user/{LEARNER}/api/contents/{MODULE}/feedback", headers=auth, timeout=60)
    assert r.status_code == 200, r.text
    stamp = r.json()["content"][0]["name"]
    r = requests.get(f"{hub.url}/user/{LEARNER}/api/contents/{MODULE}/feedback/{stamp}/{MODULE}.html",
                     headers=auth, timeout=60)
    assert r.status_code == 200 and r.json()["content"].encode() == ours, r.text[:300]
    assert "피드백" in r.json()["content"] and 'lang="ko"' in r.json()["content"]

    # 3. the reports service, each role in its own browser
    other = f"{REPORTS}learners/{TRAINER}.html"  # a report that is not the learner's (403 before any lookup)
    with HubBrowser(hub.url) as learner:
        learner.login(LEARNER, PASSWORD, next_path=REPORTS)
        learner.wait_for(f"location.pathname === '{REPORTS}learners/{LEARNER}.html' && {CHARTS_DRAWN} && "
                         "document.querySelectorAll('.js-plotly-plot .main-svg').length > 0",
                         "the learner's own report with its charts drawn", timeout=90)
        own = learner.status(f"{REPORTS}learners/{LEARNER}.html")
        assert own["status"] == 200 and "script-src 'self' 'sha256-" in own["csp"], own
        assert "default-src 'self'" in own["csp"] and "unsafe-inline" not in own["csp"].split("script-src")[1]
        assert learner.status(f"{REPORTS}plotly.min.js")["status"] == 200
        for path in (other, f"{REPORTS}dashboard.html", f"{REPORTS}index.html", f"{REPORTS}items.html",
                     f"{REPORTS}learners/{LEARNER}.ipynb"):
            assert learner.status(path)["status"] == 403, path
        assert not learner.csp_violations(), learner.csp_violations()
    with HubBrowser(hub.url) as manager:
        manager.login(MANAGER, PASSWORD)  # no ?next=: the hub's default URL sends a manager to the service
        manager.wait_for(f"location.pathname === '{REPORTS}dashboard.html' && {CHARTS_DRAWN}",
                         "the dashboard with its charts drawn", timeout=90)
        assert manager.status(f"{REPORTS}dashboard.html")["status"] == 200
        for path in (f"{REPORTS}learners/{LEARNER}.html", f"{REPORTS}index.html", f"{REPORTS}items.html"):
            assert manager.status(path)["status"] == 403, path
        assert not manager.csp_violations(), manager.csp_violations()
    # no Jupyter server of their own: the hub refuses to start one
    r = client.session.post(f"{hub.url}/hub/api/users/{MANAGER}/server", timeout=60)
    assert r.status_code >= 400, r.text
    assert not client.api("GET", f"/users/{MANAGER}").get("servers", {}).get("", {}).get("ready"), r.text
    with HubBrowser(hub.url) as trainer:
        trainer.login(TRAINER, PASSWORD, next_path=REPORTS)
        trainer.wait_for(f"location.pathname === '{REPORTS}index.html' && "
                         f"document.body.innerText.includes({json.dumps(LEARNER)})", "the index", timeout=90)
        trainer.js(f"document.querySelector('a[href=\"learners/{LEARNER}.html\"]').click()")
        trainer.wait_for(f"location.pathname === '{REPORTS}learners/{LEARNER}.html'", "a learner's report via the index")
        for path in (f"{REPORTS}dashboard.html", f"{REPORTS}learners/{LEARNER}.html"):
            assert trainer.status(path)["status"] == 200, path
        assert not trainer.csp_violations(), trainer.csp_violations()


def _umask(pid: int) -> int:
    line = next(l for l in Path(f"/proc/{pid}/status").read_text().splitlines() if l.startswith("Umask:"))
    return int(line.split()[1], 8)


def _server_pid(client, user: str) -> int:
    model = client.api("GET", f"/users/{user}")
    pid = model["servers"][""]["state"].get("pid") if "state" in model["servers"][""] else None
    if pid:
        return int(pid)
    # the hub's list has no state without admin scopes: find the user's jupyterhub.singleuser process
    from hub_harness import SystemAccounts

    for candidate in SystemAccounts.pids_of(user):
        try:
            cmdline = Path(f"/proc/{candidate}/cmdline").read_bytes().split(b"\0")
        except FileNotFoundError:
            continue
        if b"jupyterhub.singleuser" in cmdline:
            return candidate
    raise AssertionError(f"no single-user server process for {user}")


def _report_memory(idle: dict, running: dict, wall: float) -> None:
    """Print the figures docs/deploy.md quotes (run with -s to see them)."""
    mb = lambda kb: kb / 1024  # noqa: E731
    print(f"\nMEMORY single-user server idle: RSS {mb(idle['rss_kb']):.0f} MB, PSS {mb(idle['pss_kb']):.0f} MB "
          f"({len(idle['pids'])} processes)")
    print(f"MEMORY with the m01 solution run in a kernel: RSS {mb(running['rss_kb']):.0f} MB, "
          f"PSS {mb(running['pss_kb']):.0f} MB ({len(running['pids'])} processes)")
    print(f"CPU for the kernel start and every code cell of m01: {running['cpu_s'] - idle['cpu_s']:.1f} "
          f"CPU-s for server + kernel, {wall:.1f} s wall")
    per_learner = running["rss_kb"] / 1024
    print(f"MEMORY 16 GB server, 2 GB kept for the system, hub and PostgreSQL: "
          f"{int((16 - 2) * 1024 // per_learner)} learners running m01 at once (by RSS)")
