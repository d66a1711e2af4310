"""The dashboard and a learner report in headless Chromium: charts drawn, no console errors, offline.

Chromium is Debian's ``chromium`` package, installed here with apt-get when missing. It is
driven over the DevTools protocol on a pipe (``--remote-debugging-pipe``: no port, no extra
Python package), with the network emulated offline and every host name unresolvable; the
test fails if the page asks for anything that is not a local file.
"""
from __future__ import annotations

import json
import os
import queue
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from test_reports_snapshot import make_course_root, shared, write_snapshot

from policylab.reports import render as rn

pytestmark = pytest.mark.xdist_group("browser")  # one browser and one batch for the module
LEARNER = "learner-009"
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--no-default-browser-check",
    "--disable-extensions", "--disable-default-apps", "--mute-audio", "--window-size=1280,2000",
    "--host-resolver-rules=MAP * ~NOTFOUND", "--proxy-server=http://127.0.0.1:9",
    "--remote-debugging-pipe",
]


def find_chromium() -> str:
    for name in ("chromium", "chromium-browser"):
        if shutil.which(name):
            return shutil.which(name)
    if not sys.platform.startswith("linux") or not shutil.which("apt-get"):
        pytest.skip("the browser test needs Debian's chromium package (apt-get install chromium)")
    if os.geteuid() != 0:
        pytest.fail("chromium is missing and apt-get needs root: run `sudo apt-get install -y chromium`")
    from debian_packages import (
        apt_install,  # one apt-get at a time across xdist workers (the hub test needs it too)
    )

    install = apt_install("chromium")
    path = shutil.which("chromium")
    if not path:
        pytest.fail(f"installing chromium failed:\n{install.stdout[-2000:]}\n{install.stderr[-2000:]}")
    return path


class DevTools:
    """A minimal Chrome DevTools Protocol client over --remote-debugging-pipe (fds 3 and 4)."""

    def __init__(self, binary: str, profile: Path, flags: list[str] | None = None):
        to_browser_r, self._to_browser = os.pipe()
        self._from_browser, from_browser_w = os.pipe()

        def wire():  # in the child: the browser reads commands on 3 and writes replies on 4
            commands, replies = os.dup(to_browser_r), os.dup(from_browser_w)  # neither can be clobbered
            os.dup2(commands, 3)
            os.dup2(replies, 4)
            os.set_inheritable(3, True)  # dup2 onto the same number keeps close-on-exec
            os.set_inheritable(4, True)

        self.proc = subprocess.Popen(
            [binary, *(CHROMIUM_FLAGS if flags is None else flags), f"--user-data-dir={profile}", "about:blank"],
            preexec_fn=wire, close_fds=False, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )
        os.close(to_browser_r)
        os.close(from_browser_w)
        self._next = 0
        self._replies: dict[int, dict] = {}
        self.events: "queue.Queue[dict]" = queue.Queue()
        self._lock = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        buffer = b""
        while True:
            chunk = os.read(self._from_browser, 1 << 16)
            if not chunk:
                return
            buffer += chunk
            while b"\0" in buffer:
                raw, buffer = buffer.split(b"\0", 1)
                message = json.loads(raw)
                if "id" in message:
                    with self._lock:
                        self._replies[message["id"]] = message
                        self._lock.notify_all()
                else:
                    self.events.put(message)

    def send(self, method: str, params: dict | None = None, session: str | None = None, timeout: float = 30) -> dict:
        self._next += 1
        message = {"id": self._next, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self._to_browser, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + timeout
        with self._lock:
            while self._next not in self._replies:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"no reply to {method}")
                self._lock.wait(left)
            reply = self._replies.pop(self._next)
        if "error" in reply:
            raise RuntimeError(f"{method}: {reply['error']}")
        return reply.get("result", {})

    def close(self) -> None:
        try:
            self.send("Browser.close", timeout=5)
        except Exception:  # noqa: BLE001 - fall back to terminating it
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self._to_browser)


def open_page(tools: DevTools, url: str, charts: int, timeout: float = 30) -> dict:
    """Load ``url`` offline; wait until ``charts`` plotly charts have drawn; return what happened."""
    target = tools.send("Target.createTarget", {"url": "about:blank"})["targetId"]
    session = tools.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
    for domain in ("Page", "Runtime", "Log", "Network"):
        tools.send(f"{domain}.enable", session=session)
    tools.send("Network.emulateNetworkConditions", {"offline": True, "latency": 0, "downloadThroughput": -1,
                                                    "uploadThroughput": -1}, session=session)
    tools.send("Page.navigate", {"url": url}, session=session)
    check = f"""(() => {{
        const divs = [...document.querySelectorAll('.plotly-graph-div')];
        return JSON.stringify({{
            ready: document.readyState,
            plotly: typeof window.Plotly === 'object' && typeof Plotly.newPlot === 'function',
            charts: divs.map(d => ({{
                id: d.id,
                drawn: !!d.querySelector('svg.main-svg') && !!d._fullLayout,
                traces: (d._fullData || []).length,
                marks: d.querySelectorAll('.cartesianlayer .trace, .cartesianlayer .hm, .annotation').length,
            }})),
            korean: document.body.innerText.includes('보고서') || document.body.innerText.includes('대시보드'),
            text: document.body.innerText.slice(0, 20000),
            pwned: typeof window.__pwned !== 'undefined' || document.title === 'pwned',
        }});
    }})()"""
    deadline = time.monotonic() + timeout
    while True:
        result = tools.send("Runtime.evaluate", {"expression": check, "returnByValue": True}, session=session)
        if "value" in result.get("result", {}):  # before the body exists the check itself throws
            state = json.loads(result["result"]["value"])
            if state["ready"] == "complete" and sum(c["drawn"] for c in state["charts"]) >= charts:
                break
        if time.monotonic() > deadline:
            if "value" not in result.get("result", {}):
                raise AssertionError(f"{url} never became readable: {result}")
            break
        time.sleep(0.2)
    time.sleep(0.5)  # let late console messages arrive
    errors, requests = [], []
    while not tools.events.empty():
        event = tools.events.get()
        if event.get("sessionId") != session:
            continue
        method, params = event["method"], event.get("params", {})
        if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            errors.append("console: " + " ".join(str(a.get("value", a.get("description", ""))) for a in params["args"]))
        elif method == "Runtime.exceptionThrown":
            details = params["exceptionDetails"]
            errors.append("exception: " + details.get("exception", {}).get("description", details.get("text", "")))
        elif method == "Log.entryAdded" and params["entry"]["level"] == "error":
            errors.append(f"log: {params['entry']['text']} {params['entry'].get('url', '')}")
        elif method == "Network.requestWillBeSent":
            requests.append(params["request"]["url"])
    tools.send("Target.closeTarget", {"targetId": target})
    return {**state, "errors": errors, "requests": requests}


@pytest.fixture()
def rendered(tmp_path_factory):
    """The dashboard and one learner's report, rendered once per test session."""
    def build(base):
        root = make_course_root(base / "course")
        snapshot = write_snapshot(base / "data")
        summary = rn.render_reports(root=root, snapshot_dir=snapshot, learners=[LEARNER], dashboard=True,
                                    workers=2, progress=False)
        assert not summary.failed, [r.error for r in summary.failed]
        return summary.out_dir

    return shared(tmp_path_factory, "browser-reports", build)


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    binary = find_chromium()
    tools = DevTools(binary, tmp_path_factory.mktemp("chromium-profile"))
    yield tools
    tools.close()


def template_charts(name: str) -> int:
    import re

    import nbformat
    from test_reports_snapshot import REPO

    nb = nbformat.read(REPO / "grading" / "reports" / name, as_version=4)
    return len(re.findall(r"show_chart\(", "\n".join(c.source for c in nb.cells if c.cell_type == "code")))


@pytest.mark.parametrize("page, template", [("dashboard.html", "dashboard.ipynb"),
                                            (f"learners/{LEARNER}.html", "learner_report.ipynb")])
def test_report_draws_its_charts_offline_without_console_errors(rendered, browser, page, template):
    expected = template_charts(template)
    state = open_page(browser, (rendered / page).as_uri(), expected)
    assert state["plotly"], "plotly.js did not load from the local file"
    assert len(state["charts"]) == expected, state["charts"]
    assert all(c["drawn"] and c["traces"] > 0 and c["marks"] > 0 for c in state["charts"]), state["charts"]
    assert state["korean"]
    assert not state["errors"], state["errors"]
    remote = [u for u in state["requests"] if not u.startswith(("file:", "data:", "blob:", "about:"))]
    assert not remote, remote


HOSTILE = ('<img src=x onerror="window.__pwned=1"><script>window.__pwned=1</script>'
           '[근거](javascript:window.__pwned=1) <svg onload="window.__pwned=1"></svg>')


@pytest.fixture()
def hostile_report(tmp_path_factory):
    """A learner's report whose snapshot holds hostile strings: a trainer comment and the learner's name."""
    import pandas as pd

    def build(base):
        root = make_course_root(base / "course")
        snapshot = write_snapshot(base / "data")
        comments = pd.read_csv(snapshot / "comments.csv", dtype=str)
        row = {"learner_id": LEARNER, "module": "m01", "question": "q1", "comment": "좋습니다. " + HOSTILE}
        pd.concat([comments, pd.DataFrame([row])]).to_csv(snapshot / "comments.csv", index=False)
        roster = pd.read_csv(snapshot / "roster.csv", dtype=str)
        roster.loc[roster["learner_id"] == LEARNER, "name"] = "홍길동" + HOSTILE
        roster.to_csv(snapshot / "roster.csv", index=False)
        summary = rn.render_reports(root=root, snapshot_dir=snapshot, learners=[LEARNER], dashboard=False,
                                    workers=1, progress=False)
        assert not summary.failed, [r.error for r in summary.failed]
        return summary.out_dir

    return shared(tmp_path_factory, "browser-hostile-report", build)


def test_hostile_strings_in_a_report_run_nothing_and_charts_still_draw(hostile_report, browser):
    page = hostile_report / "learners" / f"{LEARNER}.html"
    assert 'href="javascript:' not in page.read_text(encoding="utf-8")
    expected = template_charts("learner_report.ipynb")
    state = open_page(browser, page.as_uri(), expected)
    assert not state["pwned"], "a hostile string in the snapshot ran script in the report"
    assert "좋습니다." in state["text"] and "홍길동" in state["text"]
    assert len(state["charts"]) == expected and all(c["drawn"] for c in state["charts"]), state["charts"]


@pytest.fixture()
def hostile_feedback(tmp_path_factory):
    """Feedback pages for the page attacks (tests/test_page_attacks.py's batch, shared when both run)."""
    from test_page_attacks import _grade_and_render

    from attacks.course import run_once

    return Path(run_once("page-attacks", tmp_path_factory, _grade_and_render)["root"])


@pytest.mark.parametrize("attack", ["html_script_output", "event_handler_output", "javascript_output"])
def test_hostile_output_runs_nothing_in_a_feedback_page(hostile_feedback, browser, attack):
    page = hostile_feedback / "grading" / "feedback" / attack / "m01" / "m01.html"
    state = open_page(browser, page.as_uri(), charts=0, timeout=10)
    assert not state["pwned"], f"{attack} ran script in the learner's feedback page"
    assert "채점 결과" in state["text"] and "학습자 답안" in state["text"]
    remote = [u for u in state["requests"] if not u.startswith(("file:", "data:", "blob:", "about:"))]
    assert not remote, remote


def test_the_browser_check_sees_a_hostile_output_run(browser, tmp_path):
    """The checks above can fail: the same payloads, unsanitized, do run."""
    page = tmp_path / "live.html"
    page.write_text('<!DOCTYPE html><html><head><meta charset="utf-8"></head><body><p>채점 결과</p>'
                    '<img src=x onerror="window.__pwned=1"></body></html>', encoding="utf-8")
    assert open_page(browser, page.as_uri(), charts=0, timeout=5)["pwned"]


def test_the_browser_check_sees_errors_and_network_requests(browser, tmp_path):
    """The check above would catch a broken page: a console error, an exception, a CDN script."""
    page = tmp_path / "broken.html"
    page.write_text('<!DOCTYPE html><html><head><meta charset="utf-8">'
                    '<script src="https://cdn.plot.ly/plotly-3.0.1.min.js"></script></head>'
                    '<body><p>보고서</p><script>console.error("그림 오류"); Plotly.newPlot("x", []);</script>'
                    '</body></html>', encoding="utf-8")
    state = open_page(browser, page.as_uri(), charts=0, timeout=5)
    assert not state["plotly"]
    assert any("그림 오류" in e for e in state["errors"])
    assert any("Plotly is not defined" in e for e in state["errors"])
    assert any(u.startswith("https://cdn.plot.ly/") for u in state["requests"])


def test_item_analysis_and_named_mistakes_show_in_the_browser(rendered, browser):
    """The trainers' item analysis beside the dashboard, and the learner report's "자주 한 실수" (issue 17)."""
    state = open_page(browser, (rendered / "items.html").as_uri(), charts=0, timeout=10)
    assert state["ready"] == "complete" and not state["errors"], state["errors"]
    page = (rendered / "items.html").read_text(encoding="utf-8")
    assert "문항 분석 (강사용)" in page and "(정답)" in page and "단위를 잘못 바꾸었습니다" in page
    assert "learner-" not in page, "aggregates only: no learner id on the trainers' item page"
    assert 'href="items.html"' in (rendered / "index.html").read_text(encoding="utf-8")
    report = (rendered / "learners" / f"{LEARNER}.html").read_text(encoding="utf-8")
    assert "자주 한 실수" in report and "다시 볼 곳" in report
