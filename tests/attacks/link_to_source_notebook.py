"""Puts a symbolic link beside the notebook, by absolute path, to the module's source notebook on
the grader's disk, and runs the answers it reads through it (a copy that follows links scores 5/5).
Named notes.txt: nbgrader copies a submission's other files, but not ``*.ipynb``, to where the
notebook runs."""
import os

from attacks.course import MODULE, run_solutions_from, with_answers, with_first_cell

LINK = "notes.txt"
REFUSED = f"링크 파일은 제출할 수 없습니다: {LINK}"


def build(release, ctx):
    blank = with_answers(release, {"q1_answer": "pass\n", "q2_answer": "pass\n", "q3_answer": "pass\n"})
    return with_first_cell(blank, run_solutions_from(LINK))


def plant(folder, ctx):
    os.symlink(ctx.root / "solutions" / MODULE / f"{MODULE}.ipynb", folder / LINK)
