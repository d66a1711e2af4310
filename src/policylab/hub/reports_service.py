"""The hub's reports service: ``grading/out/`` served to whoever may see each page (docs/deploy.md).

Started by JupyterHub as the managed service ``policylab-reports`` (deploy/jupyterhub_config.py)
at ``/services/policylab-reports/``. Who is who is JupyterHub's own: hub OAuth
(:class:`jupyterhub.services.auth.HubOAuth`) identifies the user, and three custom scopes,
assigned by roles to the hub groups named after the Unix groups, say what they may open:

==================================  ==================  ==============================================
scope                               role's group        pages
==================================  ==================  ==============================================
custom:policylab-reports:own        policylab           ``learners/<own name>.html``, ``plotly.min.js``
custom:policylab-reports:dashboard  policylab-managers  ``dashboard.html``, ``plotly.min.js``
custom:policylab-reports:all        policylab-trainers  all of the above, ``index.html``, every learner's
                                                        report, ``items.html``, ``item_analysis.csv``
==================================  ==================  ==============================================

Anything else is 403, decided before the file system is looked at (so a 404 never tells
whether another learner's report exists). Only those names are served: no notebooks, no
listing, no path with another folder in it.

Every page carries a Content-Security-Policy: nothing from outside (``default-src 'self'``,
no ``connect-src`` beyond it, no frames, forms or plugins). The report pages draw each chart
with an inline ``<script>``; rather than ``'unsafe-inline'``, the service hashes the inline
scripts of the very file it serves and allows those hashes only (``'sha256-…'``), so an
injected ``on*`` attribute or ``javascript:`` link still runs nothing. Styles are inline
(nbconvert's page, plotly's SVG), hence ``style-src 'self' 'unsafe-inline'``.
"""
from __future__ import annotations

import base64
import hashlib
import mimetypes
import os
import re
from pathlib import Path

from policylab.hub.service_app import oauth_app, serve

SERVICE_NAME = "policylab-reports"
SCOPE_OWN, SCOPE_DASHBOARD, SCOPE_ALL = (f"custom:{SERVICE_NAME}:{kind}" for kind in ("own", "dashboard", "all"))
SCOPES = {
    SCOPE_OWN: "이 학습자 자신의 진도 보고서",
    SCOPE_DASHBOARD: "관리자 대시보드(부서·모듈별 집계)",
    SCOPE_ALL: "강사: 색인, 모든 학습자 보고서, 문항 분석",
}
SHARED = {"plotly.min.js"}
TRAINER_ONLY = {"index.html", "items.html", "item_analysis.csv"}
LEARNER_PAGE = re.compile(r"learners/([A-Za-z0-9][A-Za-z0-9._@-]*)\.html")
INLINE_SCRIPT = re.compile(rb"<script(?![^>]*\bsrc=)[^>]*>(.*?)</script>", re.S | re.I)
CSP_BASE = ("default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; "
            "object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'self'")


def allowed(path: str, user: str, scopes: set[str]) -> bool:
    """May ``user`` with these (expanded) hub scopes open ``path`` (relative to grading/out)?"""
    if SCOPE_ALL in scopes:
        return path in SHARED | TRAINER_ONLY | {"dashboard.html"} or bool(LEARNER_PAGE.fullmatch(path))
    if path in SHARED:
        return bool(scopes & {SCOPE_OWN, SCOPE_DASHBOARD})
    if path == "dashboard.html":
        return SCOPE_DASHBOARD in scopes
    match = LEARNER_PAGE.fullmatch(path)
    return bool(match) and SCOPE_OWN in scopes and match.group(1) == user


def landing(user: str, scopes: set[str]) -> str | None:
    """The page a user arrives at from the service's root: the index, the dashboard or their report."""
    if SCOPE_ALL in scopes:
        return "index.html"
    if SCOPE_DASHBOARD in scopes:
        return "dashboard.html"
    if SCOPE_OWN in scopes:
        return f"learners/{user}.html"
    return None


def csp_for(body: bytes, html: bool) -> str:
    """``script-src 'self'`` plus the hashes of this page's own inline scripts."""
    hashes = [f"'sha256-{base64.b64encode(hashlib.sha256(m.group(1)).digest()).decode()}'"
              for m in INLINE_SCRIPT.finditer(body)] if html else []
    return f"{CSP_BASE}; script-src 'self' {' '.join(sorted(set(hashes)))}".rstrip()


def _scopes(model: dict) -> set[str]:
    return {s.split("!", 1)[0] for s in model.get("scopes", [])}


def make_app(out_dir: Path, prefix: str):
    """The tornado application: ``<prefix>`` → landing page, ``<prefix><page>`` → the page, ``oauth_callback``."""
    from jupyterhub.services.auth import HubOAuthenticated
    from jupyterhub.utils import url_path_join
    from tornado import web

    out_dir = Path(out_dir).resolve()

    class PageHandler(HubOAuthenticated, web.RequestHandler):
        def set_default_headers(self) -> None:
            self.set_header("Content-Security-Policy", f"{CSP_BASE}; script-src 'none'")
            self.set_header("X-Content-Type-Options", "nosniff")
            self.set_header("Cache-Control", "no-store")
            self.set_header("Referrer-Policy", "same-origin")

        def write_error(self, status_code: int, **kwargs) -> None:
            messages = {403: "이 페이지를 볼 권한이 없습니다.", 404: "아직 만들어지지 않은 페이지입니다."}
            text = messages.get(status_code, "요청을 처리하지 못했습니다.")
            self.set_header("Content-Type", "text/html; charset=utf-8")
            self.finish(f'<!DOCTYPE html><html lang="ko"><meta charset="utf-8"><title>{status_code}</title>'
                        f"<p>{status_code}: {text}</p></html>")

        @web.authenticated
        def get(self, path: str) -> None:
            model = self.current_user
            user, scopes = model["name"], _scopes(model)
            if not path:
                page = landing(user, scopes)
                if page is None:
                    raise web.HTTPError(403)
                return self.redirect(url_path_join(prefix, page))
            if not allowed(path, user, scopes):
                raise web.HTTPError(403)
            target = (out_dir / path).resolve()
            if out_dir not in target.parents or not target.is_file():
                raise web.HTTPError(404)
            body = target.read_bytes()
            is_html = target.suffix == ".html"
            kind = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
            self.set_header("Content-Type", f"{kind}; charset=utf-8" if kind.startswith("text/") or is_html
                            or kind.endswith("javascript") else kind)
            self.set_header("Content-Security-Policy", csp_for(body, is_html))
            self.finish(body)

    return oauth_app(prefix, [("(.*)", PageHandler)])


def main() -> None:
    """Run as JupyterHub's managed service: the URL and prefix come from the hub's environment."""
    out_dir = Path(os.environ["POLICYLAB_REPORTS_DIR"])
    serve(make_app(out_dir, os.environ.get("JUPYTERHUB_SERVICE_PREFIX", f"/services/{SERVICE_NAME}/")))


if __name__ == "__main__":
    main()
