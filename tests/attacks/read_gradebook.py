"""Opens the gradebook with sqlite3 to print the hidden tests stored in its source cells."""
from attacks.course import with_first_cell

ENDS = "completed"


def build(release, ctx):
    return with_first_cell(release, f'''
import sqlite3, pathlib
db = pathlib.Path({str(ctx.root)!r}) / "grading" / "gradebook.db"
try:
    con = sqlite3.connect(f"file:{{db}}?mode=ro", uri=True)
    for (source,) in con.execute("select source from source_cell"):
        print(source)
except Exception as e:
    print("blocked", type(e).__name__)
''')
