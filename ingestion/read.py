"""Streaming readers for the formats departments send: xlsx, csv and JSON Lines.

Each reader maps the file's headers to the spec's canonical columns once and then
yields `SourceRow`s one at a time, so memory stays flat however large the file is.
Row numbers are the ones a person sees when opening the file (spreadsheet row or
line number), so an error message can be checked by eye.
"""
from __future__ import annotations

import codecs
import csv
import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from ingestion.errors import FileRejected
from ingestion.registry import FeedSpec, normalize_header

HEADER_SCAN_ROWS = 20
SNIFF_BYTES = 64 * 1024
EXTENSIONS = {"xlsx": {".xlsx"}, "csv": {".csv", ".txt"}, "jsonl": {".jsonl", ".json", ".ndjson"}}


@dataclass
class SourceRow:
    row_number: int
    values: dict[str, Any]
    extra: dict[str, Any] = field(default_factory=dict)
    error: FileRejected | None = None  # a row that could not even be parsed (bad JSON line)


@dataclass
class HeaderMap:
    """Where each canonical column sits in the file, and which headers are unknown."""

    columns: dict[str, str]  # file header -> canonical column name
    unknown: list[str]
    original: dict[str, str]  # canonical column name -> header as written in the file


def map_headers(spec: FeedSpec, headers: list[str], *, require: bool = True) -> HeaderMap:
    lookup: dict[str, str] = {}
    for col in spec.columns:
        for name in col.header_names():
            lookup[name] = col.name
    columns: dict[str, str] = {}
    unknown: list[str] = []
    original: dict[str, str] = {}
    for header in headers:
        if header is None or str(header).strip() == "":
            continue
        name = lookup.get(normalize_header(str(header)))
        if name is None:
            unknown.append(str(header))
        elif name in original:
            raise FileRejected(
                "duplicate_header",
                f"column {name} appears twice (headers {original[name]!r} and {header!r})",
                f"列 {name} 重复出现（表头 {original[name]!r} 与 {header!r}）",
            )
        else:
            columns[str(header)] = name
            original[name] = str(header)
    if require:
        missing = [c for c in spec.columns if c.required and c.name not in original]
        if missing:
            names = ", ".join(f"{c.header} ({c.name})" for c in missing)
            raise FileRejected(
                "missing_column",
                f"missing required column(s): {names}; found headers: {', '.join(map(str, headers))}",
                f"缺少必填列：{names}",
            )
    return HeaderMap(columns=columns, unknown=unknown, original=original)


def check_file(spec: FeedSpec, path: Path, max_bytes: int) -> None:
    """File-level checks that need no parsing: size, extension, magic bytes."""
    size = path.stat().st_size
    if size == 0:
        raise FileRejected("empty_file", "the file is empty", "文件为空")
    if size > max_bytes:
        raise FileRejected(
            "file_too_large",
            f"the file is {size} bytes, over the limit of {max_bytes} bytes (MAX_FILE_BYTES)",
            f"文件大小 {size} 字节，超过上限 {max_bytes} 字节",
        )
    if path.suffix.lower() not in EXTENSIONS[spec.format]:
        raise FileRejected(
            "wrong_format",
            f"feed {spec.feed_id} expects a .{spec.format} file, got {path.name!r}",
            f"该数据源应为 .{spec.format} 文件，收到 {path.name!r}",
        )
    with path.open("rb") as handle:
        head = handle.read(SNIFF_BYTES)
    is_zip = head.startswith(b"PK\x03\x04")
    if spec.format == "xlsx" and not is_zip:
        raise FileRejected("wrong_format", "the file is not an xlsx workbook (not a zip container)",
                           "文件不是有效的 xlsx 工作簿")
    if spec.format != "xlsx" and (is_zip or b"\x00" in head):
        raise FileRejected("wrong_format", f"the file is binary, not {spec.format} text",
                           f"文件是二进制内容，不是 {spec.format} 文本")


def read_rows(spec: FeedSpec, path: Path) -> tuple[HeaderMap, Iterator[SourceRow]]:
    readers = {"xlsx": _read_xlsx, "csv": _read_csv, "jsonl": _read_jsonl}
    return readers[spec.format](spec, path)


# --- xlsx ---------------------------------------------------------------------------

def _read_xlsx(spec: FeedSpec, path: Path) -> tuple[HeaderMap, Iterator[SourceRow]]:
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        raise FileRejected("corrupt_file", f"the workbook cannot be opened: {exc}", "工作簿已损坏，无法打开") from exc
    if spec.sheet:
        if spec.sheet not in workbook.sheetnames:
            raise FileRejected("missing_sheet", f"no sheet named {spec.sheet!r} (sheets: {workbook.sheetnames})",
                               f"找不到工作表 {spec.sheet!r}")
        sheet = workbook[spec.sheet]
    else:
        sheet = workbook.worksheets[0]
    rows = sheet.iter_rows(values_only=True)
    header_row, headers = _find_header_row(spec, rows)
    header_map = map_headers(spec, headers)

    def generate() -> Iterator[SourceRow]:
        try:
            for offset, cells in enumerate(rows, start=header_row + 1):
                if cells is None or all(c is None or (isinstance(c, str) and not c.strip()) for c in cells):
                    continue
                yield _split(header_map, headers, cells, offset)
        finally:
            workbook.close()

    return header_map, generate()


def _find_header_row(spec: FeedSpec, rows: Iterator[tuple]) -> tuple[int, list[str]]:
    """Departments put merged title rows above the header: find the row that matches."""
    known = set().union(*(c.header_names() for c in spec.columns))
    needed = max(2, min(len([c for c in spec.columns if c.required]), len(spec.columns) // 2))
    for number, cells in enumerate(rows, start=1):
        if number > HEADER_SCAN_ROWS:
            break
        texts = [str(c) if c is not None else "" for c in (cells or ())]
        if sum(normalize_header(t) in known for t in texts if t) >= needed:
            return number, texts
    raise FileRejected(
        "no_header",
        f"no header row found in the first {HEADER_SCAN_ROWS} rows (expected headers like "
        f"{', '.join(c.header for c in spec.columns[:4])})",
        f"前 {HEADER_SCAN_ROWS} 行中找不到表头",
    )


def _split(header_map: HeaderMap, headers: list[str], cells: tuple | list, row_number: int) -> SourceRow:
    values: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    for header, cell in zip(headers, cells):
        name = header_map.columns.get(header)
        if name is not None:
            values[name] = cell
        elif header and cell not in (None, ""):
            extra[header] = cell
    if len(cells) > len(headers):
        for position, cell in enumerate(cells[len(headers):], start=len(headers) + 1):
            if cell not in (None, ""):
                extra[f"column_{position}"] = cell
    return SourceRow(row_number=row_number, values=values, extra=extra)


# --- csv ----------------------------------------------------------------------------

def _check_encoding(spec: FeedSpec, path: Path) -> str:
    """Refuse to read a file in an encoding other than the declared one (no mojibake)."""
    with path.open("rb") as handle:
        head = handle.read(SNIFF_BYTES)
    declared = spec.encoding or "utf-8"
    if declared == "gb18030":
        if head.startswith(codecs.BOM_UTF8) or _looks_like_utf8(head):
            raise FileRejected(
                "wrong_encoding",
                "the file is UTF-8 but feed declares GB18030; re-export as GB18030 or fix the feed spec",
                "文件为 UTF-8 编码，但该数据源约定为 GB18030",
            )
        return "gb18030"
    return "utf-8-sig"  # plain UTF-8 with or without a BOM; decoding stays strict


def _looks_like_utf8(head: bytes) -> bool:
    if head.isascii():
        return False
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        return exc.start >= len(head) - 3  # only the sample's cut-off last character failed
    return True


def _read_csv(spec: FeedSpec, path: Path) -> tuple[HeaderMap, Iterator[SourceRow]]:
    encoding = _check_encoding(spec, path)
    handle = path.open("r", encoding=encoding, errors="strict", newline="")
    reader = csv.reader(handle)
    try:
        headers = next(reader)
    except UnicodeDecodeError as exc:
        handle.close()
        raise _decode_error(spec, exc) from exc
    except StopIteration:
        handle.close()
        raise FileRejected("empty_file", "the file has no header row", "文件没有表头")
    except csv.Error as exc:
        handle.close()
        raise FileRejected("unreadable_file", f"the CSV cannot be parsed: {exc}", "CSV 无法解析") from exc
    try:
        header_map = map_headers(spec, headers)
    except FileRejected:
        handle.close()
        raise

    def generate() -> Iterator[SourceRow]:
        try:
            for row_number, cells in enumerate(reader, start=2):
                if not cells or all(not c.strip() for c in cells):
                    continue
                yield _split(header_map, headers, cells, row_number)
        except UnicodeDecodeError as exc:
            raise _decode_error(spec, exc) from exc
        except csv.Error as exc:
            raise FileRejected("unreadable_file", f"the CSV cannot be parsed near line {reader.line_num}: {exc}",
                               f"CSV 第 {reader.line_num} 行附近无法解析") from exc
        finally:
            handle.close()

    return header_map, generate()


def _decode_error(spec: FeedSpec, exc: UnicodeDecodeError) -> FileRejected:
    return FileRejected(
        "wrong_encoding",
        f"the file is not valid {spec.encoding} (byte offset {exc.start}); is it GB18030/GBK? "
        "re-export in the feed's encoding",
        f"文件不是有效的 {spec.encoding} 编码（字节位置 {exc.start}），请按约定编码重新导出",
    )


# --- JSON Lines ---------------------------------------------------------------------

def _read_jsonl(spec: FeedSpec, path: Path) -> tuple[HeaderMap, Iterator[SourceRow]]:
    encoding = _check_encoding(spec, path)
    handle = path.open("r", encoding=encoding, errors="strict")
    key_maps: dict[tuple[str, ...], HeaderMap] = {}
    declared = map_headers(spec, [c.header for c in spec.columns], require=False)

    def generate() -> Iterator[SourceRow]:
        any_row = False
        try:
            for line_number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                any_row = True
                try:
                    record = json.loads(line)
                except json.JSONDecodeError as exc:
                    yield SourceRow(line_number, {"_line": line.rstrip("\n")[:2000]}, error=FileRejected(
                        "json_syntax", f"not valid JSON: {exc.msg} at column {exc.colno}", "不是有效的 JSON"))
                    continue
                if not isinstance(record, dict):
                    yield SourceRow(line_number, {"_line": line.rstrip("\n")[:2000]}, error=FileRejected(
                        "json_syntax", "the line is not a JSON object", "该行不是 JSON 对象"))
                    continue
                keys = tuple(record)
                if keys not in key_maps:
                    key_maps[keys] = map_headers(spec, list(keys), require=False)
                yield _split(key_maps[keys], list(keys), list(record.values()), line_number)
        except UnicodeDecodeError as exc:
            raise _decode_error(spec, exc) from exc
        finally:
            handle.close()
        if not any_row:
            raise FileRejected("empty_file", "the file has no records", "文件没有记录")

    return declared, generate()
