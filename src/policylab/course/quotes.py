"""Figures a lesson's prose quotes must be ones its own outputs (or the published data) support.

A lesson explains what its cells print ("약 100만 건", "점유율 38.7%"). Regenerating the data or
editing a cell silently turns such prose false, and a learner who compares the two stops trusting
the lesson. This finds the figures in markdown that no output supports. A figure that is not
read off the data (a worked example, a rule, a textbook section) is listed in that cell's metadata,
``{"policylab": {"not_from_data": ["0.67", "7.1"]}}``, so the exception is visible and deliberate.
"""
from __future__ import annotations

import re
from collections.abc import Iterable

# levels and constants any statistics lesson names without computing them
CONVENTIONAL = frozenset({"90%", "95%", "99%", "5%", "50%", "25%", "75%", "100%",
                          "0.05", "0.5", "1.96", "2.5", "97.5"})
# "약 40만 건": a size quoted to its order of magnitude
MAGNITUDE = re.compile(r"(\d+(?:\.\d+)?)\s?(만|천)\s?(?:여\s?)?(건|명|대|개|곳|원|회)")
# a figure quoted to a precision: decimals, thousands separators or a percentage
FIGURE = re.compile(r"(?<![\w.,])(-?\d{1,3}(?:,\d{3})+(?:\.\d+)?|-?\d+\.\d+|-?\d+(?=\s?%))(\s?%p|\s?%)?(?![\d.,]\d)")
NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?(?:[eE][-+]?\d+)?")
CODE_SPAN = re.compile(r"`[^`]*`|\$[^$]*\$|\]\([^)]*\)")
MAGNITUDE_TOLERANCE = 0.1


def output_values(nb) -> list[float]:
    """Every number the executed notebook shows: streams, tables and rich text."""
    values = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            texts = [str(out.get("text", ""))]
            texts += [str(v) for k, v in out.get("data", {}).items() if k in ("text/plain", "text/html", "text/markdown")]
            for text in texts:
                for match in NUMBER.finditer(text):
                    try:
                        values.append(float(match.group(0).replace(",", "")))
                    except ValueError:
                        pass
    return values


def _decimals(figure: str) -> int:
    return len(figure.split(".")[1]) if "." in figure else 0


def _figure_supported(figure: str, unit: str, values: list[float]) -> bool:
    quoted = float(figure.replace(",", ""))
    readings = [(quoted, _decimals(figure))]
    if "%" in unit:  # 38.7% is printed as 38.7 or as the share 0.387
        readings.append((quoted / 100, _decimals(figure) + 2))
    return any(abs(v - q) <= 0.5 * 10 ** -d + 1e-9 for q, d in readings for v in values)


def unsupported_quotes(nb, known: Iterable[float] = ()) -> list[str]:
    """Quoted figures in markdown that neither an output, the lesson's code nor ``known`` supports."""
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    # a size the lesson's own code sets (n = 10_000) is as good as one it prints
    constants = [float(m.group(0).replace("_", "")) for m in re.finditer(r"\b\d[\d_]*\b", code)]
    values = output_values(nb) + [float(x) for x in known] + constants
    problems = []
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "markdown":
            continue
        exempt = set(cell.metadata.get("policylab", {}).get("not_from_data", []))
        text = CODE_SPAN.sub(" ", cell.source)
        for m in MAGNITUDE.finditer(text):
            size = float(m.group(1)) * (10_000 if m.group(2) == "만" else 1_000)
            if m.group(0) in exempt or any(abs(v - size) <= MAGNITUDE_TOLERANCE * size for v in values):
                continue
            problems.append(f"cell {i}: '{m.group(0)}' matches no output or data file's row count")
        for m in FIGURE.finditer(text):
            figure, unit = m.group(1), (m.group(2) or "").strip()
            token = figure + unit
            if token in exempt or figure in exempt or token in CONVENTIONAL or figure in CONVENTIONAL:
                continue
            if figure in code or figure.replace(",", "") in code or _figure_supported(figure, unit, values):
                continue
            context = text[max(0, m.start() - 30):m.end() + 10].replace("\n", " ")
            problems.append(f"cell {i}: '{token}' matches no output ({context!r})")
    return problems
