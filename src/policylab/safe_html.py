"""One sanitizer for every page a person opens: learner-controlled HTML made inert.

A submission is untrusted data (DESIGN §5): an answer cell can display HTML with ``<script>``,
an ``onerror=`` handler or an ``application/javascript`` output, and a written answer or a
comment is markdown whose raw HTML and ``javascript:`` links pass through nbconvert's
``markdown2html`` untouched. Learner feedback, formgrader's views for trainers and the
reports' text all go through nbconvert's HTML export, so the fix is nbconvert's own:

* ``HTMLExporter.sanitize_html = True`` makes nbconvert's templates drop JavaScript and
  widget outputs and pass ``text/html``, ``text/markdown`` and markdown cells through the
  ``clean_html`` filter;
* nbconvert's stock ``clean_html`` *escapes* every tag outside bleach's short list, so a
  heading, a paragraph or a pandas table would show as literal ``<h1>``/``<th>`` text.
  :func:`clean_html` replaces it with nbconvert's ``SanitizeHTML`` (bleach) on a reading
  allowlist (headings, paragraphs, tables, lists, code) that strips what it drops;
* :func:`markdown2html` replaces the ``markdown2html`` filter so that markdown is cleaned
  *after* rendering: cleaning the source would miss ``[x](javascript:…)``, which only becomes
  a link once rendered.

:func:`exporter_config` is the configuration that does all three (``nbgrader_config.py`` uses it
for formgrader, feedback uses it for learners); :func:`active_content` finds whatever would run
in a written page, so a page that still holds some is never shipped. Pages we write ourselves
also carry a Content-Security-Policy (:data:`CSP_NO_SCRIPT` where a page needs no script).
This module imports nothing of PolicyLab: grading and reports both use it.
"""
from __future__ import annotations

from functools import lru_cache
from html.parser import HTMLParser

# What a reader of a notebook page needs; anything else is stripped (its text kept).
TAGS = sorted({
    "a", "abbr", "b", "blockquote", "br", "caption", "code", "col", "colgroup", "dd", "del", "details",
    "div", "dl", "dt", "em", "figcaption", "figure", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "img",
    "ins", "kbd", "li", "mark", "ol", "p", "pre", "q", "s", "samp", "small", "span", "strong", "sub",
    "summary", "sup", "table", "tbody", "td", "tfoot", "th", "thead", "tr", "u", "ul", "var",
})
# No ``style`` (an overlay can fake a page), no ``on*`` handlers; URLs are limited by bleach to
# http, https and mailto (so no ``javascript:``, and no ``data:`` in raw HTML either).
ATTRIBUTES = {
    "*": ["class", "title", "lang", "dir"],
    "a": ["href", "title"],
    "img": ["src", "alt", "width", "height"],
    "th": ["colspan", "rowspan", "align", "scope"],
    "td": ["colspan", "rowspan", "align"],
    "col": ["span"], "colgroup": ["span"], "ol": ["start", "type"],
    **{f"h{n}": ["id"] for n in range(1, 7)},  # nbconvert's heading anchors
}
# A page with no script of its own (feedback): nothing may run, load or submit, whatever slipped through.
CSP_NO_SCRIPT = ("default-src 'none'; script-src 'none'; object-src 'none'; base-uri 'none'; "
                 "form-action 'none'; frame-src 'none'; style-src 'unsafe-inline'; img-src data:; font-src data:")


@lru_cache(maxsize=1)
def _sanitizer():
    from nbconvert.preprocessors.sanitize import SanitizeHTML

    return SanitizeHTML(tags=TAGS, attributes=ATTRIBUTES, strip=True, strip_comments=True)


# Pure functions of their text, asked again for every learner's page of a module (its released cells,
# the same error messages): remembered per process, texts up to REMEMBERED characters (a learner's huge
# output is cleaned, not kept).
REMEMBERED = 20_000


def clean_html(element) -> str:
    """nbconvert's ``clean_html`` filter with a reading allowlist: drops active content, keeps the text."""
    text = element.decode() if isinstance(element, bytes) else str(element)
    return _clean(text) if len(text) <= REMEMBERED else _clean.__wrapped__(text)


@lru_cache(maxsize=4096)
def _clean(text: str) -> str:
    return _sanitizer().sanitize_html_tags(text)


def _render(source: str, attachments: dict | None = None, path: str = "") -> str:
    from nbconvert.filters.markdown_mistune import IPythonRenderer, MarkdownWithMath

    renderer = IPythonRenderer(escape=False, attachments=attachments or {}, path=path)
    return clean_html(MarkdownWithMath(renderer=renderer).render(source))


_markdown = lru_cache(maxsize=4096)(_render)  # asked with the source only: no attachments, no path


try:
    from jinja2 import pass_context
except ImportError:  # pragma: no cover - jinja2 < 3
    from jinja2 import contextfilter as pass_context


@pass_context
def markdown2html(context, source) -> str:
    """nbconvert's ``markdown2html`` filter (attachments and heading anchors as HTMLExporter renders
    them), then :func:`clean_html`."""
    cell = context.get("cell") or {}
    if not cell.get("attachments") and len(str(source)) <= REMEMBERED:  # the path only matters to embedded images
        return _markdown(str(source))
    path = (context.get("resources") or {}).get("metadata", {}).get("path", "")
    return _render(source, cell.get("attachments", {}), path)


FILTERS = {"clean_html": f"{__name__}.clean_html", "markdown2html": f"{__name__}.markdown2html"}


def exporter_config() -> dict:
    """``HTMLExporter`` settings that make learner-controlled content inert (a traitlets section)."""
    return {"sanitize_html": True, "filters": dict(FILTERS)}


class _ActiveContent(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "iframe", "object", "embed", "frame", "applet", "base"):
            self.found.append(f"<{tag}>")
        for name, value in attrs:
            value = "".join((value or "").split()).lower()
            if name.startswith("on"):
                self.found.append(f"<{tag} {name}=…>")
            elif name in ("href", "src", "action", "formaction", "xlink:href", "data") and \
                    value.startswith(("javascript:", "vbscript:", "data:text/html")):
                self.found.append(f"<{tag} {name}={value[:20]}…>")
            elif tag == "meta" and name == "http-equiv" and value == "refresh":
                self.found.append("<meta http-equiv=refresh>")


def active_content(document: str) -> list[str]:
    """What in an HTML document would run script when opened (for pages that need none): script,
    iframe and object elements, ``on*`` handler attributes, ``javascript:`` URLs."""
    parser = _ActiveContent()
    parser.feed(document)
    parser.close()
    return parser.found
