"""Puts a symbolic link to the solutions folder beside the notebook (a link to a folder: a copy
that follows it copies the whole folder) and runs the answers it finds there."""
import os

from attacks.course import MODULE, run_solutions_from, with_answers, with_first_cell

LINK = "data"
REFUSED = f"링크 파일은 제출할 수 없습니다: {LINK}"


def build(release, ctx):
    blank = with_answers(release, {"q1_answer": "pass\n", "q2_answer": "pass\n", "q3_answer": "pass\n"})
    return with_first_cell(blank, run_solutions_from(f"{LINK}/{MODULE}.ipynb"))


def plant(folder, ctx):
    os.symlink(ctx.root / "solutions" / MODULE, folder / LINK, target_is_directory=True)
