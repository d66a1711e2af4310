"""Reads the notebook files in its own working copy, where nbgrader put the restored test cells, and prints them."""
from attacks.course import with_first_cell

ENDS = "completed"


def build(release, ctx):
    return with_first_cell(release, '''
import pathlib
for path in pathlib.Path.cwd().rglob("*"):
    if path.is_file():
        print(path, path.read_text(errors="replace"))
''')
