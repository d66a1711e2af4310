"""Per-learner draws: deterministic and private to the key, found wherever the notebook runs, and
refused with a recorded Korean reason when a learner's draw cannot be the right one (issue 14)."""
from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from conftest import REPO, copy_course

from policylab.course.build import build_exercises
from policylab.course.modules import load_modules
from policylab.data import draws
from policylab.data.draw_identity import DEMO_VARIANT_KEY, DrawError, load_variant_key
from policylab.data.synth.draws.build import RECIPES, build_draw, draw_dir, read_truth, record_key, truth_path
from policylab.grading import states
from policylab.grading.batch import grade_module
from policylab.grading.reference import compute
from policylab.grading.roster import Learner, write_roster

KEY = b"a-test-variant-key-that-is-long-enough"


def _digest(folder: Path) -> str:
    h = hashlib.sha256()
    for path in sorted(folder.iterdir()):
        h.update(path.name.encode() + path.read_bytes())
    return h.hexdigest()


@pytest.mark.parametrize("module_id", RECIPES)
def test_a_draw_is_the_learners_own_and_only_the_key_rebuilds_it(module_id, tmp_path):
    a = build_draw(module_id, "kim01", key=KEY, root=tmp_path / "one")
    again = build_draw(module_id, "kim01", key=KEY, root=tmp_path / "two")
    other = build_draw(module_id, "lee02", key=KEY, root=tmp_path / "one")
    other_key = build_draw(module_id, "kim01", key=KEY + b"!", root=tmp_path / "three")
    assert _digest(a) == _digest(again)              # deterministic: the same key and learner, the same bytes
    assert _digest(a) != _digest(other) and _digest(a) != _digest(other_key)
    assert json.loads((a / "DRAW.json").read_text())["learner"] == "kim01"
    # the planted values live beside the data, never in the folder a learner's server or the sandbox sees
    assert truth_path(tmp_path / "one", "kim01", module_id).is_file()
    assert not [p for p in a.iterdir() if "truth" in p.name or p.suffix == ".json" and p.name != "DRAW.json"]
    assert set(read_truth(tmp_path / "one", "kim01", module_id)) >= {"params", "effects", "fingerprint"}


def test_the_setup_cell_says_whose_draw_it_loaded(tmp_path, monkeypatch, capsys):
    root = copy_course(tmp_path / "course", ["m01"])
    monkeypatch.setenv("POLICYLAB_ROOT", str(root))
    for name in ("POLICYLAB_DATASETS", "POLICYLAB_DRAWS", "POLICYLAB_SANDBOX", "POLICYLAB_VARIANT_KEY",
                 "POLICYLAB_VARIANT_KEY_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(draws, "LEARNER_FILE", tmp_path / "no-such-file")
    monkeypatch.delenv("POLICYLAB_LEARNER", raising=False)
    practice = draws.exercise_data("m01")
    out = capsys.readouterr().out
    assert "학습자 practice" in out and "연습용 자료입니다" in out and "POLICYLAB_LEARNER" in out
    monkeypatch.setenv("POLICYLAB_LEARNER", "kim01")
    mine = draws.exercise_data("m01")
    out = capsys.readouterr().out
    fp = json.loads((mine / "DRAW.json").read_text())["fingerprint"]
    assert f"학습자 kim01의 m01 자료 (지문 {fp})" in out and "연습용" not in out and mine != practice
    # the hub: the learner's own folder; a module not prepared yet says what to ask the trainer
    monkeypatch.setenv("POLICYLAB_DRAWS", str(mine.parent))
    assert draws.exercise_data("m01", quiet=True) == mine
    with pytest.raises(DrawError, match="policylab hub draws"):
        draws.exercise_data("m09", quiet=True)
    # the grading sandbox never builds: without the learner's draw mounted it stops
    monkeypatch.delenv("POLICYLAB_DRAWS")
    monkeypatch.setenv("POLICYLAB_SANDBOX", "1")
    with pytest.raises(DrawError, match="강사에게"):
        draws.exercise_data("m01", quiet=True)
    monkeypatch.setenv("POLICYLAB_DATASETS", str(mine))
    assert draws.exercise_data("m01", quiet=True) == mine


def test_bad_keys_and_ids_get_korean_messages_naming_the_fix(tmp_path, monkeypatch):
    monkeypatch.delenv("POLICYLAB_VARIANT_KEY", raising=False)
    monkeypatch.setenv("POLICYLAB_VARIANT_KEY_FILE", str(tmp_path / "missing.key"))
    with pytest.raises(DrawError, match=r"missing\.key.*POLICYLAB_VARIANT_KEY_FILE"):
        load_variant_key()
    monkeypatch.setenv("POLICYLAB_VARIANT_KEY", "short")
    with pytest.raises(DrawError, match="바이트보다 짧습니다"):
        load_variant_key()
    monkeypatch.delenv("POLICYLAB_VARIANT_KEY")
    monkeypatch.delenv("POLICYLAB_VARIANT_KEY_FILE")
    assert load_variant_key() == (DEMO_VARIANT_KEY, True)
    with pytest.raises(DrawError, match="학습자 ID"):
        build_draw("m01", "../etc", key=KEY, root=tmp_path)


def test_the_reference_is_computed_once_per_draw_and_cached(tmp_path, monkeypatch):
    root = copy_course(tmp_path / "course", ["m01"])
    monkeypatch.setenv("POLICYLAB_CACHE_DIR", str(tmp_path / "cache"))
    folder = build_draw("m01", "kim01", key=KEY, root=root)
    first = compute("m01", folder, root=root)
    assert list((tmp_path / "cache" / "reference").glob("m01-*.pkl"))
    assert compute("m01", folder, root=root) is first  # the same process: no second computation
    other = compute("m01", build_draw("m01", "lee02", key=KEY, root=root), root=root)
    assert other["q1"]["ids"] != first["q1"]["ids"]


@pytest.fixture(scope="module")
def refused(tmp_path_factory):
    """m01 submissions that must not be graded: one learner off the roster, then every learner under a
    different key than the one that built the draws."""
    root = copy_course(tmp_path_factory.mktemp("refused") / "course", ["m01"])
    build_exercises(root=root, modules=["m01"])
    write_roster(root, [Learner("kim01", department="주차사업처", cohort="1기", start_date="2026-03-02")])
    source = nbformat.read(REPO / "solutions" / "m01" / "m01.ipynb", 4)
    for learner in ("kim01", "stranger"):
        folder = root / "grading" / "submitted" / learner / "m01"
        folder.mkdir(parents=True)
        nbformat.write(source, folder / "m01.ipynb")
    before = {p: p.read_bytes() for p in (root / "grading" / "submitted").rglob("*") if p.is_file()}
    first = grade_module("m01", root=root, diagnose=False)
    key, _ = load_variant_key()
    record_key(root, key + b"-another-key")  # as if `variants build` ran with another key
    second = grade_module("m01", root=root, learners=["kim01"], force=True, diagnose=False)
    after = {p: p.read_bytes() for p in (root / "grading" / "submitted").rglob("*") if p.is_file()}
    return {"root": root, "first": first, "second": second, "unchanged": before == after}


def test_a_learner_off_the_roster_is_recorded_never_graded_on_another_draw(refused):
    stranger = refused["first"].records["stranger"]
    assert stranger.state == states.UNREADABLE and "stranger" in stranger.reason and "명단" in stranger.reason
    assert refused["first"].records["kim01"].state in (states.GRADED, states.TAMPERED)
    assert refused["first"].records["kim01"].auto_score == refused["first"].records["kim01"].auto_max
    assert not draw_dir(refused["root"], "stranger", "m01").exists()
    assert refused["unchanged"]


def test_grading_with_another_key_is_refused_with_the_reason(refused):
    record = refused["second"].records["kim01"]
    assert record.state == states.UNREADABLE and "키" in record.reason and "POLICYLAB_VARIANT_KEY_FILE" in record.reason


def test_variants_commands_build_the_roster_and_show_a_learners_figures(tmp_path):
    root = copy_course(tmp_path / "course", ["m01"])
    # every module is converted now: keep m01's draws and m02's, so the CLI has a module without draws to refuse
    # and the build stays small
    course = root / "course.yml"
    lines = course.read_text(encoding="utf-8").splitlines(keepends=True)
    module = None
    kept = []
    for line in lines:
        if line.strip().startswith("- id: "):
            module = line.split(":", 1)[1].strip()
        if line.strip() == "converted: true" and module not in ("m01", "m02"):
            continue
        kept.append(line)
    course.write_text("".join(kept), encoding="utf-8")
    write_roster(root, [Learner(i, department="주차사업처", cohort="1기", start_date="2026-03-02")
                        for i in ("kim01", "lee02")])
    cli = [str(Path(sys.executable).parent / "policylab"), "--root", str(root)]
    built = subprocess.run([*cli, "variants", "build"], capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stderr
    converted = [m for m in load_modules(root, ready_only=True) if m.converted]
    assert f"개인별 자료 {2 * len(converted)}개" in built.stdout and "데모 변형 키" in built.stderr
    shown = subprocess.run([*cli, "variants", "show", "kim01", "m01"], capture_output=True, text=True, timeout=300)
    assert shown.returncode == 0, shown.stderr
    ref = compute("m01", draw_dir(root, "kim01", "m01"), root=root)
    assert f"typical_fee = {ref['q6']['typical_fee']:,.4f}" in shown.stdout and "학습자 kim01" in shown.stdout
    plain = next(m.id for m in load_modules(root, ready_only=True) if not m.converted)  # a module without draws
    wrong = subprocess.run([*cli, "variants", "build", "--module", plain], capture_output=True, text=True, timeout=300)
    assert wrong.returncode != 0 and plain in wrong.stderr
    shutil.rmtree(root / "grading" / "variants")


def test_a_learners_diagnosis_runs_only_the_cells_its_failed_answers_need():
    """Per-draw signatures start a kernel per learner: cells that cannot change what the failed cells
    read are skipped, and a cell that changes a table in place (``df[c] = …``, a method call) is kept."""
    from nbformat.v4 import new_code_cell

    from policylab.grading.bank import Misconception
    from policylab.grading.signatures import needed_cells

    def cell(source, gid=None):
        return new_code_cell(source, metadata={"nbgrader": {"grade_id": gid}} if gid else {})

    cells = [cell("import pandas as pd\nlots = pd.read_csv('a.csv')\nenergy = pd.read_csv('b.csv')", "setup"),
             cell("n = len(lots)", "q1_answer"), cell("assert n > 0", "q1_tests"),
             cell("energy['log'] = energy['kwh']", "q2_answer"), cell("energy.sort_values('log', inplace=True)"),
             cell("fit = energy['log'].mean()", "q3_answer"), cell("assert fit", "q3_tests")]
    index = {c.metadata.get("nbgrader", {}).get("grade_id"): i for i, c in enumerate(cells)}
    bank = [Misconception(id="mean-of-raw", cell="q3_answer", targets=("q3_tests",), code="fit = energy['kwh'].mean()",
                          description="")]
    keep = needed_cells(cells, index, bank, {"q3_tests"})
    assert keep == {0, 3, 4, 5, 6}  # q1's cells cannot change energy: skipped
