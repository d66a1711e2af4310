"""The privacy promises and the data dictionary, checked on the committed datasets/."""
from __future__ import annotations

import json
import re

import pandas as pd
import pytest

from policylab.data import privacy, publish
from policylab.data.synth import generate, people, truth

RAW_SAMPLE = "raw_sample_FAKE_PII.csv"
TABLES = [t for t in publish.TABLES if not t.fake_pii]


def _read(repo, table: publish.Table) -> pd.DataFrame:
    output = next(o for o in table.outputs if o.kind != "xlsx")
    return publish.read_published(repo / "datasets" / output.file, output)


@pytest.mark.parametrize("table", TABLES, ids=lambda t: t.name)
def test_no_direct_identifier_in_any_published_table(repo, table):
    findings = privacy.scan_identifiers(_read(repo, table))
    assert not findings, [(f.column, f.row, f.kind, f.masked) for f in findings[:10]]


def test_no_direct_identifier_in_the_excel_workbook_or_the_cp949_twin(repo):
    workbook = pd.read_excel(repo / "datasets" / "energy_monthly.xlsx", header=None, dtype=str)
    assert not privacy.scan_identifiers(workbook)
    twin = pd.read_csv(repo / "datasets" / "parking_lots_cp949.csv", encoding="cp949", dtype=str)
    assert not privacy.scan_identifiers(twin)
    assert twin.equals(pd.read_csv(repo / "datasets" / "parking_lots.csv", dtype=str))


def test_scan_finds_every_identifier_planted_in_the_raw_sample(repo):
    sample = pd.read_csv(repo / "datasets" / RAW_SAMPLE, dtype=str, keep_default_na=False, na_values=[""])
    findings = privacy.scan_identifiers(sample)
    found = {(f.column, f.row, f.kind, f.match) for f in findings}
    expected_columns = {"주민등록번호": "주민등록번호", "휴대전화": "휴대전화번호", "집전화": "유선전화번호",
                        "이메일": "이메일", "차량번호": "차량번호"}
    for column, kind in expected_columns.items():
        for row, value in sample[column].dropna().items():
            assert (column, row, kind, value) in found, (column, row)
    planted = people.make_raw_sample(generate.table_rng(truth.SEED, "raw_sample")).attrs["planted"]
    assert len(planted) > 100
    for row, kind, value in planted:
        assert ("메모", row, kind, value) in found, (row, kind)
    assert sample["구분"].str.contains("FAKE").all()


@pytest.mark.parametrize("table", [t for t in TABLES if t.quasi], ids=lambda t: t.name)
def test_k_is_at_least_5_on_each_tables_quasi_identifiers(repo, table):
    df = _read(repo, table)
    k = privacy.k_anonymity(df, table.quasi, entity=table.entity)
    assert k >= publish.K_MIN, f"{table.name}: k = {k} over {table.quasi}"


def test_published_aggregates_have_no_cell_under_5(repo):
    aggregates = [t for t in publish.TABLES if t.counts]
    assert aggregates
    for table in aggregates:
        assert privacy.small_cells(_read(repo, table), table.counts) == [], table.name


def test_direct_identifier_columns_never_reach_the_published_tables(repo):
    banned = {"성명", "이름", "주민등록번호", "휴대전화", "전화번호", "차량번호", "주소", "생년월일", "이메일"}
    manifest = json.loads((repo / "datasets" / "MANIFEST.json").read_text(encoding="utf-8"))
    for name, entry in manifest["files"].items():
        if name != RAW_SAMPLE:
            assert not banned & set(entry["columns"]), name
    assert manifest["files"][RAW_SAMPLE]["fake_personal_data"] is True


# --- The data dictionary ------------------------------------------------------------------

@pytest.fixture(scope="module")
def readme(repo) -> str:
    return (repo / "datasets" / "README.md").read_text(encoding="utf-8")


def test_readme_documents_every_file_and_column_with_the_row_unit(repo, readme):
    manifest = json.loads((repo / "datasets" / "MANIFEST.json").read_text(encoding="utf-8"))
    for name, entry in manifest["files"].items():
        assert f"`{name}`" in readme, name
        if entry["format"] == "xlsx":
            continue
        for column in entry["columns"]:
            assert re.search(rf"^\| {re.escape(column)} \| `\w+` \| .+ \| .+ \|$", readme, re.M), (name, column)
    sections = readme.split("\n## ")[1:]
    tables = [s for s in sections if "- 파일 / file:" in s]
    assert len(tables) == len(publish.TABLES)
    assert all("- 행 단위 / row:" in s for s in tables)


def _planted_strings() -> list[str]:
    """Ways a planted value could be written: 0.06, 6%, 6%p, 6 %p, 6대 …"""
    values = [truth.LONG_STAY_SHARE_CHANGE, truth.SMS_BASELINE_PAID_30D, *truth.SMS_EFFECT.values(),
              truth.SENIOR_DISCOUNT_ENROLMENT_JUMP, truth.POOL_WAITLIST_SHARE_CHANGE, truth.LED_ELECTRICITY_CHANGE]
    patterns = []
    for v in map(abs, values):
        patterns += [rf"(?<![\d.]){v:.2f}(?!\d)", rf"(?<![\d.]){v:g}(?!\d)",
                     rf"(?<![\d.]){v * 100:g}\s?%", rf"(?<![\d.]){v * 100:g}\s?퍼센트"]
    for count, unit in ((truth.FREE_TO_PAID_DAILY_ENTRIES, "대"), (truth.COMPLAINT_PARKING_MONTHLY_CHANGE, "건")):
        patterns += [rf"(?<![\d.]){abs(count):g}\s?{unit}", rf"[-−+]{abs(count):g}(?![\d])"]
    return patterns


def test_readme_reveals_none_of_the_planted_values(repo, readme):
    margins = pd.read_csv(repo / "datasets" / "survey_margins.csv")
    share = truth.survey_population_share(margins)
    patterns = _planted_strings() + [rf"{share * 100:.0f}\s?%", rf"{share:.2f}", rf"{share * 100:.1f}"]
    leaks = [p for p in patterns if re.search(p, readme)]
    assert not leaks, leaks
    assert "truth" not in readme.lower() and "planted" not in readme.lower()
