"""Write rows as the departments' files: CSV (per-spec encoding), JSON Lines, xlsx.

Rows are streamed, never collected, so a million-row CSV costs no memory. xlsx
files are made byte-stable: fixed document properties and fixed zip timestamps.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import zipfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter
from openpyxl.writer.excel import ExcelWriter

FIXED_TIMESTAMP = dt.datetime(2021, 12, 31, 18, 0, 0)
"""Workbook created/modified time and zip entry time: the snapshot, not the wall clock."""

Row = Sequence[Any]


def write_csv(path: Path, headers: Sequence[str], rows: Iterable[Row], encoding: str) -> Path:
    """CSV in the given encoding (utf-8, utf-8-sig writes the BOM, gb18030)."""
    with path.open("w", encoding=encoding, newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(headers)
        writer.writerows(rows)
    return path


def write_jsonl(path: Path, headers: Sequence[str], rows: Iterable[Row]) -> Path:
    """One JSON object per line, keys = headers, UTF-8 without escaping Chinese."""
    with path.open("w", encoding="utf-8", newline="\n") as fh:
        for row in rows:
            fh.write(json.dumps(dict(zip(headers, row, strict=True)), ensure_ascii=False))
            fh.write("\n")
    return path


class _FixedTimeZip(zipfile.ZipFile):
    """ZipFile whose entries all carry FIXED_TIMESTAMP, so saves are reproducible."""

    def writestr(self, zinfo_or_arcname, data, compress_type=None, compresslevel=None):  # noqa: ANN001
        if not isinstance(zinfo_or_arcname, zipfile.ZipInfo):
            info = zipfile.ZipInfo(zinfo_or_arcname, date_time=FIXED_TIMESTAMP.timetuple()[:6])
            info.compress_type = self.compression
            info.external_attr = 0o600 << 16
            zinfo_or_arcname = info
        super().writestr(zinfo_or_arcname, data, compress_type, compresslevel)

    def write(self, filename, arcname=None, compress_type=None, compresslevel=None):  # noqa: ANN001
        with open(filename, "rb") as fh:
            self.writestr(arcname or Path(filename).name, fh.read(), compress_type, compresslevel)


def write_xlsx(
    path: Path,
    headers: Sequence[str],
    rows: Iterable[Row],
    *,
    title: str | None = None,
    sheet_name: str = "Sheet1",
) -> Path:
    """One sheet; an optional merged title row above the header row, as departments do."""
    wb = Workbook(write_only=True)
    wb.properties.creator = "ingestion.generate"
    wb.properties.created = FIXED_TIMESTAMP
    wb.properties.modified = FIXED_TIMESTAMP
    ws = wb.create_sheet(sheet_name)
    for i, header in enumerate(headers, start=1):
        ws.column_dimensions[get_column_letter(i)].width = max(10, 2 * len(header) + 2)
    if title:
        cell = WriteOnlyCell(ws, value=title)
        cell.font = Font(bold=True, size=14)
        cell.alignment = Alignment(horizontal="center")
        ws.merged_cells.add(f"A1:{get_column_letter(len(headers))}1")
        ws.append([cell])
    header_cells = []
    for header in headers:
        cell = WriteOnlyCell(ws, value=header)
        cell.font = Font(bold=True)
        header_cells.append(cell)
    ws.append(header_cells)
    for row in rows:
        ws.append(list(row))
    with _FixedTimeZip(path, "w", zipfile.ZIP_DEFLATED, allowZip64=True) as archive:
        ExcelWriter(wb, archive).write_data()
    return path
