"""The privacy toolkit on hand-made tables: the scan, pseudonyms, generalization, k, small cells,
and publishing's refusal to write a table that fails its checks."""
from __future__ import annotations

import inspect

import pandas as pd
import pytest
from click.testing import CliRunner

from policylab.data import files, privacy, publish
from policylab.data.privacy import PseudonymKeyError

KEY = b"a-test-key-that-is-long-enough-0123456789"

# Identifiers hidden in Korean free text, glued to Hangul on both sides where that is natural.
HIDDEN_IN_TEXT = [
    ("연락처010-1234-5678입니다", "휴대전화번호", "010-1234-5678"),
    ("급하면 01098765432로 전화 주세요", "휴대전화번호", "01098765432"),
    ("휴대폰 010 2345 6789 남깁니다", "휴대전화번호", "010 2345 6789"),
    ("해외에서는+82 10-2345-6789로", "휴대전화번호", "+82 10-2345-6789"),
    ("회신 +821023456789 부탁", "휴대전화번호", "+821023456789"),
    ("연락처010.2345.6789입니다", "휴대전화번호", "010.2345.6789"),
    ("사무실 02-123-4567 또는", "유선전화번호", "02-123-4567"),
    ("댁(042)234-5678로 연락", "유선전화번호", "(042)234-5678"),
    ("주민번호는900101-1234567이고", "주민등록번호", "900101-1234567"),
    ("등록번호 0512254123456 확인", "주민등록번호", "0512254123456"),
    ("차량12가3456견인 요청", "차량번호", "12가3456"),
    ("앞차 123나 4567 차주에게", "차량번호", "123나 4567"),
    ("서울12거3456 이중주차", "차량번호", "서울12거3456"),
    ("회신은hong.gildong@example.com으로", "이메일", "hong.gildong@example.com"),
]

# Things that look numeric but are not identifiers: the scan must stay quiet on them.
NOT_IDENTIFIERS = [
    "2025-01-01 09:05", "2024.03.01", "12,300원", "351-2-000001", "36.365745", "127.415377",
    "V3f01012345678ab", "M0101234567890", "0.01012345678", "101동 1203호", "12월3456", "3층 1234번",
    "[휴대전화번호]", "1588-1234", "20250101", "2023-000123",
]


@pytest.mark.parametrize("text,kind,value", HIDDEN_IN_TEXT)
def test_scan_finds_identifiers_hidden_in_korean_free_text(text, kind, value):
    assert (kind, value) in privacy.find_identifiers(text)


@pytest.mark.parametrize("text", NOT_IDENTIFIERS)
def test_scan_ignores_dates_codes_amounts_and_pseudonyms(text):
    assert privacy.find_identifiers(text) == []


def test_scan_reports_column_row_and_kind_in_every_column():
    df = pd.DataFrame({
        "번호": ["1", "2", "3"],
        "메모": ["특이사항 없음", "연락처010-1234-5678입니다", "차량12가3456견인"],
        "전화": ["", "", "01012345678"],
    })
    found = {(f.column, f.row, f.kind) for f in privacy.scan_identifiers(df)}
    assert found == {("메모", 1, "휴대전화번호"), ("메모", 2, "차량번호"), ("전화", 2, "휴대전화번호")}


def test_scrub_text_replaces_each_identifier_with_its_kind():
    text = "연락처010-1234-5678, 차량 12가3456, 메일 a@example.com"
    scrubbed = privacy.scrub_text(text)
    assert privacy.find_identifiers(scrubbed) == []
    assert scrubbed == "연락처[휴대전화번호], 차량 [차량번호], 메일 [이메일]"


def test_pseudonyms_are_keyed_stable_and_normalized():
    plates = pd.Series(["12가3456", "12가 3456", "34나5678", None])
    a = privacy.pseudonymize(plates, key=KEY, domain="vehicle", prefix="V")
    assert a[0] == a[1] != a[2] and pd.isna(a[3])
    assert a[0].startswith("V") and len(a[0]) == 17
    other_key = privacy.pseudonymize(plates, key=KEY[::-1], domain="vehicle", prefix="V")
    assert other_key[0] != a[0], "a pseudonym must depend on the secret key"
    other_domain = privacy.pseudonymize(plates, key=KEY, domain="member", prefix="V")
    assert other_domain[0] != a[0]
    assert privacy.find_identifiers(a[0]) == []


def test_no_unkeyed_hash_is_offered():
    with pytest.raises(PseudonymKeyError):
        privacy.pseudonymize(["12가3456"], key=b"", domain="vehicle")
    with pytest.raises(TypeError):
        privacy.pseudonymize(["12가3456"], domain="vehicle")  # key is required, no default
    assert "key" in inspect.signature(privacy.pseudonymize).parameters
    public = [name for name in dir(privacy) if not name.startswith("_")]
    assert not [n for n in public if n in {"hash_id", "sha256", "md5", "unkeyed_hash"}]


def test_key_comes_from_the_environment_or_a_key_file(monkeypatch, tmp_path):
    monkeypatch.delenv(privacy.KEY_ENV, raising=False)
    monkeypatch.delenv(privacy.KEY_FILE_ENV, raising=False)
    with pytest.raises(PseudonymKeyError, match="POLICYLAB_PSEUDONYM_KEY_FILE"):
        privacy.load_key()
    assert privacy.load_key(allow_demo=True) == privacy.DEMO_KEY
    assert b"DEMO-ONLY" in privacy.DEMO_KEY
    key_file = tmp_path / "steward.key"
    key_file.write_text("0123456789abcdef0123456789abcdef\n")
    monkeypatch.setenv(privacy.KEY_FILE_ENV, str(key_file))
    assert privacy.load_key() == b"0123456789abcdef0123456789abcdef"
    monkeypatch.setenv(privacy.KEY_ENV, "short")
    with pytest.raises(PseudonymKeyError, match="shorter"):
        privacy.load_key()
    monkeypatch.setenv(privacy.KEY_ENV, privacy.DEMO_KEY.decode())
    with pytest.raises(PseudonymKeyError, match="demo"):
        privacy.load_key()


def test_generalization_helpers():
    ages = privacy.age_on(pd.Series(["1960-07-15", "1960-07-15"]), pd.Series(["2025-07-14", "2025-07-15"]))
    assert ages.tolist() == [64, 65]
    assert privacy.age_band(pd.Series([17, 18, 29, 64, 65, 99])).tolist()[1:] == ["18-29", "18-29", "50-64", "65+", "65+"]
    assert pd.isna(privacy.age_band(pd.Series([17]))[0])
    assert privacy.top_code(pd.Series([40, 85, 97]), at=85).tolist() == [40, 85, 85]
    assert privacy.month_of(pd.Series(["2024-03-01", "2024-12-31"])).tolist() == ["2024-03", "2024-12"]
    dongs = privacy.dong_from_address(pd.Series(["한빛시 솔뫼로 63, 101동 1203호 (솔뫼동)",
                                                 "한빛시 한빛1동 123-4", "주소 없음"]))
    assert dongs[:2].tolist() == ["솔뫼동", "한빛1동"] and pd.isna(dongs[2])
    assert privacy.mask_name(pd.Series(["이서준", "남궁민수"])).tolist() == ["이**", "남궁**"]


def test_k_anonymity_counts_people_not_rows_when_given_an_id():
    df = pd.DataFrame({"id": ["a", "a", "a", "b", "c", "d", "e", "f"],
                       "동": ["가", "가", "가", "가", "가", "가", "나", "나"]})
    assert privacy.k_anonymity(df, ["동"]) == 2
    assert privacy.k_anonymity(df, ["동"], entity="id") == 2
    bad = privacy.k_violations(df, ["동"], k=5, entity="id")
    assert set(bad["동"]) == {"가", "나"}  # 가 has 6 rows but only 4 people
    kept, dropped = privacy.enforce_k(df, ["동"], k=2, entity="id")
    assert dropped == 0 and len(kept) == 8


def test_recode_rare_generalizes_small_classes_only():
    df = pd.DataFrame({"동": ["가"] * 7, "성": ["김"] * 5 + ["독고", "제갈"]})
    out = privacy.recode_rare(df, "성", quasi=["동", "성"], k=5)
    assert out["성"].tolist() == ["김"] * 5 + ["***", "***"]


def test_small_cells_are_found_and_suppressed_but_zero_is_kept():
    table = pd.DataFrame({"동": ["가", "나", "다"], "n": [0, 3, 12]})
    assert privacy.small_cells(table, ["n"]) == [(1, "n", 3)]
    out = privacy.suppress_small_cells(table, ["n"])
    assert out["n"].tolist()[0] == 0 and pd.isna(out["n"][1]) and out["n"][2] == 12


def test_publishing_refuses_a_table_with_an_identifier_naming_table_column_and_rows():
    table = publish.Table("voc_fixture", publish._as_is, (files.Output("voc.csv"),), quasi=("행정동",))
    df = pd.DataFrame({"행정동": ["중앙동"] * 6, "내용": ["좋아요"] * 4 + ["연락처010-1234-5678", "안녕"]})
    with pytest.raises(publish.PublishError) as err:
        publish.check_table(table, df)
    message = str(err.value)
    assert "voc_fixture" in message and "'내용'" in message and "rows 4" in message and "휴대전화번호" in message


def test_publishing_refuses_a_table_that_is_not_k_anonymous():
    table = publish.Table("survey_fixture", publish._as_is, (files.Output("s.csv"),), quasi=("행정동", "연령대"))
    df = pd.DataFrame({"행정동": ["중앙동"] * 5 + ["다솜동"] * 2, "연령대": ["65+"] * 7})
    with pytest.raises(publish.PublishError, match=r"survey_fixture.*'행정동', '연령대'.*다솜동.*rows 5, 6"):
        publish.check_table(table, df)


def test_publishing_refuses_an_aggregate_with_a_small_cell():
    table = publish.Table("agg_fixture", publish._as_is, (files.Output("a.csv"),), counts=("인구수",))
    df = pd.DataFrame({"행정동": ["중앙동", "다솜동"], "인구수": [120, 3]})
    with pytest.raises(publish.PublishError, match=r"agg_fixture.*'인구수'.*row 1"):
        publish.check_table(table, df)


def test_scan_command_reads_cp949_and_reports_k(tmp_path):
    from policylab.cli import main

    path = tmp_path / "steward_export_cp949_with_phone.csv"
    pd.DataFrame({"행정동": ["중앙동"] * 5 + ["다솜동"], "성별": ["여"] * 6,
                  "메모": ["없음"] * 5 + ["연락처 010-2222-3333"]}).to_csv(path, index=False, encoding="cp949")
    result = CliRunner().invoke(main, ["data", "scan", str(path), "--quasi", "행정동,성별"])
    assert result.exit_code == 1, result.output
    assert "메모: 휴대전화번호 1건" in result.output and "k = 1" in result.output
    clean = tmp_path / "clean.csv"
    pd.DataFrame({"행정동": ["중앙동"] * 5, "성별": ["여"] * 5}).to_csv(clean, index=False)
    result = CliRunner().invoke(main, ["data", "scan", str(clean), "--quasi", "행정동,성별"])
    assert result.exit_code == 0 and "k = 5 (OK)" in result.output
    result = CliRunner().invoke(main, ["data", "scan", str(clean), "--quasi", "주소"])
    assert result.exit_code != 0 and "주소" in result.output
