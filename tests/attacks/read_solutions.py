"""Reads solutions/ to run the reference answers (full marks if it works) and prints the hidden tests."""
from attacks.course import with_first_cell

ENDS = "completed"


def build(release, ctx):
    return with_first_cell(release, f'''
import json, pathlib
source = pathlib.Path({str(ctx.root)!r}) / "solutions" / "m01" / "m01.ipynb"
try:
    nb = json.loads(source.read_text())
    for cell in nb["cells"]:
        text = "".join(cell["source"])
        print(text)
        if "BEGIN SOLUTION" in text:
            exec(text, globals())
except OSError as e:
    print("blocked", type(e).__name__)
''')
