"""Headless Chromium logged in to the hub on loopback, for the hub's end-to-end test.

One browser per user (its own profile, so its own cookies); ``status`` navigates to a page and
reads the document's HTTP status and headers from the DevTools network events, i.e. exactly
what that user's browser gets (a ``fetch`` from the page would not do: JupyterHub's XSRF rules
accept the service's login cookie on navigations only).
Content-Security-Policy violations the pages cause are collected from the browser's log.
"""
from __future__ import annotations

import json
import queue
import shutil
import tempfile
import time
from pathlib import Path


class HubBrowser:
    def __init__(self, hub_url: str):
        from test_browser import CHROMIUM_FLAGS, DevTools, find_chromium

        # the reports' flags (every host unresolvable, no network) with one exception: the hub on loopback
        flags = [f if not f.startswith("--host-resolver-rules=") else f + ", EXCLUDE 127.0.0.1"
                 for f in CHROMIUM_FLAGS]
        self.hub_url = hub_url
        self.profile = Path(tempfile.mkdtemp(prefix="policylab-hub-chromium-"))
        self.tools = DevTools(find_chromium(), self.profile, flags)
        target = self.tools.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        self.session = self.tools.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for method in ("Page.enable", "Runtime.enable", "Log.enable", "Network.enable"):
            self.tools.send(method, session=self.session)
        self.log: list[str] = []

    def __enter__(self) -> "HubBrowser":
        return self

    def __exit__(self, *exc) -> None:
        self.tools.close()
        shutil.rmtree(self.profile, ignore_errors=True)

    def js(self, expression: str, *, wait: bool = False):
        result = self.tools.send("Runtime.evaluate", {"expression": expression, "returnByValue": True,
                                                      "awaitPromise": wait}, session=self.session, timeout=60)
        return result.get("result", {}).get("value")

    def wait_for(self, expression: str, what: str, timeout: float = 60):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                value = self.js(expression)
            except RuntimeError:  # navigation in progress
                value = None
            if value:
                return value
            time.sleep(0.3)
        raise AssertionError(f"timed out waiting for {what}; page: {self.js('location.href')!r} "
                             f"{(self.js('document.body && document.body.innerText') or '')[:500]!r}")

    def goto(self, path: str) -> None:
        self.tools.send("Page.navigate", {"url": f"{self.hub_url}{path}"}, session=self.session)

    def login(self, user: str, password: str, next_path: str | None = None) -> None:
        """The hub's login form; ``next_path`` as the hub's ``?next=`` (else the hub's default URL)."""
        self.goto("/hub/login" + (f"?next={next_path}" if next_path else ""))
        self.wait_for("!!document.querySelector('input[name=username]')", "the login form")
        self.js(f"""document.querySelector('input[name=username]').value = {json.dumps(user)};
                    document.querySelector('input[name=password]').value = {json.dumps(password)};
                    document.querySelector('form').submit();""")
        self.wait_for("!location.pathname.startsWith('/hub/login') && document.readyState === 'complete'",
                      "leaving the login page")

    def status(self, path: str, timeout: float = 30) -> dict:
        """Navigate to ``path``: the HTTP status, final URL and CSP of the document the browser got."""
        self._drain()
        self.goto(path)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                event = self.tools.events.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                break
            self._keep(event)
            params = event.get("params", {})
            if event.get("method") == "Network.responseReceived" and params.get("type") == "Document":
                response = params["response"]
                headers = {k.lower(): v for k, v in response.get("headers", {}).items()}
                self.wait_for("document.readyState === 'complete'", f"{path} loaded")
                return {"status": response["status"], "url": response["url"],
                        "csp": headers.get("content-security-policy")}
        raise AssertionError(f"no document for {path} within {timeout:.0f} s")

    def _keep(self, event: dict) -> None:
        if event.get("method") == "Log.entryAdded":
            self.log.append(event["params"]["entry"].get("text", ""))

    def _drain(self) -> None:
        while True:
            try:
                self._keep(self.tools.events.get_nowait())
            except queue.Empty:
                return

    def csp_violations(self) -> list[str]:
        self._drain()
        return [line for line in self.log if "Content Security Policy" in line]
