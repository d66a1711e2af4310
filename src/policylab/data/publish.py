"""Raw synthetic tables → ``datasets/``: apply the privacy rules, check, write, document.

One ordered list of tables (``TABLES``): for each, the step that anonymizes its raw form,
the quasi-identifiers it must be k-anonymous over, the count columns that must have no
small cells, and the files it is written to. ``build_datasets`` refuses to write a table
that fails its checks; ``check_datasets`` re-verifies what is on disk against
``MANIFEST.json`` and re-runs the same privacy checks.
"""
from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from policylab.data import dictionary, privacy
from policylab.data.files import Output, file_bytes, sha256, xlsx_columns
from policylab.data.synth import generate, truth

K_MIN = 5
SMALL_CELL = 5
MANIFEST = "MANIFEST.json"
README = "README.md"


class PublishError(ValueError):
    """A table failed its privacy checks; the message names the table, the column and the rows."""


@dataclass(frozen=True)
class Table:
    name: str
    prepare: Callable[[pd.DataFrame, bytes], pd.DataFrame]
    outputs: tuple[Output, ...]
    quasi: tuple[str, ...] = ()
    entity: str | None = None
    counts: tuple[str, ...] = ()
    fake_pii: bool = False


# --- One anonymizing step per table --------------------------------------------------------

def _as_is(raw: pd.DataFrame, key: bytes) -> pd.DataFrame:
    return raw.copy()


def _sessions(raw: pd.DataFrame, key: bytes) -> pd.DataFrame:
    out = raw.copy()
    out.insert(out.columns.get_loc("차량번호"), "차량ID",
               privacy.pseudonymize(out["차량번호"], key=key, domain="vehicle", prefix="V"))
    out = out.drop(columns=["차량번호"])
    quasi = TABLE_QUASI["parking_sessions"]
    out = privacy.recode_rare(out, "감면구분", quasi=quasi, k=K_MIN, other="기타감면", entity="차량ID")
    out, _dropped = privacy.enforce_k(out, quasi, k=K_MIN, entity="차량ID")  # the few left over
    return out


def _sms(raw: pd.DataFrame, key: bytes) -> pd.DataFrame:
    out = raw.drop(columns=["차량번호", "휴대전화"])
    out.insert(0, "사건ID", privacy.pseudonymize(out.pop("사건번호"), key=key, domain="unpaid-case",
                                                 prefix="C", length=12))
    out["30일내납부"] = (out["납부소요일"].fillna(999) <= 30).astype("int64")
    return out


def _sports(raw: pd.DataFrame, key: bytes) -> pd.DataFrame:
    month_end = pd.to_datetime(raw["수강월"] + "-01") + pd.offsets.MonthEnd(0)
    age = privacy.top_code(privacy.age_on(raw["생년월일"], month_end), at=85)
    out = pd.DataFrame({"회원ID": privacy.pseudonymize(raw["회원번호"], key=key, domain="member", prefix="M",
                                                     length=12),
                        "나이": age.astype("int64")})
    keep = ["성별", "시설명", "프로그램", "수강월", "감면구분", "수강료", "출석일수", "대기여부"]
    return pd.concat([out, raw[keep]], axis=1)


def _complaints(raw: pd.DataFrame, key: bytes) -> pd.DataFrame:
    out = raw.copy()
    out.insert(0, "민원ID", privacy.pseudonymize(out.pop("접수번호"), key=key, domain="complaint", prefix="Q",
                                               length=12))
    out["작성자"] = privacy.mask_name(out["작성자"])
    out["내용"] = out["내용"].map(privacy.scrub_text)
    return privacy.recode_rare(out, "작성자", quasi=TABLE_QUASI["complaints"], k=K_MIN, other="***")


def _survey(raw: pd.DataFrame, key: bytes) -> pd.DataFrame:
    out = raw.drop(columns=["휴대전화"])
    out.insert(0, "응답자ID", [f"R{i + 1:04d}" for i in range(len(out))])
    out.insert(out.columns.get_loc("나이"), "연령대",
               privacy.age_band(out["나이"], edges=(18, 30, 40, 50, 65)))
    return out.drop(columns=["나이"])


def _margins(raw: pd.DataFrame, key: bytes) -> pd.DataFrame:
    return privacy.suppress_small_cells(raw, ["인구수"], threshold=SMALL_CELL)


TABLE_QUASI = {
    "parking_sessions": ("주차장관리번호", "요금구분", "감면구분"),
    "sms_trial": ("주차장관리번호", "요금구분"),
    "sports_enrolments": ("나이", "성별", "시설명"),
    "complaints": ("행정동", "작성자"),
    "survey": ("행정동", "성별", "연령대"),
}

TABLES: tuple[Table, ...] = (
    Table("parking_lots", _as_is, (Output("parking_lots.csv"), Output("parking_lots_cp949.csv", encoding="cp949"))),
    Table("parking_tariffs", _as_is, (Output("parking_tariffs.csv"),)),
    Table("parking_sessions", _sessions, (Output("parking_sessions.csv.gz", "csv.gz"),),
          quasi=TABLE_QUASI["parking_sessions"], entity="차량ID"),
    Table("sms_trial", _sms, (Output("sms_trial.csv"),), quasi=TABLE_QUASI["sms_trial"]),
    Table("sports_enrolments", _sports, (Output("sports_enrolments.csv.gz", "csv.gz"),),
          quasi=TABLE_QUASI["sports_enrolments"], entity="회원ID"),
    Table("complaints", _complaints, (Output("complaints.csv"),), quasi=TABLE_QUASI["complaints"]),
    Table("energy_monthly", _as_is, (Output("energy_monthly.csv"), Output("energy_monthly.xlsx", "xlsx"))),
    Table("survey", _survey, (Output("survey.csv"),), quasi=TABLE_QUASI["survey"]),
    Table("survey_margins", _margins, (Output("survey_margins.csv"),), counts=("인구수",)),
    Table("raw_sample", _as_is, (Output("raw_sample_FAKE_PII.csv"),), fake_pii=True),
)


def table_spec(name: str) -> Table:
    for table in TABLES:
        if table.name == name:
            return table
    raise KeyError(f"no published table {name!r}; known: {[t.name for t in TABLES]}")


# --- Checks -------------------------------------------------------------------------------

def _rows(rows: list[int], limit: int = 8) -> str:
    shown = ", ".join(str(r) for r in rows[:limit])
    return shown + (f" … ({len(rows)} rows)" if len(rows) > limit else "")


def find_problems(table: Table, df: pd.DataFrame) -> list[str]:
    """Every reason ``df`` may not be published as ``table``, each naming table, column and rows
    (rows are 0-based data rows, not counting the header)."""
    problems = []
    findings = privacy.scan_identifiers(df)
    if table.fake_pii:
        if not findings:
            problems.append(f"{table.name}: marked as the fake-PII sample but the scan finds no identifiers")
    else:
        by_column: dict[tuple[str, str], list[int]] = {}
        for f in findings:
            by_column.setdefault((f.column, f.kind), []).append(f.row)
        for (column, kind), rows in by_column.items():
            problems.append(f"{table.name}: column {column!r} holds a direct identifier ({kind}) "
                            f"in rows {_rows(rows)}")
    if table.quasi:
        bad = privacy.k_violations(df, table.quasi, k=K_MIN, entity=table.entity)
        for _, cls in bad.iterrows():
            values = ", ".join(f"{c}={cls[c]}" for c in table.quasi)
            problems.append(f"{table.name}: columns {list(table.quasi)} are not {K_MIN}-anonymous: "
                            f"class ({values}) has {cls['size']} {'people' if table.entity else 'rows'} "
                            f"in rows {_rows(cls['rows'])}")
    for row, column, value in privacy.small_cells(df, table.counts, threshold=SMALL_CELL):
        problems.append(f"{table.name}: column {column!r} has a small cell ({value} < {SMALL_CELL}) in row {row}")
    return problems


def check_table(table: Table, df: pd.DataFrame) -> None:
    """Raise PublishError if ``df`` may not be published."""
    problems = find_problems(table, df)
    if problems:
        raise PublishError(f"Refusing to publish table {table.name!r}:\n  " + "\n  ".join(problems))


# --- Build and check ----------------------------------------------------------------------

def _datasets_dir(root: Path | None, out: Path | None) -> Path:
    if out is not None:
        return Path(out)
    from policylab.course.paths import find_root
    return (Path(root) if root else find_root()) / "datasets"


def prepare_tables(*, seed: int = truth.SEED, key: bytes | None = None) -> dict[str, pd.DataFrame]:
    """Every table as it will be published, checked. ``key`` defaults to the DEMO key, which
    is only acceptable because the data are synthetic; pass a secret key for real records."""
    key = key or privacy.DEMO_KEY
    raw = generate.generate_raw(seed=seed)
    published = {}
    for table in TABLES:
        df = table.prepare(raw[table.name], key).reset_index(drop=True)
        df.attrs = {}
        check_table(table, df)
        published[table.name] = df
    return published


def build_datasets(*, root: Path | None = None, out: Path | None = None, seed: int = truth.SEED,
                   key: bytes | None = None) -> list[Path]:
    """Regenerate ``datasets/`` (or ``out``): files, README.md and MANIFEST.json. Deterministic."""
    target = _datasets_dir(root, out)
    target.mkdir(parents=True, exist_ok=True)
    published = prepare_tables(seed=seed, key=key)
    manifest = {"about": "PolicyLab synthetic datasets; rebuild with `policylab data build`, "
                         "verify with `policylab data check`.",
                "seed": seed, "pseudonym_key": "DEMO (synthetic data only)" if key is None else "secret",
                "files": {}}
    written = []
    for table in TABLES:
        df = published[table.name]
        for output in table.outputs:
            data = file_bytes(df, output)
            path = target / output.file
            if not path.exists() or path.read_bytes() != data:
                path.write_bytes(data)
            written.append(path)
            manifest["files"][output.file] = {
                "table": table.name, "format": output.kind, "encoding": output.encoding,
                "rows": len(df), "columns": xlsx_columns() if output.kind == "xlsx" else list(df.columns),
                "bytes": len(data), "sha256": sha256(data),
                "quasi_identifiers": list(table.quasi), "fake_personal_data": table.fake_pii,
            }
    (target / README).write_text(render_readme(published), encoding="utf-8")
    (target / MANIFEST).write_text(json.dumps(manifest, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return [*written, target / README, target / MANIFEST]


def read_published(path: Path, output: Output) -> pd.DataFrame:
    """A published file read back as text (every column ``str``, blanks missing). A workbook's
    two-row header is flattened to 'group/item' names."""
    if output.kind == "xlsx":
        df = pd.read_excel(path, header=None, dtype=str)
        group = df.iloc[0].ffill()
        df.columns = [g if pd.isna(i) else f"{g}/{i}" for g, i in zip(group, df.iloc[1])]
        return df.iloc[2:].reset_index(drop=True)
    return pd.read_csv(path, dtype=str, encoding=output.encoding, keep_default_na=False, na_values=[""])


def check_datasets(*, root: Path | None = None, directory: Path | None = None) -> list[str]:
    """Problems with ``datasets/``: files missing, changed or unlisted against MANIFEST.json,
    wrong rows or columns, and any privacy check that fails. An empty list means all is well."""
    target = _datasets_dir(root, directory)
    manifest_path = target / MANIFEST
    if not manifest_path.is_file():
        return [f"{manifest_path}: missing; run `policylab data build`."]
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    problems = []
    listed = set(manifest["files"])
    for extra in sorted(p.name for p in target.iterdir() if p.is_file()):
        if extra not in listed | {README, MANIFEST} and not extra.startswith("."):
            problems.append(f"{target / extra}: not in {MANIFEST} (remove it or rebuild)")
    outputs = {o.file: (t, o) for t in TABLES for o in t.outputs}
    for name, entry in manifest["files"].items():
        path = target / name
        if not path.is_file():
            problems.append(f"{path}: listed in {MANIFEST} but missing; run `policylab data build`.")
            continue
        if sha256(path.read_bytes()) != entry["sha256"]:
            problems.append(f"{path}: sha256 differs from {MANIFEST}; the file was edited. "
                            "Rebuild with `policylab data build`.")
        if name not in outputs:
            problems.append(f"{path}: no table spec publishes this file")
            continue
        table, output = outputs[name]
        df = read_published(path, output)
        if len(df) != entry["rows"]:
            problems.append(f"{path}: {len(df)} rows, {MANIFEST} says {entry['rows']}")
        if list(df.columns) != entry["columns"]:
            problems.append(f"{path}: columns {list(df.columns)} differ from {MANIFEST} {entry['columns']}")
        problems += [f"{path}: {p}" for p in find_problems(table, df)]
    return problems


# --- The data dictionary --------------------------------------------------------------------

def _md(text: object) -> str:
    return str(text).replace("|", "\\|")


def render_readme(published: dict[str, pd.DataFrame]) -> str:
    files_of = {t.name: [o.file for o in t.outputs] for t in TABLES}
    lines = [
        "# PolicyLab 데이터셋 / PolicyLab datasets",
        "",
        "이 폴더의 모든 자료는 **가상(synthetic) 자료**입니다. 가상의 도시 한빛시의 한빛시설관리공단이 운영하는 "
        "공영주차장, 체육시설, 고객의소리, 시설 에너지, 시민만족도 조사를 흉내 내어 `policylab data build`가 "
        "하나의 시드(seed)로 만듭니다. 실제 공단이나 실존 인물의 정보는 없습니다.",
        "",
        "Everything here is **synthetic**: `policylab data build` generates it from one seed, imitating the public "
        "parking, sports facilities, complaints, facility energy and citizen survey of a fictitious city corporation "
        "(한빛시설관리공단). No real organisation's or person's data is included.",
        "",
        "## 개인정보 처리 / Privacy processing",
        "",
        "- 생성기는 먼저 가짜 개인정보가 든 원본을 만들고, 실제 데이터 담당자가 하는 것과 같은 단계로 공개본을 만듭니다 "
        "(`policylab.data.privacy`). The generator first builds raw records with fake personal details, then publishes "
        "them through the same steps a data steward applies to real records.",
        "- 이름·주민등록번호·전화번호·차량번호·상세주소 같은 직접 식별자는 공개하지 않습니다. 기록을 이어야 하는 식별자는 "
        "키가 있는 가명(HMAC-SHA256; 차량ID, 회원ID 등)으로 바꿉니다. Direct identifiers are never published; identifiers "
        "that must link records become keyed HMAC-SHA256 pseudonyms.",
        "- 이 가상 자료의 가명은 소스 코드에 공개된 **데모 키**로 만들었습니다(가상 자료라서 괜찮습니다). 실제 자료에는 "
        "저장소 밖에 둔 비밀 키(`POLICYLAB_PSEUDONYM_KEY_FILE`)를 써야 합니다. The pseudonyms here use the published "
        "DEMO key, acceptable only because the data are synthetic; real records need a secret key kept outside git.",
        "- 준식별자는 각 표에 적은 조합에서 k ≥ 5가 되도록 일반화했습니다(나이→연령대, 상한 코딩, 드문 값 묶기). "
        "공개 집계표는 5 미만 칸을 가립니다. Quasi-identifiers are generalized until k ≥ 5 over each table's listed "
        "combination; published aggregates suppress cells under 5.",
        "- `raw_sample_FAKE_PII.csv`만 (가짜) 개인정보를 담고 있으며 개인정보 수업용입니다. Only "
        "`raw_sample_FAKE_PII.csv` holds (fake) personal data, for the privacy lesson.",
        "- 점검: `policylab data check` (MANIFEST.json의 sha256·행·열 확인과 개인정보 점검), "
        "`policylab data scan 파일 --quasi 열,열` (어떤 CSV/엑셀이든 식별자 탐지와 k 계산).",
        "",
        "## 공통 / Common",
        "",
        "- 기간 / period: 2023-01-01 ~ 2026-06-30 (표마다 다를 수 있음 / unless a table says otherwise).",
        "- 인코딩 / encoding: UTF-8 (쉼표 구분, 머리글 1행), `parking_lots_cp949.csv`만 CP949. "
        "`.csv.gz`는 `pd.read_csv`가 바로 읽습니다.",
        "- 노트북에서는 `from policylab.course.paths import DATASETS` 후 `pd.read_csv(DATASETS / \"파일\")`로 읽습니다.",
        "- 빈칸은 값이 없음을 뜻합니다 / blank = missing.",
        "",
    ]
    for table in TABLES:
        doc = dictionary.TABLES[table.name]
        df = published[table.name]
        files = ", ".join(f"`{f}`" for f in files_of[table.name])
        lines += [
            f"## {doc.title_ko} / {doc.title_en}",
            "",
            f"- 파일 / file: {files}",
            f"- 행 단위 / row: {doc.row_ko} / {doc.row_en}",
            f"- 행 수 / rows: {len(df):,}",
        ]
        if table.quasi:
            entity = f" (사람 단위: `{table.entity}`)" if table.entity else ""
            lines.append(f"- 준식별자 / quasi-identifiers (k ≥ {K_MIN}): "
                         + ", ".join(f"`{q}`" for q in table.quasi) + entity)
        lines += ["", doc.about_ko, "", doc.about_en, "",
                  "| 열 (column) | English alias | 설명 | Description |", "|---|---|---|---|"]
        documented = {c.name: c for c in doc.columns}
        undocumented = [c for c in df.columns if c not in documented]
        if undocumented:
            raise PublishError(f"{table.name}: columns {undocumented} are missing from "
                               "policylab/data/dictionary.py; document them before publishing.")
        for column in df.columns:
            c = documented[column]
            lines.append(f"| {_md(c.name)} | `{c.alias}` | {_md(c.ko)} | {_md(c.en)} |")
        lines.append("")
    return "\n".join(lines)
