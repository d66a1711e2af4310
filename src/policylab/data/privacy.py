"""The privacy toolkit: keyed pseudonyms, generalization, suppression, k-anonymity and a
scan for direct identifiers. Usable on real data as well as on PolicyLab's synthetic tables.

- Pseudonyms are HMAC-SHA256 with a secret key (``$POLICYLAB_PSEUDONYM_KEY``, or a key
  file named by ``$POLICYLAB_PSEUDONYM_KEY_FILE``, kept out of git). An unkeyed hash of a
  plate or phone number can be reversed by hashing every possible plate, so none is offered.
- The scan looks for resident registration numbers, mobile (also '+82 10 …') and landline numbers, vehicle
  plates and e-mail addresses in every column, free text included. Hangul is a word
  character to Python's ``re``, so ``\\b`` cannot delimit an identifier glued to Korean
  text ("연락처010-1234-5678입니다"); the patterns use explicit look-arounds instead.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

KEY_ENV = "POLICYLAB_PSEUDONYM_KEY"
KEY_FILE_ENV = "POLICYLAB_PSEUDONYM_KEY_FILE"
#: DEMO ONLY. Published in the source code, so it protects nothing: used only to build the
#: synthetic course datasets reproducibly. Never use it on real records.
DEMO_KEY = b"policylab-DEMO-ONLY-key--synthetic-data--never-use-on-real-records"
MIN_KEY_BYTES = 16


class PseudonymKeyError(RuntimeError):
    """No usable pseudonymization key; the message says how to provide one."""


def load_key(*, allow_demo: bool = False) -> bytes:
    """The pseudonymization key: ``$POLICYLAB_PSEUDONYM_KEY``, else the file named by
    ``$POLICYLAB_PSEUDONYM_KEY_FILE``; with ``allow_demo`` (synthetic data only) the demo key."""
    value = os.environ.get(KEY_ENV)
    if value:
        key = value.strip().encode("utf-8")
        source = f"${KEY_ENV}"
    elif os.environ.get(KEY_FILE_ENV):
        path = Path(os.environ[KEY_FILE_ENV]).expanduser()
        if not path.is_file():
            raise PseudonymKeyError(f"${KEY_FILE_ENV} names {path}, which does not exist.")
        key = path.read_bytes().strip()
        source = str(path)
    elif allow_demo:
        return DEMO_KEY
    else:
        raise PseudonymKeyError(
            f"No pseudonymization key. Create one outside the repository, e.g.\n"
            f"  python -c \"import secrets; print(secrets.token_hex(32))\" > ~/.policylab-key\n"
            f"and set {KEY_FILE_ENV}=~/.policylab-key (or put the key itself in ${KEY_ENV}).")
    if len(key) < MIN_KEY_BYTES:
        raise PseudonymKeyError(f"The key from {source} is shorter than {MIN_KEY_BYTES} bytes; "
                                "use e.g. secrets.token_hex(32).")
    if key == DEMO_KEY:
        raise PseudonymKeyError(f"The key from {source} is the published demo key; make a secret one.")
    return key


def normalize_identifier(value: object) -> str:
    """The canonical form hashed: no spaces, hyphens or dots, Latin letters upper-cased,
    so '12가 3456' and '12가3456', or '010-1234-5678' and '01012345678', get one pseudonym."""
    return re.sub(r"[\s\-.]", "", str(value)).upper()


def pseudonymize(values: Iterable | pd.Series, *, key: bytes, domain: str, prefix: str = "",
                 length: int = 16) -> pd.Series:
    """Keyed pseudonyms: ``prefix`` + the first ``length`` hex digits of
    HMAC-SHA256(key, domain + ':' + normalized value). The ``domain`` ('vehicle', 'member' …)
    keeps equal strings of different kinds apart. Missing values stay missing.

    Use a prefix of Latin letters (e.g. 'V'): it also keeps a pseudonym's digits from ever
    reading as a phone or registration number to the identifier scan."""
    if not isinstance(key, bytes) or len(key) < MIN_KEY_BYTES:
        raise PseudonymKeyError("pseudonymize() needs a secret key; see load_key().")
    if not 8 <= length <= 64:
        raise ValueError("length must be between 8 and 64 hex digits")
    series = values if isinstance(values, pd.Series) else pd.Series(list(values))
    cache: dict[str, str] = {}

    def one(value: object) -> object:
        if pd.isna(value):
            return pd.NA
        text = normalize_identifier(value)
        if text not in cache:
            mac = hmac.new(key, f"{domain}:{text}".encode("utf-8"), hashlib.sha256)
            cache[text] = prefix + mac.hexdigest()[:length]
        return cache[text]

    return series.map(one).astype("str")


# --- Generalization ---------------------------------------------------------------------

def age_on(birth_dates: pd.Series, on: dt.date | pd.Series) -> pd.Series:
    """Age in completed years on a date (or on each row's date)."""
    birth = pd.to_datetime(birth_dates)
    ref = pd.to_datetime(pd.Series(on, index=birth.index)) if not isinstance(on, pd.Series) else pd.to_datetime(on)
    before_birthday = (ref.dt.month < birth.dt.month) | (
        (ref.dt.month == birth.dt.month) & (ref.dt.day < birth.dt.day))
    return (ref.dt.year - birth.dt.year - before_birthday.astype(int)).astype("int64")


def age_band(ages: pd.Series, *, edges: Sequence[int] = (18, 30, 40, 50, 65),
             labels: Sequence[str] | None = None) -> pd.Series:
    """Age bands from lower edges: (18, 30, 40, 50, 65) gives '18-29', … '50-64', '65+'.
    Ages under the first edge become missing."""
    edges = list(edges)
    if labels is None:
        labels = [f"{lo}-{hi - 1}" for lo, hi in zip(edges, edges[1:])] + [f"{edges[-1]}+"]
    if len(labels) != len(edges):
        raise ValueError("one label per lower edge")
    banded = pd.cut(pd.Series(ages), bins=[*edges, float("inf")], right=False, labels=list(labels))
    return banded.astype("str").where(banded.notna())


def top_code(values: pd.Series, *, at: float, bottom: float | None = None) -> pd.Series:
    """Cap values at ``at`` (and floor them at ``bottom``): 91 → 85 with at=85."""
    return pd.Series(values).clip(lower=bottom, upper=at)


def month_of(dates: pd.Series) -> pd.Series:
    """'YYYY-MM' from dates or date strings."""
    return pd.to_datetime(pd.Series(dates)).dt.strftime("%Y-%m")


_DONG = re.compile(r"(?<![0-9가-힣])([가-힣]+[0-9]*(?:동|읍|면))(?![가-힣])")


def dong_from_address(addresses: pd.Series, *, known: Iterable[str] | None = None) -> pd.Series:
    """The 행정동/읍/면 named in an address: the '(솔뫼동)' of a road address or the '솔뫼동'
    of a lot-number address. Building numbers such as '101동' are skipped. With ``known``,
    only names in that list count; anything else becomes missing."""
    known = set(known) if known is not None else None

    def one(address: object) -> object:
        if pd.isna(address):
            return pd.NA
        for match in _DONG.finditer(str(address)):
            name = match.group(1)
            if known is None or name in known:
                return name
        return pd.NA

    return pd.Series(addresses).map(one).astype("str")


def mask_name(names: pd.Series) -> pd.Series:
    """'이서준' → '이**', keeping a two-syllable surname ('남궁민수' → '남궁**') when listed."""
    def one(name: object) -> object:
        if pd.isna(name):
            return pd.NA
        text = str(name).strip()
        surname = text[:2] if text[:2] in TWO_SYLLABLE_SURNAMES and len(text) > 3 else text[:1]
        return surname + "**"
    return pd.Series(names).map(one).astype("str")


TWO_SYLLABLE_SURNAMES = frozenset({"남궁", "제갈", "선우", "황보", "독고", "사공", "서문", "동방"})


def recode_rare(df: pd.DataFrame, column: str, *, quasi: Sequence[str], k: int = 5,
                other: str = "***", entity: str | None = None) -> pd.DataFrame:
    """Replace ``column``'s value by ``other`` in every row whose class over ``quasi``
    (which includes ``column``) has fewer than ``k`` members. Returns a copy."""
    if column not in quasi:
        raise ValueError(f"{column!r} must be one of the quasi-identifiers {list(quasi)}")
    out = df.copy()
    sizes = class_sizes(out, quasi, entity=entity)
    small = sizes < k
    out[column] = out[column].astype("str").where(~small, other)
    return out


# --- k-anonymity and small cells --------------------------------------------------------

def class_sizes(df: pd.DataFrame, quasi: Sequence[str], *, entity: str | None = None) -> pd.Series:
    """For each row, the size of its equivalence class over ``quasi``: the number of rows,
    or with ``entity`` (a person's pseudonym column) the number of distinct people."""
    missing = [c for c in quasi if c not in df.columns]
    if missing:
        raise KeyError(f"quasi-identifier column(s) not in the table: {missing}")
    if not quasi:
        return pd.Series(len(df), index=df.index)
    keys = [df[c].astype("str").fillna("<NA>") for c in quasi]
    if entity is None:
        return df.groupby(keys, sort=False, dropna=False)[quasi[0]].transform("size")
    return df.groupby(keys, sort=False, dropna=False)[entity].transform("nunique")


def k_anonymity(df: pd.DataFrame, quasi: Sequence[str], *, entity: str | None = None) -> int:
    """The table's k: the smallest equivalence class over the quasi-identifiers."""
    if df.empty:
        return 0
    return int(class_sizes(df, quasi, entity=entity).min())


def k_violations(df: pd.DataFrame, quasi: Sequence[str], *, k: int = 5,
                 entity: str | None = None) -> pd.DataFrame:
    """The equivalence classes smaller than ``k``: their quasi-identifier values, size and rows."""
    sizes = class_sizes(df, quasi, entity=entity)
    bad = df.loc[sizes < k, list(quasi)].copy()
    bad["size"] = sizes[sizes < k]
    bad["row"] = bad.index
    if bad.empty:
        return bad
    return (bad.groupby(list(quasi), dropna=False, sort=True)
               .agg(size=("size", "first"), rows=("row", list)).reset_index())


def enforce_k(df: pd.DataFrame, quasi: Sequence[str], *, k: int = 5,
              entity: str | None = None) -> tuple[pd.DataFrame, int]:
    """Suppress (drop) the rows of classes smaller than ``k``; returns the table and how many
    rows went. Prefer generalizing first (bands, top-coding, ``recode_rare``)."""
    keep = class_sizes(df, quasi, entity=entity) >= k
    return df.loc[keep].reset_index(drop=True), int((~keep).sum())


def small_cells(table: pd.DataFrame, counts: Sequence[str], *, threshold: int = 5) -> list[tuple[int, str, int]]:
    """(row, column, value) of every published count 1 … threshold-1. Zero is not disclosive."""
    found = []
    for column in counts:
        values = pd.to_numeric(table[column], errors="coerce")
        for row in table.index[(values > 0) & (values < threshold)]:
            found.append((int(row), column, int(values[row])))
    return found


def suppress_small_cells(table: pd.DataFrame, counts: Sequence[str], *, threshold: int = 5) -> pd.DataFrame:
    """Blank every count 1 … threshold-1 (the published cell is missing, not zero)."""
    out = table.copy()
    for column in counts:
        values = pd.to_numeric(out[column], errors="coerce")
        out[column] = values.astype("Int64").mask((values > 0) & (values < threshold))
    return out


# --- The direct-identifier scan ---------------------------------------------------------

# A boundary that works next to Hangul: no ASCII letter, digit, '_' or '.' just before and
# no ASCII letter, digit or '_' just after. Hangul may touch ('연락처010-…입니다'); a digit run
# inside a longer token (a pseudonym 'V3f01012345678', a float 0.01012345678) may not.
_L = r"(?<![0-9A-Za-z_.])"
_R = r"(?![0-9A-Za-z_])"
_SEP = r"[-.\s]?"
PLATE_SYLLABLES = "가나다라마거너더러머버서어저고노도로모보소오조구누두루무부수우주아바사자배하허호육해공국합"
REGIONS = "서울|부산|대구|인천|광주|대전|울산|세종|경기|강원|충북|충남|전북|전남|경북|경남|제주"

PATTERNS: dict[str, re.Pattern] = {
    "주민등록번호": re.compile(
        _L + r"\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\s?[-–]?\s?[1-8]\d{6}" + _R),
    "휴대전화번호": re.compile(_L + r"(?:\+82" + _SEP + r"1[016789]|01[016789])" + _SEP + r"\d{3,4}" + _SEP + r"\d{4}" + _R),
    "유선전화번호": re.compile(
        _L + r"(?:\(?0(?:2|[3-6][1-5]|70)\)?)" + r"[-.\s)]?" + r"\d{3,4}" + _SEP + r"\d{4}" + _R),
    "차량번호": re.compile(
        r"(?<![0-9])(?:(?:" + REGIONS + r")\s?)?\d{2,3}\s?[" + PLATE_SYLLABLES + r"]\s?\d{4}(?![0-9])"),
    "이메일": re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}"),
}
_ANY = re.compile("|".join(f"(?:{p.pattern})" for p in PATTERNS.values()))


@dataclass(frozen=True)
class Finding:
    column: str
    row: int
    kind: str
    match: str

    @property
    def masked(self) -> str:
        """The match with its middle hidden, for printing."""
        text = self.match
        keep = max(1, len(text) // 4)
        return text[:keep] + "*" * (len(text) - 2 * keep) + text[-keep:]


def find_identifiers(text: object) -> list[tuple[str, str]]:
    """(kind, match) for every direct identifier in one string."""
    if text is None or (not isinstance(text, str) and pd.isna(text)):
        return []
    text = str(text)
    if not _ANY.search(text):
        return []
    found = []
    for kind, pattern in PATTERNS.items():
        found += [(kind, m.group(0)) for m in pattern.finditer(text)]
    return found


def scan_identifiers(df: pd.DataFrame, *, columns: Sequence[str] | None = None) -> list[Finding]:
    """Every direct identifier in every cell (all columns are scanned as text, so read files
    with ``dtype=str`` to keep leading zeros). Each distinct value is matched once."""
    findings: list[Finding] = []
    for column in columns or list(df.columns):
        values = df[column]
        text = values.astype("str").where(values.notna(), "")
        uniques = pd.unique(text)
        hits = {u: found for u in uniques if (found := find_identifiers(u))}
        if not hits:
            continue
        for row in text.index[text.isin(list(hits))]:
            for kind, match in hits[text[row]]:
                findings.append(Finding(str(column), int(row), kind, match))
    return findings


def scrub_text(text: object) -> object:
    """Free text with every direct identifier replaced by its kind in brackets:
    '010-1234-5678로 연락' → '[휴대전화번호]로 연락'."""
    if text is None or (not isinstance(text, str) and pd.isna(text)):
        return text
    out = str(text)
    for kind, pattern in PATTERNS.items():
        out = pattern.sub(f"[{kind}]", out)
    return out


# --- Reading any table a data steward hands over ---------------------------------------

def read_table(path: str | os.PathLike) -> pd.DataFrame:
    """A CSV (UTF-8 or CP949, optionally .gz) or Excel file, every column as text."""
    path = Path(path)
    if path.suffix.lower() in (".xlsx", ".xlsm", ".xls"):
        return pd.read_excel(path, dtype=str, keep_default_na=False, na_values=[""])
    for encoding in ("utf-8-sig", "cp949"):
        try:
            return pd.read_csv(path, dtype=str, encoding=encoding, keep_default_na=False, na_values=[""])
        except UnicodeDecodeError:
            continue
    raise ValueError(f"{path}: neither UTF-8 nor CP949; save it as UTF-8 CSV and scan again.")


@dataclass
class ScanReport:
    """What ``scan_file`` found in one table."""
    path: Path
    rows: int
    columns: list[str]
    findings: list[Finding]
    quasi: tuple[str, ...]
    k: int | None
    violations: pd.DataFrame

    @property
    def ok(self) -> bool:
        return not self.findings and (self.k is None or self.violations.empty)

    def summary(self) -> list[str]:
        """Printable lines: identifiers by column and kind (masked, with rows), then k."""
        lines = [f"{self.path}: {self.rows} rows, {len(self.columns)} columns"]
        grouped: dict[tuple[str, str], list[Finding]] = {}
        for f in self.findings:
            grouped.setdefault((f.column, f.kind), []).append(f)
        if not grouped:
            lines.append("  직접 식별자 없음 / no direct identifiers found")
        for (column, kind), found in grouped.items():
            rows = sorted({f.row for f in found})
            shown = ", ".join(str(r + 2) for r in rows[:10]) + (" …" if len(rows) > 10 else "")
            lines.append(f"  {column}: {kind} {len(found)}건 (예: {found[0].masked}), 줄 {shown}")
        if self.k is not None:
            verdict = "OK" if self.violations.empty else f"k < {K_DEFAULT}: {len(self.violations)} classes"
            lines.append(f"  k-익명성 / k-anonymity over {list(self.quasi)}: k = {self.k} ({verdict})")
            for _, cls in self.violations.head(10).iterrows():
                values = ", ".join(f"{c}={cls[c]}" for c in self.quasi)
                lines.append(f"    ({values}): {cls['size']}, 줄 "
                             + ", ".join(str(r + 2) for r in cls["rows"][:10]))
        return lines


K_DEFAULT = 5


def scan_file(path: str | os.PathLike, *, quasi: Sequence[str] = (), entity: str | None = None,
              k: int = K_DEFAULT) -> ScanReport:
    """Scan any CSV (UTF-8 or CP949, optionally .gz) or Excel file for direct identifiers and,
    given quasi-identifier columns, compute its k. Line numbers in ``summary`` count the header
    as line 1, as a spreadsheet does."""
    df = read_table(path)
    quasi = tuple(quasi)
    missing = [c for c in (*quasi, *([entity] if entity else [])) if c not in df.columns]
    if missing:
        raise KeyError(f"{path}: no column(s) {missing}; the columns are {list(df.columns)}")
    return ScanReport(
        path=Path(path), rows=len(df), columns=list(df.columns), findings=scan_identifiers(df), quasi=quasi,
        k=k_anonymity(df, quasi, entity=entity) if quasi else None,
        violations=k_violations(df, quasi, k=k, entity=entity) if quasi else pd.DataFrame())
