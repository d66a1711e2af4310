"""The capstone (m13) renders a reference answer for every question it offers, on a learner's draw.

The source notebook's `parameters` cell selects the question (`question = "tariff"`): the learner
picks a card, and every learner's draw (policylab.data.synth.draws.m13) carries every card's files,
so a trainer can render the reference answer for each card on any learner's draw with papermill.
Rendering the source notebook also runs its test cells, hidden checks included (they ask
solutions/m13/reference.py for the chosen card on that draw), so each render proves that the
reference answer for that card passes the tests that will grade learners who pick it.
"""
from __future__ import annotations

import re

import nbformat
import papermill as pm
import pytest
from conftest import REPO, copy_course, learner_visible_problems

SOURCE = REPO / "solutions" / "m13" / "m13.ipynb"
QUESTIONS = ["sms", "tariff", "led", "senior"]


def _parameters_cell(nb):
    tagged = [c for c in nb.cells if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(tagged) == 1, f"{SOURCE}: want exactly one cell tagged 'parameters', found {len(tagged)}"
    return tagged[0]


def test_parameters_cell_selects_a_question():
    nb = nbformat.read(SOURCE, as_version=4)
    cell = _parameters_cell(nb)
    match = re.search(r'^question = "(\w+)"', cell.source, re.M)
    assert match and match.group(1) in QUESTIONS, f"{SOURCE}: the parameters cell must set question to one of {QUESTIONS}"
    assert "nbgrader" not in cell.metadata, "the question cell must stay an ordinary cell learners can edit"
    for question in QUESTIONS:
        assert f'"{question}"' in cell.source, f"the parameters cell should name the choice {question!r}"


@pytest.mark.slow
@pytest.mark.parametrize("question", QUESTIONS)
def test_reference_answer_renders_for_every_question(question, tmp_path, monkeypatch):
    root = copy_course(tmp_path / "course", ["m13"])
    monkeypatch.setenv("POLICYLAB_ROOT", str(root))          # the draw is built (demo key) in the scratch course
    monkeypatch.setenv("POLICYLAB_LEARNER", "capstone01")
    for name in ("POLICYLAB_DATASETS", "POLICYLAB_DRAWS", "POLICYLAB_SANDBOX"):
        monkeypatch.delenv(name, raising=False)
    out = tmp_path / f"m13_{question}.ipynb"
    pm.execute_notebook(str(root / "solutions" / "m13" / "m13.ipynb"), str(out), parameters={"question": question},
                        kernel_name="python3", cwd=str(tmp_path), progress_bar=False, log_output=False)
    nb = nbformat.read(out, as_version=4)
    problems = learner_visible_problems(nb)
    assert not problems, f"{SOURCE} rendered with question={question!r} shows errors or warnings: {problems}"
    printed = "\n".join(out.get("text", "") for cell in nb.cells for out in cell.get("outputs", [])
                        if out.output_type == "stream")
    assert f"고른 질문: {question!r}" in printed, "the render did not use the injected question"
    assert "학습자 capstone01의 m13 자료" in printed, "the render did not read the learner's own draw"
    passes = re.findall(r"q(\d): 형식 확인을 통과했습니다", printed)
    assert passes == ["1", "2", "3", "4", "5"], f"question={question!r}: visible checks passed for {passes}"
