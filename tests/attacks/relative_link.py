"""Puts a relative symbolic link to the module's source notebook beside the notebook
(../../../../solutions/m01/m01.ipynb from grading/submitted/<learner>/m01) and runs the answers it
reads through it."""
import os

from attacks.course import MODULE, run_solutions_from, with_answers, with_first_cell

LINK = "answers.json"
REFUSED = f"링크 파일은 제출할 수 없습니다: {LINK}"


def build(release, ctx):
    blank = with_answers(release, {"q1_answer": "pass\n", "q2_answer": "pass\n", "q3_answer": "pass\n"})
    return with_first_cell(blank, run_solutions_from(LINK))


def plant(folder, ctx):
    os.symlink(f"../../../../solutions/{MODULE}/{MODULE}.ipynb", folder / LINK)
