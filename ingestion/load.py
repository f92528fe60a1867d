"""Load one file of one feed into `raw.<feed>`, with its batch record and its rejects.

Everything for one file happens in one transaction: the batch row, the COPY of the
valid rows, the rejects and the final counts. A crash leaves nothing behind, and the
file is simply taken again. rows_in = rows_loaded + rows_rejected is enforced by a
check constraint on audit.ingestion_batches.
"""
from __future__ import annotations

import datetime as dt
import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

from ingestion.archive import archive_file, file_digest
from ingestion.errors import FileRejected
from ingestion.read import HeaderMap, SourceRow, check_file, read_rows
from ingestion.registry import FeedSpec, get_spec
from ingestion.validate import RowValidator
from warehouse.bootstrap import bootstrap
from warehouse.db import connect
from warehouse.settings import get_settings

MAX_ERRORS_IN_SUMMARY = 50
PG_COPY_TYPES = {"numeric(18, 2)": "numeric"}


@dataclass
class BatchSummary:
    batch_id: int | None
    feed: str
    file: str
    sha256: str
    status: str
    rows_in: int = 0
    rows_loaded: int = 0
    rows_rejected: int = 0
    warnings: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)
    errors_total: int = 0
    message: str | None = None
    duplicate_of: int | None = None
    archive_path: str | None = None
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class _Reject:
    row_number: int | None
    column: str | None
    rule: str
    reason: str
    reason_zh: str
    original: dict[str, Any] | None


def ensure_raw_table(conn: psycopg.Connection, spec: FeedSpec) -> None:
    """Create `raw.<feed>` from the spec; add columns a newer spec declares."""
    table = sql.Identifier("raw", spec.feed_id)
    columns = [sql.SQL("{} {}").format(sql.Identifier(c.name), sql.SQL(c.pg_type)) for c in spec.columns]
    conn.execute(sql.SQL(
        "create table if not exists {table} ({columns}, _extra jsonb, "
        "_batch_id bigint not null references audit.ingestion_batches (batch_id), "
        "_row_number integer not null, _loaded_at timestamptz not null default now(), "
        "primary key (_batch_id, _row_number))"
    ).format(table=table, columns=sql.SQL(", ").join(columns)))
    for col in spec.columns:
        conn.execute(sql.SQL("alter table {} add column if not exists {} {}").format(
            table, sql.Identifier(col.name), sql.SQL(col.pg_type)))
    conn.execute(sql.SQL("comment on table {} is {}").format(
        table, sql.Literal(f"{spec.title} — {spec.department}; append-only, as received")))
    conn.execute(sql.SQL("grant select, insert on {} to gov_ingest").format(table))
    conn.execute(sql.SQL("grant select on {} to gov_transform").format(table))


def load_file(feed_id: str, path: Path, *, dsn: str | None = None) -> BatchSummary:
    """Load `path` as feed `feed_id`. Idempotent: the same content twice loads once."""
    started = time.perf_counter()
    spec = get_spec(feed_id)
    settings = get_settings()
    path = Path(path)
    sha256, size = file_digest(path)
    summary = BatchSummary(batch_id=None, feed=feed_id, file=path.name, sha256=sha256, status="loading")
    bootstrap(dsn)
    with connect(dsn) as conn:
        ensure_raw_table(conn, spec)
        conn.commit()
        conn.execute("select pg_advisory_xact_lock(hashtext(%s))", (f"load:{feed_id}:{sha256}",))
        previous = conn.execute(
            "select batch_id from audit.ingestion_batches where feed_id = %s and sha256 = %s "
            "and status <> 'duplicate'", (feed_id, sha256)).fetchone()
        archived = archive_file(path, sha256, settings.archive_dir, feed_id)
        summary.archive_path = str(archived)
        if previous:
            summary.status, summary.duplicate_of = "duplicate", previous[0]
            summary.message = f"identical content already received as batch {previous[0]}; not loaded again"
            summary.batch_id = _insert_batch(conn, spec, path, sha256, size, summary)
            _finish_batch(conn, summary)
            conn.commit()
            summary.seconds = round(time.perf_counter() - started, 3)
            return summary
        summary.batch_id = _insert_batch(conn, spec, path, sha256, size, summary)
        rejects: list[_Reject] = []
        warnings: list[_Reject] = []
        try:
            with conn.transaction():
                check_file(spec, path, settings.max_file_bytes)
                header_map, rows = read_rows(spec, path)
                if header_map.unknown:
                    warnings.append(_Reject(None, None, "schema_drift",
                                            f"unknown columns kept in _extra: {', '.join(header_map.unknown)}",
                                            f"未知列已保存在 _extra：{'、'.join(header_map.unknown)}", None))
                _copy_rows(conn, spec, summary, header_map, rows, rejects, warnings)
                if summary.rows_in == 0:
                    raise FileRejected("no_rows", "the file has a header but no data rows", "文件只有表头，没有数据")
                _reject_in_sql(conn, spec, summary, rejects)
        except FileRejected as exc:
            summary.rows_rejected = summary.rows_in
            summary.rows_loaded = 0
            summary.status = "rejected"
            summary.message = exc.reason
            rejects = [_Reject(None, None, exc.rule, exc.reason, exc.reason_zh, {"file": path.name})]
            warnings = []
        else:
            summary.status = "loaded" if summary.rows_rejected == 0 else (
                "partial" if summary.rows_loaded else "rejected")
        _write_rejects(conn, summary.batch_id, rejects, warnings)
        summary.warnings = len(warnings)
        rejects.sort(key=lambda r: (r.row_number or 0, r.column or ""))
        summary.errors_total = len(rejects)
        summary.errors = [
            {"row": r.row_number, "column": r.column, "rule": r.rule, "reason": r.reason}
            for r in rejects[:MAX_ERRORS_IN_SUMMARY]
        ]
        _finish_batch(conn, summary)
        conn.commit()
    summary.seconds = round(time.perf_counter() - started, 3)
    return summary


def _insert_batch(conn, spec: FeedSpec, path: Path, sha256: str, size: int, summary: BatchSummary) -> int:
    row = conn.execute(
        "insert into audit.ingestion_batches (feed_id, file_name, sha256, file_bytes, status, duplicate_of, "
        "archive_path, message) values (%s, %s, %s, %s, %s, %s, %s, %s) returning batch_id",
        (spec.feed_id, path.name, sha256, size, summary.status, summary.duplicate_of, summary.archive_path,
         summary.message),
    ).fetchone()
    return row[0]


def _finish_batch(conn, summary: BatchSummary) -> None:
    conn.execute(
        "update audit.ingestion_batches set status = %s, rows_in = %s, rows_loaded = %s, rows_rejected = %s, "
        "warnings = %s, message = %s, finished_at = clock_timestamp() where batch_id = %s",
        (summary.status, summary.rows_in, summary.rows_loaded, summary.rows_rejected, summary.warnings,
         summary.message, summary.batch_id),
    )


def _original(row: SourceRow, header_map: HeaderMap) -> dict[str, Any]:
    values = {header_map.original.get(name, name): value for name, value in row.values.items()}
    values.update(row.extra)
    return values


def _copy_rows(conn, spec: FeedSpec, summary: BatchSummary, header_map: HeaderMap, rows,
               rejects: list[_Reject], warnings: list[_Reject]) -> None:
    validator = RowValidator(spec)
    names = [c.name for c in spec.columns]
    statement = sql.SQL("copy {} ({}, _extra, _batch_id, _row_number) from stdin").format(
        sql.Identifier("raw", spec.feed_id), sql.SQL(", ").join(map(sql.Identifier, names)))
    types = [PG_COPY_TYPES.get(c.pg_type, c.pg_type) for c in spec.columns] + ["jsonb", "bigint", "integer"]
    batch_id = summary.batch_id
    with conn.cursor() as cur, cur.copy(statement) as copy:
        copy.set_types(types)
        for row in rows:
            summary.rows_in += 1
            if row.error is not None:
                rejects.append(_Reject(row.row_number, None, row.error.rule, row.error.reason,
                                       row.error.reason_zh, row.values))
                summary.rows_rejected += 1
                continue
            values, errors, row_warnings = validator.validate(row.values)
            for column, warning in row_warnings:
                warnings.append(_Reject(row.row_number, column, warning.rule, warning.reason, warning.reason_zh, None))
            if errors:
                original = _original(row, header_map)
                for column, error in errors:
                    rejects.append(_Reject(row.row_number, column, error.rule, error.reason, error.reason_zh,
                                           original))
                summary.rows_rejected += 1
                continue
            extra = _jsonb(row.extra) if row.extra else None
            copy.write_row((*values, extra, batch_id, row.row_number))
            summary.rows_loaded += 1


def _reject_in_sql(conn, spec: FeedSpec, summary: BatchSummary, rejects: list[_Reject]) -> None:
    """Set-based rules that need the whole file: unique keys, parents that exist."""
    table = sql.Identifier("raw", spec.feed_id)
    keys = sql.SQL(", ").join(map(sql.Identifier, spec.key))
    key_label = ", ".join(spec.column(k).header for k in spec.key)
    moved = conn.execute(sql.SQL(
        "delete from {table} t using (select _row_number from (select _row_number, count(*) over "
        "(partition by {keys}) as n from {table} where _batch_id = %(batch)s) d where n > 1) dup "
        "where t._batch_id = %(batch)s and t._row_number = dup._row_number "
        "returning t._row_number, to_jsonb(t) - '_batch_id' - '_row_number' - '_loaded_at' - '_extra'"
    ).format(table=table, keys=keys), {"batch": summary.batch_id}).fetchall()
    for row_number, values in sorted(moved, key=lambda r: r[0]):
        rejects.append(_Reject(row_number, spec.key[0], "duplicate_key",
                               f"key {key_label} appears more than once in the file",
                               f"主键 {key_label} 在文件中重复出现", values))
    for col in spec.columns:
        if not col.parent_of:
            continue
        while True:  # a child of a rejected parent has an unknown parent too
            orphans = conn.execute(sql.SQL(
                "delete from {table} t where t._batch_id = %(batch)s and t.{parent} is not null "
                "and not exists (select 1 from {table} p where p.{key} = t.{parent} and ("
                "p._batch_id = %(batch)s or p._batch_id in (select batch_id from audit.ingestion_batches "
                "where feed_id = %(feed)s and status in ('loaded', 'partial')))) "
                "returning t._row_number, to_jsonb(t) - '_batch_id' - '_row_number' - '_loaded_at' - '_extra'"
            ).format(table=table, parent=sql.Identifier(col.name), key=sql.Identifier(col.parent_of)),
                {"batch": summary.batch_id, "feed": spec.feed_id}).fetchall()
            if not orphans:
                break
            for row_number, values in sorted(orphans, key=lambda r: r[0]):
                rejects.append(_Reject(row_number, col.name, "unknown_parent",
                                       f"{col.header} {values.get(col.name)!r} does not exist",
                                       f"{col.header} {values.get(col.name)!r} 不存在", values))
    removed = len(moved) + sum(1 for r in rejects if r.rule == "unknown_parent")
    summary.rows_loaded -= removed
    summary.rows_rejected += removed


def _write_rejects(conn, batch_id: int, rejects: list[_Reject], warnings: list[_Reject]) -> None:
    if rejects:
        with conn.cursor() as cur, cur.copy(
            "copy audit.rejected_rows (batch_id, row_number, column_name, rule, reason, reason_zh, "
            "original_values) from stdin"
        ) as copy:
            copy.set_types(["bigint", "integer", "text", "text", "text", "text", "jsonb"])
            for r in rejects:
                original = _jsonb(r.original) if r.original else None
                copy.write_row((batch_id, r.row_number, r.column, r.rule, r.reason, r.reason_zh, original))
    if warnings:
        with conn.cursor() as cur, cur.copy(
            "copy audit.ingestion_warnings (batch_id, row_number, column_name, rule, reason, reason_zh) from stdin"
        ) as copy:
            for w in warnings:
                copy.write_row((batch_id, w.row_number, w.column, w.rule, w.reason, w.reason_zh))


def _jsonb(value: Any) -> Jsonb:
    return Jsonb(value, dumps=lambda obj: json.dumps(obj, ensure_ascii=False, default=_json_default))


def _json_default(value: Any) -> str:
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    return str(value)
