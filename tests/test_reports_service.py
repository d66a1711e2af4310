"""The reports service's access rule and CSP, without a hub (tests/test_hub_e2e.py runs it behind one)."""
from __future__ import annotations

import base64
import hashlib

import pytest

from policylab.hub.reports_service import SCOPE_ALL, SCOPE_DASHBOARD, SCOPE_OWN, allowed, csp_for, landing

TRAINER_PAGES = ["index.html", "items.html", "item_analysis.csv", "dashboard.html", "learners/kim.html",
                 "learners/lee.html", "plotly.min.js"]


@pytest.mark.parametrize("scopes, user, may", [
    ({SCOPE_OWN}, "kim", {"learners/kim.html", "plotly.min.js"}),
    ({SCOPE_DASHBOARD}, "park", {"dashboard.html", "plotly.min.js"}),
    ({SCOPE_ALL}, "choi", set(TRAINER_PAGES)),
    (set(), "nobody", set()),
])
def test_each_scope_opens_its_pages_and_nothing_else(scopes, user, may):
    probes = TRAINER_PAGES + ["learners/kim.ipynb", "data/scores.csv", "../x", "learners/../index.html",
                              "learners/kim.html/../../index.html", "", "learners/a/b.html"]
    assert {p for p in probes if allowed(p, user, scopes)} == may


def test_landing_pages():
    assert landing("choi", {SCOPE_ALL, SCOPE_OWN}) == "index.html"
    assert landing("park", {SCOPE_DASHBOARD}) == "dashboard.html"
    assert landing("kim", {SCOPE_OWN}) == "learners/kim.html"
    assert landing("x", set()) is None


def test_csp_allows_exactly_the_pages_inline_scripts():
    body = (b'<script src="../plotly.min.js"></script><script type="text/javascript">Plotly.newPlot(1)</script>'
            b'<img src=x onerror="alert(1)">')
    digest = base64.b64encode(hashlib.sha256(b"Plotly.newPlot(1)").digest()).decode()
    csp = csp_for(body, html=True)
    assert f"script-src 'self' 'sha256-{digest}'" in csp and "default-src 'self'" in csp
    assert "unsafe-inline" not in csp.split("script-src")[1] and "http" not in csp
    assert csp_for(body, html=False).endswith("script-src 'self'")
