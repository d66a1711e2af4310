"""One pool of grading workers serving module after module (``policylab demo``): the workers are
reused, each module is graded as a pool of its own would grade it, and a worker that dies is replaced."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from conftest import copy_course

from policylab.course.build import build_exercises
from policylab.course.modules import load_modules
from policylab.grading.batch import grade_module, read_scores, shared_pool

pytestmark = pytest.mark.xdist_group("worker-pool")
BIN = Path(sys.executable).parent
MODULES = ["m01", "m04"]


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    root = copy_course(tmp_path_factory.mktemp("pool") / "course", MODULES)
    build_exercises(root=root, modules=MODULES)
    for module in load_modules(root):
        if module.id not in MODULES:
            continue
        release = nbformat.read(module.release, as_version=4)
        answers = {c.metadata["nbgrader"]["grade_id"]: c.source for c in nbformat.read(module.source, as_version=4).cells
                   if c.metadata.get("nbgrader", {}).get("solution")}
        solved = nbformat.from_dict(release)
        for cell in solved.cells:
            cell.source = answers.get(cell.metadata.get("nbgrader", {}).get("grade_id"), cell.source)
        for learner, nb in (("solves", solved), ("leaves-blank", release)):
            folder = root / "grading" / "submitted" / learner / module.id
            folder.mkdir(parents=True)
            nbformat.write(nb, folder / module.source.name)
    return root


def _checkers(workers: list[int]) -> set[int]:
    """The hidden tests' checker processes (policylab.grading.checks) the workers started."""
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
            cmdline = (stat.parent / "cmdline").read_bytes()
        except (OSError, ValueError, IndexError):
            continue
        if ppid in workers and b"policylab.grading.checks" in cmdline:
            found.add(int(stat.parent.name))
    return found


def test_one_pool_grades_module_after_module_as_fresh_pools_do(course):
    with shared_pool(course, 2) as pool:
        pids = sorted(w.process.pid for w in pool.workers)
        shared = {MODULES[0]: grade_module(MODULES[0], root=course, pool=pool)}
        checkers = _checkers(pids)
        assert checkers, "no worker started a checker"
        shared.update({m: grade_module(m, root=course, pool=pool) for m in MODULES[1:]})
        assert sorted(w.process.pid for w in pool.workers) == pids, "the pool's workers were not reused"
        # the checker (and the diagnosis's trusted kernel) serve the next module: their imports are paid once
        assert _checkers(pids) == checkers
        # the second module's working copies replaced the first's: one module's solutions at a time
        assert {p.name for p in pool.workdir.glob("w*/course/solutions/*")} == {MODULES[-1]}
    scores = {m: read_scores(m, root=course) for m in MODULES}
    for m in MODULES:
        assert shared[m].by_state().keys() == {"graded"}, shared[m].by_state()
        assert all(got == want for got, want in scores[m]["solves"].values()), scores[m]["solves"]
        assert all(got == 0 for got, _ in scores[m]["leaves-blank"].values()), scores[m]["leaves-blank"]
    fresh = grade_module(MODULES[0], root=course, force=True, workers=2)
    assert read_scores(MODULES[0], root=course) == scores[MODULES[0]]
    assert {k: r.state for k, r in fresh.records.items()} == {k: r.state for k, r in shared[MODULES[0]].records.items()}


def test_grade_takes_several_modules_with_one_pool(course):
    """`policylab grade m01 m04` grades module after module with one set of workers; a module that cannot be
    graded is named and does not stop the others; `all` is every ready module."""
    done = subprocess.run([str(BIN / "policylab"), "--root", str(course), "grade", MODULES[0], "m99", MODULES[1],
                           "--force", "--workers", "2"], capture_output=True, text=True, timeout=600)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "m99: 오류" in done.stderr, done.stderr
    for m in MODULES:
        assert f"{m}: 이번에 채점 2명" in done.stdout, done.stdout
        assert all(got == want for got, want in read_scores(m, root=course)["solves"].values())
    everything = subprocess.run([str(BIN / "policylab"), "--root", str(course), "grade", "all"],
                                capture_output=True, text=True, timeout=600)
    assert everything.returncode == 0, everything.stdout + everything.stderr
    assert [m for m in MODULES if f"{m}: 이번에 채점 0명, 변경 없어 건너뜀 2명" in everything.stdout] == MODULES
