"""Streaming readers for the formats departments send: xlsx, csv and JSON Lines.

Each reader maps the file's headers to the spec's canonical columns once (a `Layout`)
and then yields rows one at a time as `(row_number, cells, layout)`, so memory stays
flat however large the file is and the loader does no per-row dictionary work. Row
numbers are the ones a person sees when opening the file (spreadsheet row or line
number), so an error message can be checked by eye.

Encodings are verified, never guessed: a CSV is decoded strictly in the encoding its
contract declares, and a GB18030 feed that turns out to be UTF-8 is refused, so a
wrongly encoded file fails loudly instead of loading as mojibake.
"""
from __future__ import annotations

import codecs
import csv
import io
import itertools
import json
import os
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ingestion.errors import FileRejected, printable
from ingestion.registry import FeedSpec, normalize_header

HEADER_SCAN_ROWS = 20
SNIFF_BYTES = 64 * 1024
READ_CHUNK = 1 << 20
UTF8_EVIDENCE_BYTES = 16  # multi-byte UTF-8 sequences seen before a "GB18030" file is called UTF-8
EXTENSIONS = {"xlsx": {".xlsx"}, "csv": {".csv", ".txt"}, "jsonl": {".jsonl", ".json", ".ndjson"}}
MAX_ORIGINAL_CHARS = 2000
BINARY_NULS = 8  # more NUL bytes than this (or 1%) in the first 64 KB: not a text file


@dataclass(frozen=True)
class Limits:
    """Resource limits on what one file may cost; each is an environment variable, read per file."""

    xlsx_uncompressed_bytes: int = 1 << 30  # MAX_XLSX_UNCOMPRESSED_BYTES: all parts of the workbook, unpacked
    xlsx_compression_ratio: int = 200  # MAX_XLSX_COMPRESSION_RATIO: unpacked / packed size of any part
    xlsx_shared_strings_bytes: int = 256 << 20  # MAX_XLSX_SHARED_STRINGS_BYTES: openpyxl holds them in memory
    cell_chars: int = 32_767  # MAX_CELL_CHARS: Excel's own cell limit; longer cells reject their row (CSV: file)
    jsonl_keys: int = 1_000  # MAX_JSONL_KEYS: distinct keys in one JSON Lines file
    line_chars: int = 1 << 20  # MAX_LINE_CHARS: one JSON line

    @classmethod
    def from_env(cls) -> Limits:
        names = {"xlsx_uncompressed_bytes": "MAX_XLSX_UNCOMPRESSED_BYTES",
                 "xlsx_compression_ratio": "MAX_XLSX_COMPRESSION_RATIO",
                 "xlsx_shared_strings_bytes": "MAX_XLSX_SHARED_STRINGS_BYTES", "cell_chars": "MAX_CELL_CHARS",
                 "jsonl_keys": "MAX_JSONL_KEYS", "line_chars": "MAX_LINE_CHARS"}
        return cls(**{field: int(os.environ[env]) for field, env in names.items() if os.environ.get(env)})


@dataclass
class HeaderMap:
    """Where each canonical column sits in the file, and which headers are unknown."""

    columns: dict[str, str]  # file header -> canonical column name
    unknown: list[str]
    original: dict[str, str]  # canonical column name -> header as written in the file


@dataclass(eq=False)
class Layout:
    """How one shape of row maps onto the spec: built once per file (per key order in JSONL)."""

    headers: tuple[str, ...]  # header of each cell position, as written
    positions: tuple[int, ...]  # per spec column: its cell index, or -1 when the file lacks it
    extra: tuple[tuple[int, str], ...]  # (cell index, header) of columns the spec does not know

    @property
    def width(self) -> int:
        return len(self.headers)

    def original(self, cells: list[Any]) -> dict[str, Any]:
        """The row as received, keyed by the file's own headers (for rejected_rows)."""
        values = {h: cells[i] for i, h in enumerate(self.headers) if h and i < len(cells)}
        for position in range(len(self.headers), len(cells)):
            if cells[position] not in (None, ""):
                values[f"column_{position + 1}"] = cells[position]
        return values


@dataclass(eq=False)
class RowError:
    """A row that could not even be parsed (a broken JSON line): rejected with its text."""

    rule: str
    reason: str
    reason_zh: str


Row = tuple[int, list[Any], "Layout | RowError"]


@dataclass
class Source:
    """An opened file: its header mapping and a one-shot iterator of rows."""

    header_map: HeaderMap
    rows: Iterator[Row]
    unknown: list[str] = field(default_factory=list)  # grows while reading JSONL
    text_only: bool = False  # every cell is a str (CSV): the loader may use the str-only fast paths
    lines: CsvLines | None = None  # CSV only: the same rows as raw lines, for the whole-line fast path


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


def build_layout(spec: FeedSpec, headers: list[str], header_map: HeaderMap) -> Layout:
    texts = tuple("" if h is None else str(h) for h in headers)
    index = {header_map.columns[h]: i for i, h in enumerate(texts) if h in header_map.columns}
    extra = tuple((i, h) for i, h in enumerate(texts) if h.strip() and h not in header_map.columns)
    return Layout(headers=texts, positions=tuple(index.get(c.name, -1) for c in spec.columns), extra=extra)


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
        raise FileRejected("wrong_format", f"{path.name} is not an xlsx workbook (not a zip container)",
                           "文件不是有效的 xlsx 工作簿")
    # A stray NUL byte in a cell rejects that row (copyrows.py); a file full of them is binary (or UTF-16).
    if spec.format != "xlsx" and (is_zip or head.count(b"\x00") > max(BINARY_NULS, len(head) // 100)):
        raise FileRejected("wrong_format", f"{path.name} is binary, not {spec.format} text",
                           f"文件是二进制内容，不是 {spec.format} 文本")


def open_source(spec: FeedSpec, path: Path) -> Source:
    readers = {"xlsx": _read_xlsx, "csv": _read_csv, "jsonl": _read_jsonl}
    return readers[spec.format](spec, path)


def _blank(cells: list[Any]) -> bool:
    return all(c is None or (isinstance(c, str) and not c.strip()) for c in cells)


# --- xlsx ---------------------------------------------------------------------------

def check_workbook(path: Path, limits: Limits) -> None:
    """Refuse a zip bomb before openpyxl unpacks anything: total size, ratio, shared strings."""
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise FileRejected("corrupt_file", f"the workbook cannot be opened: {printable(str(exc), 300)}",
                           "工作簿已损坏，无法打开") from exc
    total = sum(m.file_size for m in members)
    if total > limits.xlsx_uncompressed_bytes:
        raise FileRejected("xlsx_too_large", f"the workbook unpacks to {total} bytes, over the limit of "
                           f"{limits.xlsx_uncompressed_bytes} (MAX_XLSX_UNCOMPRESSED_BYTES)",
                           f"工作簿解压后 {total} 字节，超过上限")
    for member in members:
        ratio = member.file_size / max(member.compress_size, 1)
        if member.file_size > 1 << 20 and ratio > limits.xlsx_compression_ratio:
            raise FileRejected("xlsx_compression_ratio", f"part {printable(member.filename, 100)!r} of the workbook "
                               f"unpacks {ratio:.0f}× (limit {limits.xlsx_compression_ratio}×, "
                               "MAX_XLSX_COMPRESSION_RATIO): refused as a possible zip bomb",
                               f"工作簿压缩比 {ratio:.0f} 倍，超过上限，疑似压缩炸弹")
        if member.filename.lower().endswith("sharedstrings.xml") and member.file_size > limits.xlsx_shared_strings_bytes:
            raise FileRejected("xlsx_shared_strings", f"the workbook's shared strings unpack to {member.file_size} "
                               f"bytes, over the limit of {limits.xlsx_shared_strings_bytes} "
                               "(MAX_XLSX_SHARED_STRINGS_BYTES)", "工作簿共享字符串过大，超过上限")


def _long_cell(cells: list[Any] | tuple, limit: int) -> int:
    """Length of the first text cell over the limit, else 0."""
    for cell in cells:
        if cell.__class__ is str and len(cell) > limit:
            return len(cell)
    return 0


def _cell_too_long(length: int, limit: int) -> RowError:
    return RowError("cell_too_long", f"a cell holds {length} characters, over the limit of {limit} (MAX_CELL_CHARS)",
                    f"单元格长度 {length} 个字符，超过上限 {limit}")


def _read_xlsx(spec: FeedSpec, path: Path) -> Source:
    from openpyxl import load_workbook

    limits = Limits.from_env()
    check_workbook(path, limits)
    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many types for a broken container
        raise FileRejected("corrupt_file", f"the workbook cannot be opened: {printable(f'{type(exc).__name__}: {exc}', 300)}",
                           "工作簿已损坏，无法打开") from exc
    try:
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
    except FileRejected:
        workbook.close()
        raise
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        workbook.close()
        raise FileRejected("corrupt_file", f"the workbook cannot be read: {exc}", "工作簿已损坏，无法读取") from exc
    layout = build_layout(spec, headers, header_map)

    def generate() -> Iterator[Row]:
        try:
            for number, cells in enumerate(rows, start=header_row + 1):
                if cells is None or _blank(cells):
                    continue
                if long := _long_cell(cells, limits.cell_chars):
                    yield number, [f"(row {number} with a {long}-character cell)"], _cell_too_long(long,
                                                                                               limits.cell_chars)
                    continue
                yield number, list(cells), layout
        except (zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
            raise FileRejected("corrupt_file", f"the workbook is damaged: {exc}", "工作簿已损坏") from exc
        finally:
            workbook.close()

    return Source(header_map, generate(), list(header_map.unknown))


def _find_header_row(spec: FeedSpec, rows: Iterator[tuple]) -> tuple[int, list[str]]:
    """Departments put merged title rows above the header: find the row that matches."""
    known = set().union(*(c.header_names() for c in spec.columns))
    needed = max(2, min(len([c for c in spec.columns if c.required]), len(spec.columns) // 2))
    for number, cells in enumerate(rows, start=1):
        if number > HEADER_SCAN_ROWS:
            break
        texts = [str(c) if c is not None else "" for c in (cells or ())]
        if sum(normalize_header(t) in known for t in texts if t) >= needed:
            while texts and not texts[-1]:
                texts.pop()
            return number, texts
    raise FileRejected(
        "no_header",
        f"no header row found in the first {HEADER_SCAN_ROWS} rows (expected headers like "
        f"{', '.join(c.header for c in spec.columns[:4])})",
        f"前 {HEADER_SCAN_ROWS} 行中找不到表头",
    )


# --- csv ----------------------------------------------------------------------------

class _NotUtf8Guard(io.RawIOBase):
    """Raw byte stream for a GB18030 feed that refuses content which is really UTF-8.

    Valid GB18030 Chinese text is practically never valid UTF-8, so once enough
    multi-byte UTF-8 sequences decode cleanly the file was exported in the wrong
    encoding. Checking happens chunk by chunk while reading, so it covers the whole
    file (a file can be ASCII for its first megabytes) at C speed.
    """

    def __init__(self, handle: io.BufferedReader):
        super().__init__()
        self._handle = handle
        self._decoder = codecs.getincrementaldecoder("utf-8")()
        self._checking = True
        self._evidence = 0
        self.position = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # noqa: ANN001 - memoryview/bytearray
        count = self._handle.readinto(buffer)
        if count and self._checking:
            chunk = bytes(buffer[:count])
            if self.position == 0 and chunk.startswith(codecs.BOM_UTF8):
                raise _utf8_declared_gb()
            if not chunk.isascii():
                try:
                    text = self._decoder.decode(chunk)
                except UnicodeDecodeError:
                    self._checking = False  # not UTF-8: good, it may be GB18030
                else:
                    self._evidence += len(chunk) - len(text)
                    if self._evidence >= UTF8_EVIDENCE_BYTES:
                        raise _utf8_declared_gb()
        elif not count and self._checking and self._evidence:
            raise _utf8_declared_gb()
        self.position += count or 0
        return count

    def close(self) -> None:
        self._handle.close()
        super().close()


def _utf8_declared_gb() -> FileRejected:
    return FileRejected(
        "wrong_encoding",
        "the file is UTF-8 but the feed declares GB18030; re-export as GB18030 or fix the feed spec",
        "文件为 UTF-8 编码，但该数据源约定为 GB18030，请按约定编码重新导出",
    )


def _open_text(spec: FeedSpec, path: Path) -> tuple[io.TextIOWrapper, Any]:
    raw = path.open("rb", buffering=0)
    if spec.encoding == "gb18030":
        guard = _NotUtf8Guard(raw)
        return io.TextIOWrapper(io.BufferedReader(guard, READ_CHUNK), encoding="gb18030", errors="strict",
                                newline=""), guard
    # UTF-8 with or without a BOM; decoding stays strict.
    return io.TextIOWrapper(io.BufferedReader(raw, READ_CHUNK), encoding="utf-8-sig", errors="strict",
                            newline=""), raw


def _read_csv(spec: FeedSpec, path: Path) -> Source:
    csv.field_size_limit(Limits.from_env().cell_chars)  # longer fields: the file is refused with that reason
    handle, raw = _open_text(spec, path)
    reader = csv.reader(handle)
    try:
        headers = next(reader)
        header_map = map_headers(spec, headers)
    except UnicodeDecodeError as exc:
        handle.close()
        raise decode_error(spec, exc, path) from exc
    except StopIteration:
        handle.close()
        raise FileRejected("empty_file", "the file has no header row", "文件没有表头") from None
    except csv.Error as exc:
        handle.close()
        raise csv_error(1, exc) from exc
    except FileRejected:
        handle.close()
        raise
    layout = build_layout(spec, headers, header_map)

    def generate() -> Iterator[Row]:
        row_number = 1
        try:
            for cells in reader:
                if not cells or (not cells[0].strip() and _blank(cells)):
                    continue
                row_number = reader.line_num
                yield row_number, cells, layout
        except UnicodeDecodeError as exc:
            raise decode_error(spec, exc, path) from exc
        except csv.Error as exc:
            raise csv_error(reader.line_num, exc) from exc
        finally:
            handle.close()

    return Source(header_map, generate(), list(header_map.unknown), text_only=True,
                  lines=CsvLines(spec, path, handle, layout, reader.line_num))


class CsvLines:
    """A CSV's data lines as text, with the csv parser at hand for lines that need it.

    Iterating yields `(line_number, line)`. `record(line)` parses the record that starts
    with `line`, reading further lines when a quoted field spans several (the line count
    then advances accordingly).
    """

    def __init__(self, spec: FeedSpec, path: Path, handle: io.TextIOWrapper, layout: Layout, line_number: int):
        self.spec = spec
        self.path = path
        self.layout = layout
        self._handle = handle
        self._line_number = line_number

    @property
    def line_number(self) -> int:
        """Physical lines read so far (the header's lines before the first data line)."""
        return self._line_number

    def close(self) -> None:
        self._handle.close()

    def __iter__(self) -> Iterator[tuple[int, str]]:
        try:
            for line in self._handle:
                self._line_number += 1
                yield self._line_number, line
        except UnicodeDecodeError as exc:
            raise decode_error(self.spec, exc, self.path) from exc
        finally:
            self._handle.close()

    def record(self, line: str) -> list[str]:
        reader = csv.reader(itertools.chain((line,), self._handle))
        try:
            cells = next(reader, [])
        except UnicodeDecodeError as exc:
            raise decode_error(self.spec, exc, self.path) from exc
        except csv.Error as exc:
            raise csv_error(self._line_number, exc) from exc
        self._line_number += reader.line_num - 1
        return cells


def csv_error(line: int, exc: csv.Error) -> FileRejected:
    detail = printable(str(exc), 300)
    if "field larger than field limit" in detail:
        return FileRejected("cell_too_long", f"a field near line {line} is longer than {csv.field_size_limit()} "
                            "characters (MAX_CELL_CHARS); the file is refused", f"CSV 第 {line} 行附近字段超长")
    return FileRejected("unreadable_file", f"the CSV cannot be parsed near line {line}: {detail}",
                        f"CSV 第 {line} 行附近无法解析")


def decode_error(spec: FeedSpec, exc: UnicodeDecodeError, path: Path) -> FileRejected:
    encoding = spec.encoding or "utf-8"
    line = _first_undecodable_line(path, "gb18030" if encoding == "gb18030" else "utf-8-sig")
    where = f"line {line}" if line else "somewhere in the file"
    hint = "is it GB18030/GBK?" if encoding != "gb18030" else "is it another encoding?"
    return FileRejected(
        "wrong_encoding",
        f"the file is not valid {encoding} (first bad bytes on {where}); {hint} re-export in the feed's encoding",
        f"文件不是有效的 {encoding} 编码（第 {line or '?'} 行），请按约定编码重新导出",
    )


def _first_undecodable_line(path: Path, encoding: str) -> int | None:
    """Only on failure: find the physical line a person should look at (decoding is chunked)."""
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            try:
                (raw[3:] if number == 1 and raw.startswith(codecs.BOM_UTF8) else raw).decode(encoding)
            except UnicodeDecodeError:
                return number
    return None


# --- JSON Lines ---------------------------------------------------------------------

def _read_jsonl(spec: FeedSpec, path: Path) -> Source:
    handle = path.open("r", encoding="utf-8-sig", errors="strict")
    try:
        first = _first_record_line(handle)
    except UnicodeDecodeError as exc:
        handle.close()
        raise decode_error(spec, exc, path) from exc
    if first is None:
        handle.close()
        raise FileRejected("empty_file", "the file has no records", "文件没有记录")
    try:
        if not isinstance(json.loads(first), dict):
            raise ValueError
    except ValueError as exc:
        handle.close()
        raise FileRejected("wrong_format", f"{path.name} is not JSON Lines: its first record is not a JSON object",
                           "文件不是 JSON Lines 格式：第一条记录不是 JSON 对象") from exc
    handle.seek(0)
    declared = map_headers(spec, [c.header for c in spec.columns], require=False)
    source = Source(declared, iter(()), [])
    layouts: dict[tuple[str, ...], Layout] = {}
    seen_keys: set[str] = set()  # sets, not the list: 100k new keys used to cost quadratic time
    unknown_seen: set[str] = set()
    limits = Limits.from_env()

    def layout_for(keys: tuple[str, ...]) -> Layout:
        layout = layouts.get(keys)
        if layout is None:
            new_keys = [k for k in keys if k not in seen_keys]
            seen_keys.update(new_keys)
            if len(seen_keys) > limits.jsonl_keys:
                raise FileRejected("too_many_keys", f"the records use more than {limits.jsonl_keys} distinct keys "
                                   "(MAX_JSONL_KEYS); is every record keyed differently?",
                                   f"记录中的不同键超过 {limits.jsonl_keys} 个")
            header_map = map_headers(spec, list(keys), require=False)
            fresh = [k for k in header_map.unknown if k not in unknown_seen]
            unknown_seen.update(fresh)
            source.unknown.extend(fresh)
            if len(layouts) >= limits.jsonl_keys:
                layouts.clear()  # key orders are unbounded; keep the cache small
            layout = layouts[keys] = build_layout(spec, list(keys), header_map)
        return layout

    def generate() -> Iterator[Row]:
        line_number = 0
        try:
            for line_number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                if len(line) > limits.line_chars:
                    yield line_number, [f"(line {line_number} of {len(line)} characters)"], RowError(
                        "line_too_long", f"the line holds {len(line)} characters, over the limit of "
                        f"{limits.line_chars} (MAX_LINE_CHARS)", f"该行长度超过上限 {limits.line_chars}")
                    continue
                try:
                    record = json.loads(line)
                except json.JSONDecodeError as exc:
                    yield line_number, [line.rstrip("\n")[:MAX_ORIGINAL_CHARS]], RowError(
                        "json_syntax", f"not valid JSON: {exc.msg} at column {exc.colno}", "不是有效的 JSON")
                    continue
                if not isinstance(record, dict):
                    yield line_number, [line.rstrip("\n")[:MAX_ORIGINAL_CHARS]], RowError(
                        "json_syntax", "the line is not a JSON object", "该行不是 JSON 对象")
                    continue
                cells = list(record.values())
                if long := _long_cell(cells, limits.cell_chars):
                    yield line_number, [f"(line {line_number} with a {long}-character value)"], _cell_too_long(
                        long, limits.cell_chars)
                    continue
                yield line_number, cells, layout_for(tuple(record))
        except UnicodeDecodeError as exc:
            raise decode_error(spec, exc, path) from exc
        finally:
            handle.close()

    source.rows = generate()
    return source


def _first_record_line(handle: io.TextIOWrapper) -> str | None:
    for line in handle:
        if line.strip():
            return line
    return None
