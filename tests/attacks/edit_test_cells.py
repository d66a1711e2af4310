"""Blank answers, with one test cell emptied, one unlocked and rewritten, and one deleted."""
from attacks.course import with_answers

ENDS = "completed"


def build(release, ctx):
    nb = with_answers(release, {"q1_tests": "pass\n"})
    cells = []
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("grade_id") == "q2_tests":
            continue
        if meta.get("grade_id") == "q3_tests":
            meta["locked"] = False
            cell.source = "assert True\n"
        cells.append(cell)
    nb.cells = cells
    return nb
