"""What a learner must never see: hidden-test and mark-scheme lines, and where they would show.

``secret_lines`` lists the lines of a module's hidden tests and mark schemes that the released
notebook does not hold; ``find_leaks`` finds them in a page's text or markup (as whole lines,
so a learner's own ``smsl_levels = …`` is not the hidden ``_levels = …``); ``known_to_learner``
lists those the learner's own submission already holds — a right answer typed exactly like a
hidden line is the learner's own text, and showing it back reveals nothing. Kept apart from
feedback.py so the redaction rules can be read in one place.
"""
from __future__ import annotations

import html
import re
from pathlib import Path

import nbformat

HIDDEN_BEGIN, HIDDEN_END = "BEGIN HIDDEN TESTS", "END HIDDEN TESTS"
SCHEME_BEGIN, SCHEME_END = "BEGIN MARK SCHEME", "END MARK SCHEME"
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
MIN_LINE = 6


def split_region(source: str, begin: str, end: str) -> tuple[list[str], list[str]]:
    """(lines inside the begin/end markers, lines outside), markers dropped. Markers match
    anywhere in a line (``### BEGIN MARK SCHEME`` at any heading level), unlike the test-cell
    parser in policylab.grading.checks: here a marker missed would mean a secret shown."""
    inside, outside, within = [], [], False
    for line in source.split("\n"):
        if begin in line:
            within = True
        elif end in line:
            within = False
        else:
            (inside if within else outside).append(line)
    return inside, outside


def remove_region(source: str, begin: str, end: str) -> str:
    return "\n".join(split_region(source, begin, end)[1])


def hidden_ranges(source: str) -> list[range]:
    """1-based line numbers inside hidden-test regions (markers included)."""
    ranges, start = [], None
    for number, line in enumerate(source.split("\n"), start=1):
        if HIDDEN_BEGIN in line:
            start = number
        elif HIDDEN_END in line and start is not None:
            ranges.append(range(start, number + 1))
            start = None
    if start is not None:
        ranges.append(range(start, len(source.split("\n")) + 1))
    return ranges


def secret_lines(sources: list[nbformat.NotebookNode], releases: list[nbformat.NotebookNode]) -> list[str]:
    """Lines of the hidden tests and mark schemes that a learner must never see.

    Lines that also occur in the released notebook (an import, a blank) are not secret.
    """
    public = {line.strip() for nb in releases for cell in nb.cells for line in cell.source.split("\n")}
    found = []
    for nb in sources:
        for cell in nb.cells:
            for begin, end in ((HIDDEN_BEGIN, HIDDEN_END), (SCHEME_BEGIN, SCHEME_END)):
                for line in split_region(cell.source, begin, end)[0]:
                    line = line.strip()
                    if len(line) >= MIN_LINE and line not in public:
                        found.append(line)
    return sorted(set(found))


def squash(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def html_text(document: str) -> str:
    """The visible text of an HTML document: tags dropped, entities decoded, spaces squashed."""
    document = re.sub(r"(?is)<(script|style)\b.*?</\1>", " ", document)
    return squash(html.unescape(re.sub(r"<[^>]+>", "", document)))


def _occurs(line: str, text: str) -> bool:
    """``line`` in ``text`` as a whole: not the tail of a longer name (a hidden ``_levels = {…}``
    is not leaked by a learner's own ``smsl_levels = {…}`` that happens to be right)."""
    needle = squash(line)
    if needle not in text:  # almost every line on almost every page: a plain search first (feedback: ~0.5 s a page)
        return False
    return re.search(r"(?<![\w.])" + re.escape(needle) + r"(?!\w)", text) is not None


def find_leaks(document: str, secrets: list[str]) -> list[str]:
    """The secret lines that appear in an HTML document's text (or raw markup)."""
    text, raw = html_text(document), squash(html.unescape(document))
    return [line for line in secrets if _occurs(line, text) or _occurs(line, raw)]


def known_to_learner(secrets: list[str], folder: Path) -> set[str]:
    """The secret lines the learner's own submission already holds (a right answer can be written
    exactly like a hidden test's line): showing them back reveals nothing, so they are no leak.
    Only regular files are read, never through a link."""
    text = []
    for path in sorted(folder.glob("*.ipynb")) if folder.is_dir() else []:
        if path.is_symlink() or not path.is_file():
            continue
        try:
            nb = nbformat.reads(path.read_text(encoding="utf-8", errors="replace"), as_version=4)
        except Exception:  # noqa: BLE001 - an unreadable submission holds nothing of use here
            continue
        for cell in nb.cells:
            text.append(str(cell.get("source", "")))
            text += [output_text(o) for o in cell.get("outputs", [])]
    flat = squash(ANSI.sub("", "\n".join(text)))
    return {line for line in secrets if _occurs(line, flat)}


def output_text(out) -> str:
    parts = [str(out.get("text", "")), str(out.get("evalue", "")), "\n".join(out.get("traceback", []))]
    parts += [v if isinstance(v, str) else "\n".join(map(str, v)) if isinstance(v, list) else str(v)
              for v in (out.get("data") or {}).values()]
    return "\n".join(parts)


def contains_secret(text: str, secrets: list[str]) -> bool:
    flat = squash(ANSI.sub("", text))
    return any(_occurs(line, flat) for line in secrets)
