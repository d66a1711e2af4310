"""m04's per-learner draws hold FAKE personal data only where the shared sample does: the raw sample for the
privacy lesson, marked FAKE in every row and in its name, whose identifiers the project's own scan finds —
the new ways of writing them included — while nothing else in the draw holds an identifier."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from conftest import REPO

from policylab.data import privacy, publish
from policylab.data.synth.draws import m04
from policylab.data.synth.draws.build import build_draw

KEY = b"a-test-variant-key-that-is-long-enough"


@pytest.mark.parametrize("learner", ["kim01", "lee02"])
def test_the_draw_is_the_marked_fake_sample_and_nothing_else_holds_an_identifier(tmp_path, learner):
    folder = build_draw("m04", learner, key=KEY, root=tmp_path)
    files = {p.name for p in folder.iterdir()}
    assert files == {m04.FILE, "DRAW.json"}, files
    assert "FAKE" in m04.FILE and m04.FILE == publish.table_spec("raw_sample").outputs[0].file
    sample = pd.read_csv(folder / m04.FILE, dtype=str, keep_default_na=False, na_values=[""])
    shared = pd.read_csv(REPO / "datasets" / m04.FILE, nrows=1)
    assert list(sample.columns) == list(shared.columns)
    assert (sample["구분"] == shared["구분"].iloc[0]).all() and sample["구분"].str.contains("FAKE").all()
    # the publishing check for the fake-PII sample passes: it does hold (fake) identifiers, and k is not asked
    assert publish.find_problems(publish.table_spec("raw_sample"), sample) == []
    # every other file in the draw passes the check every published table passes
    info = pd.DataFrame([json.loads((folder / "DRAW.json").read_text(encoding="utf-8"))], dtype=str)
    assert privacy.scan_identifiers(info) == []


def test_the_projects_scan_finds_every_identifier_planted_in_a_draws_memo():
    raw, _ = m04._draw(np.random.default_rng(7))
    planted = raw.attrs["planted"]
    forms = {"+82" in v or "." in v or v.count(" ") == 2 for _, kind, v in planted if kind == "휴대전화번호"}
    assert forms == {True, False}, "a draw writes mobiles both as the lesson did and in other ways"
    found = {(f.row, f.kind, f.match) for f in privacy.scan_identifiers(raw[["메모"]])}
    missed = [p for p in planted if p not in found]
    assert not missed, missed[:5]
    fake_rrn_check = [v for _, kind, v in planted if kind == "주민등록번호"]
    assert fake_rrn_check and all(v in set(raw["주민등록번호"]) for v in fake_rrn_check)
    assert raw["이메일"].str.endswith(("example.com", "example.org", "example.net")).all()
