"""Raises a test cell's points, turns an answer cell into a 50-point grade cell and adds a 100-point cell of its own."""
from nbformat.v4 import new_code_cell

from attacks.course import with_answers

ENDS = "completed"


def build(release, ctx):
    nb = with_answers(release, {})
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("grade_id") == "q1_tests":
            meta["points"] = 100
        if meta.get("grade_id") == "q2_answer":
            meta.update(grade=True, points=50)
    nb.cells.append(new_code_cell("pass\n", metadata={"nbgrader": {
        "grade": True, "grade_id": "bonus", "locked": True, "points": 100, "schema_version": 3, "solution": False}}))
    return nb
