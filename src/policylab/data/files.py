"""Writing published files byte for byte reproducibly: CSV (UTF-8 or CP949), gzip, the two-row-header Excel.

The same seed must give the same bytes (MANIFEST.json holds their SHA-256), so timestamps in
gzip and zip headers are fixed and nothing depends on the machine's locale or clock.
"""
from __future__ import annotations

import gzip
import hashlib
import io
import re
import zipfile
from dataclasses import dataclass

import pandas as pd


@dataclass(frozen=True)
class Output:
    file: str
    kind: str = "csv"  # csv, csv.gz, xlsx
    encoding: str = "utf-8"

# --- Writing, byte-for-byte reproducibly ----------------------------------------------------

def _csv_bytes(df: pd.DataFrame, encoding: str) -> bytes:
    newline = "\r\n" if encoding == "cp949" else "\n"  # the portal's CP949 files come with CRLF
    return df.to_csv(index=False, lineterminator=newline).encode(encoding)


def _gzip_bytes(data: bytes) -> bytes:
    buf = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buf, mtime=0, compresslevel=6) as gz:
        gz.write(data)
    return buf.getvalue()


FIXED_ZIP_TIME = (2026, 6, 30, 0, 0, 0)
FIXED_STAMP = "2026-06-30T00:00:00Z"


XLSX_GROUPS = (("시설 정보", ("시설코드", "시설명", "시설유형", "행정동", "연면적(㎡)")), ("연월", None),
               ("전력", ("사용량(kWh)", "요금")), ("기상", ("난방도일", "냉방도일")),
               ("LED 조명 교체", ("교체일", "적용여부")))


def xlsx_columns() -> list[str]:
    """The workbook's two-row header flattened: '시설 정보/시설코드', …, '연월', …"""
    return [f"{group}/{item}" if items else group for group, items in XLSX_GROUPS for item in (items or (None,))]


def energy_xlsx(rows) -> bytes:
    """The facility team's energy report: the two-row merged header of XLSX_GROUPS, then ``rows``
    (one list per facility-month, in xlsx_columns order); byte-identical when rebuilt. The shared
    workbook and each learner's m02 draw (its own money format) are both written here."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font, PatternFill

    wb = Workbook()
    ws = wb.active
    ws.title = "에너지사용량"
    col = 1
    bold, centre = Font(bold=True), Alignment(horizontal="center", vertical="center")
    fill = PatternFill("solid", fgColor="DDEBF7")
    for title, items in XLSX_GROUPS:
        width = len(items) if items else 1
        ws.cell(1, col, title)
        if items:
            ws.merge_cells(start_row=1, start_column=col, end_row=1, end_column=col + width - 1)
            for j, item in enumerate(items):
                ws.cell(2, col + j, item)
        else:
            ws.merge_cells(start_row=1, start_column=col, end_row=2, end_column=col)
        col += width
    for row in (1, 2):
        for c in range(1, col):
            cell = ws.cell(row, c)
            cell.font, cell.alignment, cell.fill = bold, centre, fill
    for row in rows:
        ws.append(row)
    for letter, width in zip("ABCDEFGHIJKL", (9, 18, 10, 9, 11, 9, 13, 15, 9, 9, 12, 9)):
        ws.column_dimensions[letter].width = width
    ws.freeze_panes = "A3"
    wb.properties.creator = "PolicyLab (synthetic data)"
    buf = io.BytesIO()
    wb.save(buf)
    return _normalize_zip(buf.getvalue())


def _xlsx_bytes(df: pd.DataFrame) -> bytes:
    """The energy table as an Excel report: two-row merged header, text months, '1,234원' costs."""
    return energy_xlsx(
        [r.시설코드, r.시설명, r.시설유형, r.행정동, int(r.연면적), r.연월.replace("-", "."),
         int(r.전력사용량), f"{int(r.전기요금):,}원", float(r.난방도일), float(r.냉방도일),
         r.LED교체일.replace("-", ".") if isinstance(r.LED교체일, str) else None,
         "Y" if r.LED적용 else "N"] for r in df.itertuples(index=False))


def _normalize_zip(data: bytes) -> bytes:
    """Fixed timestamps inside the workbook and on its zip entries, so rebuilding is byte-identical."""
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            body = src.read(info.filename)
            if info.filename == "docProps/core.xml":
                body = re.sub(rb"(<dcterms:(created|modified)[^>]*>)[^<]*(</dcterms:\2>)",
                              rb"\g<1>" + FIXED_STAMP.encode() + rb"\g<3>", body)
            fixed = zipfile.ZipInfo(info.filename, date_time=FIXED_ZIP_TIME)
            fixed.compress_type = zipfile.ZIP_DEFLATED
            fixed.external_attr = 0o600 << 16
            dst.writestr(fixed, body)
    return out.getvalue()


def file_bytes(df: pd.DataFrame, output: Output) -> bytes:
    if output.kind == "csv":
        return _csv_bytes(df, output.encoding)
    if output.kind == "csv.gz":
        return _gzip_bytes(_csv_bytes(df, output.encoding))
    if output.kind == "xlsx":
        return _xlsx_bytes(df)
    raise ValueError(f"unknown output kind {output.kind!r}")


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()

