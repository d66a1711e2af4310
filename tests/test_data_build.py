"""datasets/ is reproducible: a fresh build is byte-identical to what is committed, small
enough, and `policylab data check` passes on it. (Build time is measured by bench/data_build.py.)"""
from __future__ import annotations

import json
import os
import subprocess
import sys

from click.testing import CliRunner

from policylab.data import publish

MAX_DATASETS_BYTES = 40 * 1024 * 1024


def test_a_fresh_build_is_byte_identical_to_the_committed_datasets(repo, tmp_path):
    # A separate interpreter with a different hash seed, so set/dict ordering cannot leak in.
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    script = ("from pathlib import Path; import sys; from policylab.data.publish import build_datasets; "
              "build_datasets(out=Path(sys.argv[1]))")
    subprocess.run([sys.executable, "-c", script, str(tmp_path)], check=True, env=env, cwd=repo)
    committed = repo / "datasets"
    fresh = sorted(p.name for p in tmp_path.iterdir())
    assert fresh == sorted(p.name for p in committed.iterdir() if p.is_file() and not p.name.startswith("."))
    differ = [name for name in fresh if (tmp_path / name).read_bytes() != (committed / name).read_bytes()]
    assert not differ, f"{differ} differ from a fresh build: run `policylab data build` and commit datasets/"


def test_data_check_passes_on_the_committed_datasets(repo):
    from policylab.cli import main

    result = CliRunner().invoke(main, ["--root", str(repo), "data", "check"])
    assert result.exit_code == 0, result.output


def test_data_check_catches_an_edited_file_and_an_unlisted_file(repo, tmp_path):
    import shutil

    copy = tmp_path / "datasets"
    shutil.copytree(repo / "datasets", copy)
    with open(copy / "survey.csv", "a", encoding="utf-8") as fh:
        fh.write("R9999,2025-10-01,다솜동,여,18-29,5,5,5,5\n")
    (copy / "stray.csv").write_text("a\n1\n")
    problems = publish.check_datasets(directory=copy)
    assert any("survey.csv" in p and "sha256" in p for p in problems)
    assert any("survey.csv" in p and "rows" in p for p in problems)
    assert any("stray.csv" in p for p in problems)


def test_datasets_stay_under_40_mb(repo):
    size = sum(p.stat().st_size for p in (repo / "datasets").rglob("*") if p.is_file())
    assert size < MAX_DATASETS_BYTES, f"datasets/ is {size / 1e6:.1f} MB"


def test_manifest_lists_every_table_file_with_rows_columns_and_hash(repo):
    manifest = json.loads((repo / "datasets" / "MANIFEST.json").read_text(encoding="utf-8"))
    expected = {o.file for t in publish.TABLES for o in t.outputs}
    assert set(manifest["files"]) == expected
    for name, entry in manifest["files"].items():
        assert len(entry["sha256"]) == 64 and entry["rows"] > 0 and entry["columns"], name


def test_course_map_only_names_published_files(repo):
    from policylab.course.modules import load_modules

    published = {o.file for t in publish.TABLES for o in t.outputs}
    for module in load_modules(repo):
        missing = set(module.datasets) - published
        assert not missing, f"{module.id} uses {missing}, which datasets/ does not publish"
