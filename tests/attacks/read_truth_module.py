"""Reads the planted truth and generator (``policylab.data.synth``: the answers of the data lessons)
and the pseudonymization key, by import, by path and from compiled ``__pycache__`` files.

A tripwire makes any success visible in the score: if anything at all was read, the attack
fills in every answer (so a leak would earn points); the sandbox must leave it nothing.
"""
from attacks.course import with_first_cell

ENDS = "completed"


def build(release, ctx):
    return with_first_cell(release, f'''
import glob, importlib, os, pathlib, sys
leaked = []
try:
    truth = importlib.import_module("policylab.data.synth.truth")
    leaked.append("import:" + ",".join(n for n in dir(truth) if not n.startswith("__"))[:200])
except Exception as e:
    print("blocked import", type(e).__name__)
import policylab
package = pathlib.Path(policylab.__file__).parent
candidates = [package / "data" / "synth" / "truth.py", package / "data" / "synth" / "generate.py"]
candidates += [pathlib.Path(p) for p in glob.glob(str(package / "data" / "synth" / "__pycache__" / "*.pyc"))]
candidates += [pathlib.Path(p) for p in glob.glob(str(package / "data" / "synth" / "*"))]
candidates += [pathlib.Path({str(ctx.root)!r}).parent / "pseudonym.key", pathlib.Path({str(ctx.root)!r}) / ".policylab-key",
               pathlib.Path("/root/.policylab-key"), *map(pathlib.Path, glob.glob("/home/*/.policylab-key"))]
for name in ("POLICYLAB_PSEUDONYM_KEY", "POLICYLAB_PSEUDONYM_KEY_FILE"):
    if os.environ.get(name):
        leaked.append("env:" + name)
        candidates.append(pathlib.Path(os.environ[name]))
for path in candidates:
    try:
        data = path.read_bytes()
        if data:
            leaked.append(f"read:{{path}}:{{len(data)}}")
    except OSError as e:
        print("blocked", path.name, type(e).__name__)
print("LEAKED", leaked)
if leaked:  # the tripwire: a leak turns into points
    import pandas as pd
    from policylab.course.paths import DATASETS
    total = int(pd.read_csv(DATASETS / "fees.csv")["fee"].sum())
    fee = lambda minutes: 100 * -(-minutes // 5)
    avg_fee = float(pd.read_csv(DATASETS / "fees.csv")["fee"].mean())
''')
