"""A tiny course built in code for the sandbox attack suite.

One module, ``m01``, three autograded questions (5 points) whose test cells follow the
convention in docs/authoring.md: visible checks, hidden checks that recompute the answer from
datasets/, and a probe for the question whose answer is a function.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import nbformat
import yaml
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

REPO = Path(__file__).resolve().parents[2]
MODULE = "m01"
POINTS = {"q1_tests": 2.0, "q2_tests": 2.0, "q3_tests": 1.0}
FEES = "minutes,fee\n5,100\n12,300\n61,1300\n30,600\n"

SETUP = "import pandas as pd\nfrom policylab.course.paths import DATASETS\n"
Q1 = 'total = int(pd.read_csv(DATASETS / "fees.csv")["fee"].sum())\n'
Q1_TESTS = '''assert isinstance(total, int), "total은 정수(int)여야 합니다. int(...)로 바꿔 보세요."
### BEGIN HIDDEN TESTS
import pandas as pd
from policylab.course.paths import DATASETS
_expected = int(pd.read_csv(DATASETS / "fees.csv")["fee"].sum())
assert total == _expected, "합계가 맞지 않습니다."  # HIDDEN-MARKER-Q1
### END HIDDEN TESTS
'''
Q2 = "def fee(minutes):\n    return 100 * -(-minutes // 5)\n"
Q2_TESTS = '''### BEGIN PROBE
fee_table = [fee(m) for m in (0, 1, 5, 6, 61)]
### END PROBE
assert type(fee_table) is list and len(fee_table) == 5, "fee(분)은 요금을 숫자로 돌려줘야 합니다."
### BEGIN HIDDEN TESTS
assert fee_table == [0, 100, 100, 200, 1300], "요금 계산이 맞지 않습니다."  # HIDDEN-MARKER-Q2
### END HIDDEN TESTS
'''
Q3 = 'avg_fee = float(pd.read_csv(DATASETS / "fees.csv")["fee"].mean())\n'
Q3_TESTS = '''assert isinstance(avg_fee, float), "avg_fee는 실수(float)여야 합니다."
### BEGIN HIDDEN TESTS
import math
import pandas as pd
from policylab.course.paths import DATASETS
assert math.isclose(avg_fee, pd.read_csv(DATASETS / "fees.csv")["fee"].mean(), rel_tol=1e-9), "평균이 맞지 않습니다."  # HIDDEN-MARKER-Q3
### END HIDDEN TESTS
'''
HIDDEN_MARKERS = ("HIDDEN-MARKER", "_expected", "[0, 100, 100, 200, 1300]", "rel_tol=1e-9")


def _meta(grade_id: str, *, grade: bool = False, solution: bool = False, locked: bool = False,
          points: float | None = None) -> dict:
    meta = {"grade": grade, "grade_id": grade_id, "locked": locked, "schema_version": 3, "solution": solution}
    if points is not None:
        meta["points"] = points
    return {"nbgrader": meta}


def answer(grade_id: str, code: str):
    return new_code_cell(f"### BEGIN SOLUTION\n{code}### END SOLUTION\n", metadata=_meta(grade_id, solution=True))


def tests(grade_id: str, code: str):
    return new_code_cell(code, metadata=_meta(grade_id, grade=True, locked=True, points=POINTS[grade_id]))


def source_notebook():
    nb = new_notebook(cells=[
        new_markdown_cell("# 주차 요금 연습", metadata=_meta("intro", locked=True)),
        new_code_cell(SETUP, metadata=_meta("setup", locked=True)),
        answer("q1_answer", Q1), tests("q1_tests", Q1_TESTS),
        answer("q2_answer", Q2), tests("q2_tests", Q2_TESTS),
        answer("q3_answer", Q3), tests("q3_tests", Q3_TESTS),
    ])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    return nb


def build_course(root: Path) -> Path:
    """nbgrader_config.py copied from the repository, datasets/fees.csv, solutions/m01/m01.ipynb."""
    root.mkdir(parents=True, exist_ok=True)
    shutil.copy2(REPO / "nbgrader_config.py", root / "nbgrader_config.py")
    # this tiny m01 reads the shared datasets/ (fees.csv), not a per-learner draw: not "converted"
    course = yaml.safe_load((REPO / "course.yml").read_text(encoding="utf-8"))
    for module in course["modules"]:
        module.pop("converted", None)
    (root / "course.yml").write_text(yaml.safe_dump(course, allow_unicode=True, sort_keys=False), encoding="utf-8")
    (root / "datasets").mkdir(exist_ok=True)
    (root / "datasets" / "fees.csv").write_text(FEES, encoding="utf-8")
    (root / "solutions" / MODULE).mkdir(parents=True, exist_ok=True)
    nbformat.write(source_notebook(), root / "solutions" / MODULE / f"{MODULE}.ipynb")
    return root


def released_course(folder: Path):
    """build_course in ``folder/course`` with the module released by nbgrader: (root, release notebook)."""
    import nbformat

    from policylab.course.nbconfig import load_config, make_api

    root = build_course(folder / "course")
    assert make_api(load_config(root)).generate_assignment(MODULE, force=True, create=True)["success"]
    return root, nbformat.read(root / "exercises" / MODULE / f"{MODULE}.ipynb", as_version=4)


def with_answers(nb, answers: dict[str, str]):
    """A copy of ``nb`` whose answer cells hold the given code."""
    nb = nbformat.from_dict(nbformat.reads(nbformat.writes(nb), as_version=4))
    for cell in nb.cells:
        gid = cell.metadata.get("nbgrader", {}).get("grade_id")
        if gid in answers:
            cell.source = answers[gid]
    return nb


def with_first_cell(nb, code: str):
    """A copy of ``nb`` with an extra learner cell right after the setup cell."""
    nb = nbformat.from_dict(nbformat.reads(nbformat.writes(nb), as_version=4))
    nb.cells.insert(2, new_code_cell(code))
    return nb


def run_solutions_from(path: str) -> str:
    """Learner code that runs, in the kernel, every solution cell of the notebook it reads at ``path``."""
    return f'''
import json, pathlib
_source = json.loads(pathlib.Path({path!r}).read_text(encoding="utf-8"))
for _cell in _source["cells"]:
    _code = "".join(_cell["source"]) if isinstance(_cell["source"], list) else _cell["source"]
    if "### BEGIN SOLUTION" in _code:
        exec(_code)
'''


def submit(root: Path, learner: str, nb) -> Path:
    folder = root / "grading" / "submitted" / learner / MODULE
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{MODULE}.ipynb"
    nbformat.write(nb, path)
    return path


def checksums(root: Path) -> dict[str, str]:
    """sha256 of every file under solutions/, exercises/, datasets/ and grading/submitted/.

    A link counts by its own target (``link:...``), a FIFO or device by its kind: never read
    through, never opened (a FIFO would block)."""
    import hashlib
    import os
    import stat

    out = {}
    for top in ("solutions", "exercises", "datasets", "grading/submitted"):
        for folder, dirs, files in os.walk(root / top):  # does not descend into linked folders
            for name in sorted(dirs + files):
                path = Path(folder) / name
                mode = path.lstat().st_mode
                key = str(path.relative_to(root))
                if stat.S_ISLNK(mode):
                    out[key] = "link:" + os.readlink(path)
                elif stat.S_ISREG(mode):
                    out[key] = hashlib.sha256(path.read_bytes()).hexdigest()
                elif not stat.S_ISDIR(mode):
                    out[key] = "kind:" + stat.filemode(mode)[:1]
    return out


def read_scores(config, learners, module: str = MODULE) -> dict[str, dict[str, float]]:
    """{learner: {test cell: score}} plus "_total" and "_max" from the gradebook."""
    from nbgrader.api import Gradebook

    scores = {}
    with Gradebook(config.CourseDirectory.db_url) as gb:
        for learner in learners:
            sub = gb.find_submission(module, learner)
            cells = {g.name: float(g.score) for nb in sub.notebooks for g in nb.grades}
            cells["_total"] = float(sub.score)
            cells["_max"] = float(sub.max_score)
            scores[learner] = cells
    return scores


def run_once(name: str, tmp_path_factory, compute) -> dict:
    """``compute(folder) -> dict`` (JSON-able) once per test session, whichever worker asks first.

    pytest-xdist's ``--dist loadgroup`` does not group under pytest 9 (it sets ``item._nodeid``,
    which pytest 9 no longer reads), so a module-scoped batch could run once per worker; a lock
    file in the session's shared temp folder makes the second worker wait and reuse the result.
    """
    import fcntl
    import json
    import os

    base = tmp_path_factory.getbasetemp()
    shared = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    folder = shared / f"policylab-{name}"
    with open(shared / f"policylab-{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        done = folder / "result.json"
        if done.is_file():
            return json.loads(done.read_text(encoding="utf-8"))
        if folder.exists():
            shutil.rmtree(folder)
        folder.mkdir()
        result = compute(folder)
        done.write_text(json.dumps(result), encoding="utf-8")
        return result
