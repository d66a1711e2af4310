"""Can a converted exercise be passed without applying the method? Copy and lesson attacks, measured.

For a few learners' draws: the solution's and each misconception's exported values on each draw
(policylab.grading.signatures: one trusted kernel per draw), judged by the real checker with the
module's reference on a draw (policylab.grading.checks), as grading judges a notebook's test cells.

- *copy attack*: learner A's values, as constants, judged on learner B's draw;
- *lesson attack*: the method's values on the shared corporation data the lesson uses, judged on a draw.

The quality gates (tests/test_quality_gates.py) hold both at ≤20% of the autograded points;
bench/attacks.py prints them per module.
"""
from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from policylab.course.modules import get_module
from policylab.data.draw_identity import load_variant_key
from policylab.data.synth.draws.build import build_draw, variants_dir
from policylab.grading.bank import load_bank
from policylab.grading.checks import Checker, split_test_cell
from policylab.grading.signatures import Signatures, compute_signatures
from policylab.grading.trial_kernel import keep_kernels


def _tests(nb) -> dict:
    out = {}
    for cell in nb.cells:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if cell.cell_type == "code" and meta.get("grade") and not meta.get("solution"):
            out[meta["grade_id"]] = cell
    return out


def judge(module_id: str, root: Path, folder: Path, values_by_cell: dict) -> dict[str, tuple[bool, float]]:
    """{test grade_id: (passed, points)} for exported values judged on the draw in ``folder``."""
    module = get_module(module_id, root)
    cells = _tests(nbformat.read(module.source, as_version=4))
    jobs = []
    for gid, cell in cells.items():
        if gid in values_by_cell:
            parts = split_test_cell(cell.source)
            jobs.append({"grade_id": gid, "code": parts.checks,
                         "values": {n: values_by_cell[gid].get(n, {"t": "missing"}) for n in parts.exported_names}})
    saved = os.environ.get("POLICYLAB_ROOT")
    os.environ["POLICYLAB_ROOT"] = str(root)  # the checker finds solutions/<module>/reference.py here
    try:
        # one checker process for every draw and course judged here (each job carries both): its imports
        # and each draw's reference are paid once, not per misconception
        verdicts = {v.grade_id: v for v in Checker.shared(datasets=str(folder)).run(jobs, timeout=600)}
    finally:
        if saved is None:
            os.environ.pop("POLICYLAB_ROOT", None)
        else:
            os.environ["POLICYLAB_ROOT"] = saved
    return {gid: (bool(verdicts.get(gid) and verdicts[gid].passed),
                  float(cell.metadata["nbgrader"].get("points", 0))) for gid, cell in cells.items()}


def share(judged: dict) -> float:
    total = sum(p for _, p in judged.values())
    return sum(p for ok, p in judged.values() if ok) / total if total else 0.0


def shared_as_draw(module_id: str, root: Path) -> Path:
    """The shared corporation data of the module, labelled as a draw ("the lesson's numbers")."""
    module = get_module(module_id, root)
    folder = variants_dir(root) / "shared" / module_id
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    for name in module.datasets:
        shutil.copy2(Path(root) / "datasets" / name, folder / name)
    (folder / "DRAW.json").write_text(json.dumps({"learner": "lesson", "module": module_id,
                                                  "fingerprint": "shared"}), encoding="utf-8")
    return folder


@dataclass
class ManyDraws:
    module: str
    root: Path
    folders: dict[str, Path] = field(default_factory=dict)
    sigs: dict[str, Signatures] = field(default_factory=dict)
    lesson: Signatures | None = None
    bank: list = field(default_factory=list)


def many_draws(module_id: str, root: Path, learners: list[str]) -> ManyDraws:
    """Each learner's draw and its signatures (solution + every bank entry, no pairs); the solution on the shared data."""
    module = get_module(module_id, root)
    key, _ = load_variant_key()
    out = ManyDraws(module_id, Path(root), bank=load_bank(module.misconceptions))
    keep_kernels(True)  # one trusted kernel, reset between draws (as a grading worker does)
    try:
        for learner in learners:
            out.folders[learner] = build_draw(module_id, learner, key=key, root=root)
            out.sigs[learner] = compute_signatures(module_id, module.source, out.bank, root=root,
                                                   datasets=out.folders[learner], max_pairs=0)
        out.lesson = compute_signatures(module_id, module.source, [], root=root,
                                        datasets=shared_as_draw(module_id, root), max_pairs=0)
    finally:
        keep_kernels(False)
    return out


def copy_attack(d: ManyDraws) -> list[tuple[str, str, float, list[str]]]:
    """[(from, onto, share of points, questions passed)] for each learner's values on the next learner's draw."""
    learners = list(d.folders)
    rows = []
    for a, b in zip(learners, learners[1:] + learners[:1]):
        judged = judge(d.module, d.root, d.folders[b], d.sigs[a].solution)
        rows.append((a, b, share(judged), [g for g, (ok, _) in judged.items() if ok]))
    return rows


def lesson_attack(d: ManyDraws) -> list[tuple[str, float, list[str]]]:
    rows = []
    for learner, folder in d.folders.items():
        judged = judge(d.module, d.root, folder, d.lesson.solution)
        rows.append((learner, share(judged), [g for g, (ok, _) in judged.items() if ok]))
    return rows
