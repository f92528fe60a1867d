"""The hot loop: validated rows of one file streamed into one COPY, rejects spilled aside.

Two ways in, one way out. `copy_rows` takes parsed rows (any format) and validates
each cell, with str-only fast paths for CSV. `copy_lines` takes a CSV's raw lines
and, when a whole line matches the contract's canonical pattern (fastrow.py), turns it
into COPY text without parsing it; every other line goes through `copy_rows`' logic.
Either way each loaded row adds its key hash for the duplicate check (keys.py), each
bad row goes to the reject spill, and no per-row object outlives its row.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from psycopg import Copy

from ingestion.encode import FORMATTERS, NULL, Encoder, column_encoder, fast_path, json_text
from ingestion.errors import ValueRejected, ValueWarning
from ingestion.fastrow import RowMatcher
from ingestion.keys import KeyTracker
from ingestion.read import CsvLines, Layout, Row, RowError
from ingestion.registry import ColumnSpec, FeedSpec
from ingestion.spill import Spill, mask_pii, storable

FLUSH_ROWS = 4000
Progress = Callable[[int], None]
_MISSING: dict[Any, str] = {None: NULL}  # a column the file lacks: NULL without a Python call


def _never(value: Any) -> None:
    return None


class RowCopier:
    def __init__(self, spec: FeedSpec, batch_id: int, copy: Copy, rejects: Spill, warnings: Spill,
                 progress: Progress | None, *, text_only: bool, clear: Spill | None = None):
        self.spec = spec
        self.columns = spec.columns
        self.batch_id = batch_id
        self.copy = copy
        self.rejects = rejects
        self.warnings = warnings
        self.progress = progress
        self.text_only = text_only
        self.clear = clear  # clear originals of rejected rows with personal information (data steward)
        self._cleared_row = -1
        self._pii_headers: frozenset[str] = frozenset()
        self.has_pii = any(c.pii for c in spec.columns)
        self.encoders = [column_encoder(c) for c in spec.columns]
        self.fasts = [fast_path(c) if text_only else _never for c in spec.columns]
        names = [c.name for c in spec.columns]
        self.key_index = [names.index(k) for k in spec.key]
        self.keys = KeyTracker()
        self.key_hash: Callable[[Any], int] = hash  # vector.py sets its own, so both paths hash keys alike
        self.buffer: list[str] = []
        self.rows_in = self.loaded = self.rejected = 0
        self._layout: Layout | None = None
        self._plan: list[tuple[Encoder, int]] = []
        self._fast_plan: list[tuple[Callable[[Any], str | None], int]] = []

    # --- output ---------------------------------------------------------------------

    def flush(self) -> None:
        if self.buffer:
            self.copy.write("".join(self.buffer))
            self.buffer.clear()
        if self.progress is not None:
            self.progress(self.rows_in)

    # --- parsed rows ----------------------------------------------------------------

    def copy_rows(self, rows: Iterable[Row]) -> None:
        for row_number, cells, layout in rows:
            self.row(row_number, cells, layout)
        self.flush()

    def row(self, row_number: int, cells: list[Any], layout: Layout | RowError) -> None:
        self.rows_in += 1
        if layout is not self._layout:
            if layout.__class__ is RowError:
                line = storable({"_line": cells[0]})
                if self.has_pii:  # an unparsable line may hold anything: its text only for the data steward
                    self._keep_clear(row_number, line)
                    line = {"_line": f"(masked: {len(cells[0])} characters; the clear line is kept for the data "
                                     "steward in audit.rejected_values_clear)"}
                self.rejects.add(self.batch_id, row_number, None, layout.rule, layout.reason, layout.reason_zh,
                                 line)
                self.rejected += 1
                return
            self._use_layout(layout)
        extra = NULL
        width = layout.width
        short = len(cells) < width  # absent cells are None, which the str-only fast paths cannot take
        if layout.extra or len(cells) != width:
            if len(cells) > width and any(c not in (None, "") for c in cells[width:]):
                self._reject(row_number, None, shifted_row(len(cells), width),
                             self._masked(row_number, layout.original(cells)))
                return
            extra = _extra_text(cells, layout)
            if len(cells) < width:
                cells.extend([None] * (width - len(cells)))
        cells.append(None)  # position -1: a column the file does not have
        texts = [None] * len(self._plan) if short else [fast(cells[position]) for fast, position in self._fast_plan]
        if None in texts:
            try:
                texts = [encode(cells[position]) if text is None else text
                         for text, (encode, position) in zip(texts, self._plan, strict=True)]
            except (ValueRejected, ValueWarning):
                texts = self._validate_carefully(cells, row_number, layout)
                if texts is None:
                    self.rejected += 1
                    return
        line = "\t".join(texts) + f"\t{extra}\t{self.batch_id}\t{row_number}\n"
        if "\x00" in line or "\\u0000" in line or (not self.text_only and not _encodable(line)):
            self._reject_unstorable(row_number, cells, texts, layout)
            return
        self.buffer.append(line)
        key = texts[self.key_index[0]] if len(self.key_index) == 1 else tuple(texts[i] for i in self.key_index)
        self.keys.add(self.key_hash(key), row_number)
        self.loaded += 1
        if len(self.buffer) >= FLUSH_ROWS:
            self.flush()

    def _reject(self, row_number: int, column: str | None, exc: ValueRejected, original: Any) -> None:
        self.rejects.add(self.batch_id, row_number, column, exc.rule, exc.reason, exc.reason_zh, original)
        self.rejected += 1

    def _reject_unstorable(self, row_number: int, cells: list[Any], texts: list[str], layout: Layout) -> None:
        """A NUL byte (or text PostgreSQL cannot store) in a cell: this row is refused, not the file."""
        column = next((col.name for col, text in zip(self.columns, texts, strict=True)
                       if "\x00" in text or "\\u0000" in text or not _encodable(text)), "_extra")
        self._reject(row_number, column, unstorable(column),
                     self._masked(row_number, storable(layout.original(cells[:-1]))))

    def _masked(self, row_number: int, original: dict[str, Any]) -> dict[str, Any]:
        """The original values for audit.rejected_rows: personal columns masked, the clear row kept aside."""
        if not self._pii_headers.intersection(original):
            return original
        self._keep_clear(row_number, original)
        return {h: mask_pii(v) if h in self._pii_headers else v for h, v in original.items()}

    def _keep_clear(self, row_number: int, original: dict[str, Any]) -> None:
        if self.clear is not None and row_number != self._cleared_row:
            self.clear.add(self.batch_id, row_number, storable(original))
            self._cleared_row = row_number

    def _use_layout(self, layout: Layout) -> None:
        self._layout = layout
        self._pii_headers = frozenset(layout.headers[position] for col, position in zip(
            self.columns, layout.positions, strict=True) if col.pii and position >= 0)
        self._plan = list(zip(self.encoders, layout.positions, strict=True))
        self._fast_plan = [(fast if position >= 0 else _never if col.required else _MISSING.get, position)
                           for fast, position, col in zip(self.fasts, layout.positions, self.columns, strict=True)]

    def _validate_carefully(self, cells: list[Any], row_number: int, layout: Layout) -> list[str] | None:
        """The slow path for a row that failed the quick one: every error and warning, per column."""
        texts: list[str] = []
        errors: list[tuple[ColumnSpec, ValueRejected]] = []
        for (encode, position), col in zip(self._plan, self.columns, strict=True):
            try:
                texts.append(encode(cells[position]))
            except ValueRejected as exc:
                errors.append((col, exc))
                texts.append(NULL)
            except ValueWarning as warning:
                self.warnings.add(self.batch_id, row_number, col.name, warning.rule, warning.reason,
                                  warning.reason_zh)
                texts.append(FORMATTERS[col.type](warning.value))
        if not errors:
            return texts
        original = self._masked(row_number, layout.original(cells[:-1]))
        for col, exc in errors:
            self.rejects.add(self.batch_id, row_number, col.name, exc.rule, exc.reason, exc.reason_zh, original)
        return None

    # --- raw CSV lines --------------------------------------------------------------

    def copy_lines(self, lines: CsvLines, matcher: RowMatcher) -> None:
        """Whole-line fast path; locals bound once because this runs millions of times."""
        match, checks, key_groups = matcher.match, matcher.checks, matcher.key_groups
        single_key = key_groups[0] if len(key_groups) == 1 else None
        buffer, append = self.buffer, self.buffer.append
        add_key = self.keys.add
        tail = f"\t{NULL}\t{self.batch_id}\t"
        layout = lines.layout
        loaded = 0
        for line_number, line in lines:
            found = match(line)
            if found is not None:
                groups = found.groups()
                for index, check in checks:
                    value = groups[index]
                    if value is not None and not check(value):
                        found = None
                        break
            if found is None:
                self.rows_in += loaded
                self.loaded += loaded
                loaded = 0
                cells = lines.record(line)
                if cells and not (not cells[0].strip() and all(not c.strip() for c in cells)):
                    self.row(line_number, cells, layout)
                continue
            body = line.rstrip("\r\n")
            if "\x00" in body:  # a NUL byte: the general path rejects the row
                self.rows_in += loaded
                self.loaded += loaded
                loaded = 0
                self.row(line_number, lines.record(line), layout)
                continue
            if ",," in body or body[0] == "," or body[-1] == ",":
                body = f",{body},".replace(",,", ",\\N,").replace(",,", ",\\N,")[1:-1]
            append(body.replace(",", "\t") + tail + f"{line_number}\n")
            add_key(hash(groups[single_key] if single_key is not None else tuple(groups[i] for i in key_groups)),
                    line_number)
            loaded += 1
            if len(buffer) >= FLUSH_ROWS:
                self.rows_in += loaded
                self.loaded += loaded
                loaded = 0
                self.flush()
        self.rows_in += loaded
        self.loaded += loaded
        self.flush()


def _encodable(text: str) -> bool:
    """UTF-8 can carry it (a lone surrogate from a JSON escape cannot)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def shifted_row(found: int, width: int) -> ValueRejected:
    return ValueRejected("shifted_row", f"the row has {found} fields but the header has {width}: values are shifted "
                         "(an unquoted comma or separator?); fix the row and deliver it again",
                         f"该行有 {found} 个字段，表头只有 {width} 个：数据错位（可能有未加引号的逗号）")


def unstorable(column: str) -> ValueRejected:
    return ValueRejected("unstorable_value", f"{column} contains a NUL byte or a character that cannot be stored; "
                         "remove it and deliver the row again", f"{column} 含有空字符（NUL）或无法存储的字符")


def _extra_text(cells: list[Any], layout: Layout) -> str:
    """Unknown columns (and cells beyond the header) kept as jsonb, never dropped."""
    values = {header: cells[i] for i, header in layout.extra if i < len(cells) and cells[i] not in (None, "")}
    for position in range(layout.width, len(cells)):
        if cells[position] not in (None, ""):
            values[f"column_{position + 1}"] = cells[position]
    return json_text(values) if values else NULL
