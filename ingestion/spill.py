"""Rejects and warnings spilled to a temporary file, then COPYed into audit tables.

A file can have millions of bad rows. Keeping them in memory would break the flat-
memory promise, and they cannot be written to the database while the COPY into
`raw.<feed>` holds the connection, so they are written as COPY text to a spooled
temporary file (memory up to a few MB, disk beyond) and COPYed in afterwards.
"""
from __future__ import annotations

import tempfile
from collections.abc import Sequence
from typing import Any

import psycopg
from psycopg import sql

from ingestion.encode import NULL, copy_escape, json_text

SPOOL_BYTES = 4 << 20
CHUNK_CHARS = 1 << 20
MAX_TEXT_CHARS = 4000  # per message or original value: a 10 MB cell must not become a 10 MB audit row


def storable(value: Any, limit: int = MAX_TEXT_CHARS) -> Any:
    """Text PostgreSQL can store and an auditor can read: NUL and lone surrogates shown escaped,
    long strings truncated with their length stated."""
    if isinstance(value, dict):
        return {storable(str(k), limit): storable(v, limit) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [storable(v, limit) for v in value]
    if isinstance(value, str):
        if len(value) > limit:
            value = f"{value[:limit]}… (truncated, {len(value)} characters)"
        if "\x00" in value or not value.isascii():
            value = value.replace("\x00", "\\x00").encode("utf-8", "backslashreplace").decode("utf-8")
        return value
    return value


def mask_pii(value: Any) -> Any:
    """A personal value as an auditor may see it: its shape and last two characters (张三明 → **明)."""
    if value is None or value == "":
        return value
    if isinstance(value, dict):
        return {k: mask_pii(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [mask_pii(v) for v in value]
    text = str(value)
    return "*" * len(text) if len(text) <= 4 else "*" * (len(text) - 2) + text[-2:]


def _text(value: Any) -> str:
    if value is None:
        return NULL
    if isinstance(value, (dict, list)):
        return json_text(storable(value))
    return copy_escape(storable(str(value)))


class Spill:
    """Rows for one audit table, appended as COPY text lines."""

    def __init__(self, table: str, columns: Sequence[str]):
        self.table = table
        self.columns = tuple(columns)
        self.count = 0
        self._file = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES, mode="w+", encoding="utf-8")

    def add(self, *values: Any) -> None:
        self._file.write("\t".join(map(_text, values)))
        self._file.write("\n")
        self.count += 1

    def discard(self) -> None:
        self._file.seek(0)
        self._file.truncate()
        self.count = 0

    def copy_into(self, conn: psycopg.Connection) -> None:
        if not self.count:
            return
        schema, table = self.table.split(".")
        statement = sql.SQL("copy {} ({}) from stdin").format(
            sql.Identifier(schema, table), sql.SQL(", ").join(map(sql.Identifier, self.columns)))
        self._file.seek(0)
        with conn.cursor() as cur, cur.copy(statement) as copy:
            while chunk := self._file.read(CHUNK_CHARS):
                copy.write(chunk)

    def close(self) -> None:
        self._file.close()


def reject_spill() -> Spill:
    return Spill("audit.rejected_rows",
                 ("batch_id", "row_number", "column_name", "rule", "reason", "reason_zh", "original_values"))


def clear_spill() -> Spill:
    """Clear original values of rejected rows with personal information: read by the data steward only."""
    return Spill("audit.rejected_values_clear", ("batch_id", "row_number", "original_values"))


def warning_spill() -> Spill:
    return Spill("audit.ingestion_warnings", ("batch_id", "row_number", "column_name", "rule", "reason", "reason_zh"))
