"""Load one file of one feed into `raw.<feed>`, with its batch record and its rejects.

Everything for one file happens in one transaction: the batch row, the COPY of the
valid rows, the rejects and the final counts. A crash leaves nothing behind, and the
file is simply taken again. rows_in = rows_loaded + rows_rejected is a check
constraint, and a deferred constraint trigger verifies at commit that the counts match
the rows really stored in raw.<feed> and audit.rejected_rows (warehouse/sql/ (00_core.sql, …)).

Speed: rows are validated into COPY text (fast path for canonical values, see
encode.py) and written to one COPY stream in large chunks; rejects go to a spill file
and are COPYed afterwards; duplicate keys are found from 12 bytes per row (keys.py).
"""
from __future__ import annotations

import hashlib
import importlib
import os
import queue
import shutil
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from psycopg.copy import QueuedLibpqWriter

from ingestion.archive import archive_file, file_digest
from ingestion.batch_ranges import ReadyForLoad
from ingestion.copyrows import Progress, RowCopier
from ingestion.errors import FileRejected, printable, unexpected
from ingestion.fastrow import row_matcher
from ingestion.read import CsvLines, Source, check_file, open_source
from ingestion.registry import FeedSpec, get_spec, load_registry
from ingestion.spill import Spill, clear_spill, reject_spill, warning_spill
from warehouse.bootstrap import bootstrap
from warehouse.credentials import login_dsn
from warehouse.db import connect
from warehouse.settings import get_settings

MAX_ERRORS_IN_SUMMARY = 50
_STORED_ORIGINAL = "to_jsonb(t) - '_batch_id' - '_row_number' - '_loaded_at' - '_extra'"


def _keep_clear(spec: FeedSpec) -> sql.Composable:
    """CTE that keeps the clear original of moved rows for the data steward (feeds with pii columns)."""
    if not any(c.pii for c in spec.columns):
        return sql.SQL("")
    return sql.SQL(", clear as (insert into audit.rejected_values_clear (batch_id, row_number, original_values) "
                   "select %(batch)s, _row_number, original from moved) ")


def _masked_original(spec: FeedSpec) -> sql.Composable:
    """The moved row's original values with the spec's pii columns masked (as spill.mask_pii does)."""
    masked = sql.SQL("original")
    for col in spec.columns:
        if col.pii:
            value = sql.SQL("(original ->> {})").format(sql.Literal(col.name))
            masked = sql.SQL("({} || jsonb_build_object({}, case when {v} is null then null "
                             "when length({v}) <= 4 then repeat('*', length({v})) "
                             "else repeat('*', length({v}) - 2) || right({v}, 2) end))").format(
                masked, sql.Literal(col.name), v=value)
    return masked


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
    replay_of: int | None = None
    archive_path: str | None = None
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def raw_table_statements(spec: FeedSpec) -> list[sql.Composable]:
    """DDL of `raw.<feed>` from its spec (columns a newer spec declares are added), and its grants.

    Applied by bootstrap as the owner, once per change of the registry, under bootstrap's
    lock: never on every load, so parallel loads never race on the catalog.
    """
    table = sql.Identifier("raw", spec.feed_id)
    columns = [sql.SQL("{} {}").format(sql.Identifier(c.name), sql.SQL(c.pg_type)) for c in spec.columns]
    statements: list[sql.Composable] = [sql.SQL(
        "create table if not exists {table} ({columns}, _extra jsonb, _batch_id bigint not null, "
        "_row_number integer not null, _loaded_at timestamptz not null default now())"
    ).format(table=table, columns=sql.SQL(", ").join(columns))]
    # No foreign key to audit.ingestion_batches: its per-row check cost more than the COPY itself
    # (5 s per million rows). The loader inserts the batch first, in the same transaction, and the
    # deferred trigger on audit.ingestion_batches checks each batch's rows against its counts.
    # No primary key on (_batch_id, _row_number) either: the loader numbers each batch's rows
    # itself, and the btree cost the server ~0.8 s per million rows (a third of the COPY). A batch
    # is appended as one run of pages, so a BRIN index on _batch_id finds it (and the batches
    # since a publication) reading a few pages of index (measured: docs/scale_plan.md).
    statements.append(sql.SQL(
        "do $$ declare name text; begin for name in select conname from pg_constraint "
        "where conrelid = {regclass}::regclass and contype in ('f', 'p') loop "
        "execute format('alter table %s drop constraint %I', {regclass}, name); end loop; end $$"
    ).format(regclass=sql.Literal(table.as_string())))
    statements.append(sql.SQL(
        "create index if not exists {index} on {table} using brin (_batch_id) with (autosummarize = on)"
    ).format(index=sql.Identifier(f"{spec.feed_id}__batch"), table=table))
    for col in spec.columns:
        statements.append(sql.SQL("alter table {} add column if not exists {} {}").format(
            table, sql.Identifier(col.name), sql.SQL(col.pg_type)))
    statements += [
        sql.SQL("comment on table {} is {}").format(
            table, sql.Literal(f"{spec.title} — {spec.department}; append-only, as received")),
        sql.SQL("revoke all on {} from gov_ingest, gov_transform, bi_reader, auditor").format(table),
        # delete: a load moves its own duplicate-key / unknown-parent rows to the rejects
        sql.SQL("grant select, insert, delete on {} to gov_ingest").format(table),
        sql.SQL("grant select on {} to gov_transform").format(table),
        sql.SQL("create or replace trigger raw_append_only before delete on {} for each row "
                "execute function audit.raw_delete_guard()").format(table),
    ]
    return statements


def prepare_warehouse(dsn: str | None = None) -> str:
    """As the owner: bootstrap plus every raw table of the registry (no-op when unchanged).

    Returns the DSN of the ingest login that loads run as.
    """
    owner = dsn or get_settings().dsn
    specs = load_registry()
    bootstrap(owner, {"raw_tables": [s for feed in sorted(specs) for s in raw_table_statements(specs[feed])]})
    return login_dsn(owner, "ingest")


def load_file(feed_id: str, path: Path, *, dsn: str | None = None, replay_of: int | None = None,
              progress: Progress | None = None) -> BatchSummary:
    """Load `path` as feed `feed_id`. Idempotent: the same content twice loads once.

    `replay_of` (used by `replay_batch`) loads the file again on purpose, as a new
    batch that supersedes the earlier one, instead of recording a duplicate.
    `progress` is called with the number of rows read so far, every few thousand rows.
    """
    started = time.perf_counter()
    spec = get_spec(feed_id)
    settings = get_settings()
    path = Path(path)
    _prefetch_vector(spec)
    # The earlier batches are summarized before the batch opens: its count check at commit reads its own pages.
    ready = ReadyForLoad(lambda: prepare_warehouse(dsn), feed_id)
    try:
        sha256, size = file_digest(path)
    except OSError as exc:  # unreadable: refused by name, like a delivery that may not be opened
        ready.wait()
        return refuse_file(feed_id, path.name, unexpected(exc), dsn=dsn)
    summary = BatchSummary(batch_id=None, feed=feed_id, file=printable(path.name), sha256=sha256, status="loading",
                           replay_of=replay_of)
    with connect(ready.wait()) as conn:
        refusal = None
        try:
            summary.archive_path = str(archive_file(path, sha256, settings.archive_dir, feed_id))
        except OSError as exc:  # e.g. a name too long for the archive: refused, never a stuck feed
            refusal = FileRejected("archive_failed", f"the file cannot be archived: {printable(str(exc), 300)}",
                                   "文件无法归档")
        if _open_batch(conn, spec, summary, size):
            _load_batch(conn, spec, summary, path, settings.max_file_bytes, progress, refusal)
        _finish_batch(conn, summary)
        conn.commit()
    summary.seconds = round(time.perf_counter() - started, 3)
    return summary


def _prefetch_vector(spec: FeedSpec) -> None:
    """Import the vector engine (polars, pyarrow.compute and the first join's set-up: ~0.4 s) in a
    thread while the file is hashed and archived.

    Hashing, copying and the database round trips before the COPY release the GIL, so a
    fresh process (an Airflow task, the CLI) does not pay the import on top of them.
    """
    if spec.format != "csv" or _engine() != "vector" or "ingestion.binarycopy" in sys.modules:
        return

    def load() -> None:
        try:
            from ingestion.coltypes.base import valid_iso_dates

            importlib.import_module("ingestion.vector")
            binarycopy = importlib.import_module("ingestion.binarycopy")
            binarycopy.warm_up()
            valid_iso_dates()  # the row path's date set (~0.1 s), built once per process
        except Exception:  # noqa: BLE001 - the load itself imports them again and reports any error
            pass

    threading.Thread(target=load, name="prefetch-vector", daemon=True).start()


def refuse_file(feed_id: str, name: str, refusal: FileRejected, *, dsn: str | None = None) -> BatchSummary:
    """Record a delivery that must not even be opened (e.g. a path escaping the landing folder).

    The file is never read, so its content hash is unknown: the batch is keyed by a hash
    of the refusal itself, which makes a second delivery of the same thing a duplicate.
    """
    started = time.perf_counter()
    spec = get_spec(feed_id)
    sha256 = hashlib.sha256(f"refused:{feed_id}:{name}:{refusal.rule}".encode("utf-8", "surrogateescape")).hexdigest()
    summary = BatchSummary(batch_id=None, feed=feed_id, file=printable(name), sha256=sha256, status="loading")
    ingest = prepare_warehouse(dsn)
    with connect(ingest) as conn:
        if _open_batch(conn, spec, summary, 0):
            rejects = reject_spill()
            _reject_whole_file(summary, rejects, refusal, name)
            rejects.copy_into(conn)
            rejects.close()
            _summarise_rejects(conn, summary)
        _finish_batch(conn, summary)
        conn.commit()
    summary.seconds = round(time.perf_counter() - started, 3)
    return summary


def replay_batch(batch_id: int, *, dsn: str | None = None, progress: Progress | None = None) -> BatchSummary:
    """Load an archived batch's file again as a new batch (after a spec or reference fix).

    Replays bypass the duplicate rule on purpose; the new batch records `replay_of` and,
    being later, supersedes the earlier batch's rows in staging. A later re-delivery of
    the same file is still a duplicate of the original batch.
    """
    with connect(prepare_warehouse(dsn)) as conn:
        row = conn.execute("select feed_id, file_name, archive_path, coalesce(duplicate_of, batch_id) "
                           "from audit.ingestion_batches where batch_id = %s", (batch_id,)).fetchone()
    if row is None:
        raise LookupError(f"no batch {batch_id} in audit.ingestion_batches")
    feed_id, file_name, archive_path, original = row
    if not archive_path or not Path(archive_path).is_file():
        raise LookupError(f"batch {batch_id}: archived file {archive_path!r} is missing")
    with tempfile.TemporaryDirectory(prefix="replay-") as tmp:
        copy = Path(tmp) / Path(file_name).name  # the original name: extension checks and audit stay meaningful
        shutil.copyfile(archive_path, copy)
        return load_file(feed_id, copy, dsn=dsn, replay_of=original, progress=progress)


# --- batch record -------------------------------------------------------------------

def _open_batch(conn: psycopg.Connection, spec: FeedSpec, summary: BatchSummary, size: int) -> bool:
    """Insert the batch row; False when the content was already received (a duplicate)."""
    conn.execute("select pg_advisory_xact_lock(hashtext(%s))", (f"load:{spec.feed_id}:{summary.sha256}",))
    if summary.replay_of is None:
        previous = conn.execute(
            "select batch_id from audit.ingestion_batches where feed_id = %s and sha256 = %s "
            "and status <> 'duplicate' order by batch_id limit 1", (spec.feed_id, summary.sha256)).fetchone()
        if previous:
            summary.status, summary.duplicate_of = "duplicate", previous[0]
            summary.message = f"identical content already received as batch {previous[0]}; not loaded again"
    summary.batch_id = conn.execute(
        "insert into audit.ingestion_batches (feed_id, file_name, sha256, file_bytes, status, duplicate_of, "
        "replay_of, archive_path, message) values (%s, %s, %s, %s, %s, %s, %s, %s, %s) returning batch_id",
        (spec.feed_id, summary.file, summary.sha256, size, summary.status, summary.duplicate_of,
         summary.replay_of, summary.archive_path, summary.message),
    ).fetchone()[0]
    return summary.status != "duplicate"


def _finish_batch(conn: psycopg.Connection, summary: BatchSummary) -> None:
    # The ingest login has no UPDATE on audit tables: a batch is finished once, by this function.
    conn.execute(
        "select audit.finish_batch(%s, %s, %s, %s, %s, %s, %s)",
        (summary.batch_id, summary.status, summary.rows_in, summary.rows_loaded, summary.rows_rejected,
         summary.warnings, summary.message),
    )


def _load_batch(conn: psycopg.Connection, spec: FeedSpec, summary: BatchSummary, path: Path, max_bytes: int,
                progress: Progress | None, refusal: FileRejected | None = None) -> None:
    rejects, warnings, clear = reject_spill(), warning_spill(), clear_spill()
    try:
        try:
            with conn.transaction():
                if refusal is not None:
                    raise refusal
                try:
                    check_file(spec, path, max_bytes)
                    source = open_source(spec, path)
                    candidates = _copy_rows(conn, spec, summary, source, rejects, warnings, clear, progress)
                except (FileRejected, psycopg.OperationalError, MemoryError, KeyboardInterrupt):
                    raise  # a refusal, or the database is gone: the caller retries
                except Exception as exc:  # anything unforeseen in one file must not block the feed
                    raise unexpected(exc) from exc
                if summary.rows_in == 0:
                    raise FileRejected("no_rows", "the file has a header but no data rows", "文件只有表头，没有数据")
                if source.unknown:
                    warnings.add(summary.batch_id, None, None, "schema_drift",
                                 f"unknown columns kept in _extra: {', '.join(source.unknown)}",
                                 f"未知列已保存在 _extra：{'、'.join(source.unknown)}")
                removed = (_reject_duplicate_keys(conn, spec, summary, candidates)
                           + _reject_unknown_parents(conn, spec, summary))
                summary.rows_loaded -= removed
                summary.rows_rejected += removed
        except FileRejected as exc:
            rejects.discard()
            warnings.discard()
            clear.discard()
            summary.rows_in = _count_data_rows(spec, path, exc)
            _reject_whole_file(summary, rejects, exc, path.name)
        else:
            summary.status = "loaded" if summary.rows_rejected == 0 else (
                "partial" if summary.rows_loaded else "rejected")
            if summary.status == "rejected":
                summary.message = (f"every row was rejected ({summary.rows_rejected}); "
                                   "see audit.rejected_rows for each row's reason")
        rejects.copy_into(conn)
        warnings.copy_into(conn)
        clear.copy_into(conn)
        summary.warnings = warnings.count
        _summarise_rejects(conn, summary)
    finally:
        rejects.close()
        warnings.close()
        clear.close()


_UNREAD_RULES = {"empty_file", "file_too_large", "no_rows", "path_escape"}


def _count_data_rows(spec: FeedSpec, path: Path, exc: FileRejected) -> int:
    """How many data rows a file refused whole had, as far as it can be read (0 when it cannot).

    Recorded as rows_in (and rows_rejected) so an auditor sees what was refused, not just
    that something was. Best effort, never raising: non-blank records after the header.
    """
    if exc.rule in _UNREAD_RULES:
        return 0
    try:
        if spec.format == "xlsx":
            import openpyxl

            workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
            try:
                sheet = workbook[spec.sheet] if spec.sheet in workbook.sheetnames else workbook.worksheets[0]
                rows = [r for r in sheet.iter_rows(values_only=True) if any(c not in (None, "") for c in r)]
            finally:
                workbook.close()
            known = set().union(*(c.header_names() for c in spec.columns))
            header = next((i for i, r in enumerate(rows[:20]) if any(str(c).strip() in known for c in r if c)), 0)
            return max(len(rows) - header - 1, 0)
        with path.open(encoding=spec.encoding or "utf-8", errors="replace", newline="") as handle:
            if spec.format == "jsonl":
                return sum(1 for line in handle if line.strip())
            import csv

            return max(sum(1 for record in csv.reader(handle) if any(cell.strip() for cell in record)) - 1, 0)
    except Exception:  # a file too damaged to count: the rejection itself says why
        return 0


def _reject_whole_file(summary: BatchSummary, rejects: Spill, exc: FileRejected, name: str) -> None:
    summary.rows_rejected, summary.rows_loaded = summary.rows_in, 0
    summary.status, summary.message = "rejected", exc.reason
    rejects.add(summary.batch_id, None, None, exc.rule, exc.reason, exc.reason_zh, {"file": name})


def _summarise_rejects(conn: psycopg.Connection, summary: BatchSummary) -> None:
    """The first rejects in file order, read back from the audit table (not kept in memory)."""
    rows = conn.execute(
        "select row_number, column_name, rule, reason, count(*) over () from audit.rejected_rows "
        "where batch_id = %s order by row_number nulls first, rejection_id limit %s",
        (summary.batch_id, MAX_ERRORS_IN_SUMMARY)).fetchall()
    summary.errors_total = rows[0][4] if rows else 0
    summary.errors = [{"row": r[0], "column": r[1], "rule": r[2], "reason": r[3]} for r in rows]


# --- the row loop -------------------------------------------------------------------

class _BoundedQueueWriter(QueuedLibpqWriter):
    """Sends COPY data from a thread, so validating the next rows overlaps the network and server.

    psycopg's queue holds up to 1024 blocks of 128 KB; when the server is the slower side
    that is 128 MB of memory. A shorter queue keeps the overlap and bounds memory to ~8 MB.
    """

    QUEUE_BLOCKS = 64

    def __init__(self, cursor: psycopg.Cursor):
        super().__init__(cursor)
        self._queue = queue.Queue(maxsize=self.QUEUE_BLOCKS)


def _copy_rows(conn: psycopg.Connection, spec: FeedSpec, summary: BatchSummary, source: Source,
               rejects: Spill, warnings: Spill, clear: Spill, progress: Progress | None) -> list[int]:
    """COPY every valid row into raw.<feed>; returns the rows whose key may be duplicated."""
    names = [c.name for c in spec.columns]
    statement = sql.SQL("copy {} ({}, _extra, _batch_id, _row_number) from stdin").format(
        sql.Identifier("raw", spec.feed_id), sql.SQL(", ").join(map(sql.Identifier, names)))
    lines = source.lines
    engine = _engine()
    vector = _vector_check(spec, lines) if engine == "vector" else None
    if vector is not None:
        copier = _copy_vector(conn, spec, summary, source, statement, rejects, warnings, clear, progress)
    else:
        with conn.cursor() as cur, cur.copy(statement, writer=_BoundedQueueWriter(cur)) as copy:
            copier = RowCopier(spec, summary.batch_id, copy, rejects, warnings, progress,
                               text_only=source.text_only, clear=clear)
            matcher = row_matcher(spec, lines.layout) if lines is not None else None
            if matcher is not None:
                copier.copy_lines(lines, matcher)
            else:
                copier.copy_rows(source.rows)
    summary.rows_in, summary.rows_loaded, summary.rows_rejected = copier.rows_in, copier.loaded, copier.rejected
    return copier.keys.candidates()


class _TextSpill:
    """Text COPY lines of the rows the row path loads while clean lines stream as binary COPY."""

    def __init__(self) -> None:
        self.file = tempfile.TemporaryFile()
        self.bytes = 0

    def write(self, data: str) -> None:
        encoded = data.encode("utf-8")
        self.file.write(encoded)
        self.bytes += len(encoded)


def _copy_vector(conn: psycopg.Connection, spec: FeedSpec, summary: BatchSummary, source: Source,
                 statement: sql.Composed, rejects: Spill, warnings: Spill, clear: Spill,
                 progress: Progress | None) -> RowCopier:
    """The vector engine: clean lines as binary COPY (binarycopy.py) when every column type has a
    binary form, else as text; rows of the row path (flagged lines) as text COPY afterwards."""
    from ingestion.binarycopy import SIGNATURE, TRAILER, binary_encoder
    from ingestion.chunks import ChunkedLines
    from ingestion.vector import BinaryOut, block_check, copy_blocks

    lines = source.lines
    lines.close()
    chunked = ChunkedLines(spec, lines.path, lines.line_number)
    encode = binary_encoder(spec) if os.environ.get("INGEST_COPY_FORMAT", "binary") == "binary" else None
    check = block_check(spec, lines.layout, fields=encode is not None)
    with conn.cursor() as cur:
        if encode is None:
            with cur.copy(statement, writer=_BoundedQueueWriter(cur)) as copy:
                copier = RowCopier(spec, summary.batch_id, copy, rejects, warnings, progress,
                                   text_only=source.text_only, clear=clear)
                copy_blocks(copier, chunked, check, lines.layout)
            return copier
        spill = _TextSpill()
        try:
            copier = RowCopier(spec, summary.batch_id, spill, rejects, warnings, progress,
                               text_only=source.text_only, clear=clear)
            binary = sql.SQL("{} (format binary)").format(statement)
            with cur.copy(binary, writer=_BoundedQueueWriter(cur)) as copy:
                copy.write(SIGNATURE)
                copy_blocks(copier, chunked, check, lines.layout, BinaryOut(copy, encode, len(spec.columns)))
                copy.write(TRAILER)
            if spill.bytes:
                spill.file.seek(0)
                with cur.copy(statement, writer=_BoundedQueueWriter(cur)) as copy:
                    while data := spill.file.read(1 << 20):
                        copy.write(data)
        finally:
            spill.file.close()
    return copier


ENGINES = ("vector", "lines")


def _engine() -> str:
    """INGEST_ENGINE: `vector` (default: polars on blocks of lines) or `lines` (the per-line fast path)."""
    engine = os.environ.get("INGEST_ENGINE") or "vector"
    if engine not in ENGINES:
        raise ValueError(f"INGEST_ENGINE={engine!r}: expected one of {', '.join(ENGINES)}")
    return engine


def _vector_check(spec: FeedSpec, lines: CsvLines | None):
    """The vectorised check for a UTF-8 CSV laid out as its contract; None means the line or row path.

    INGEST_COPY_FORMAT=text keeps the vector engine on text COPY (for comparison)."""
    if lines is None or spec.encoding not in ("utf-8", "utf-8-sig"):
        return None  # GB18030 feeds keep the line path (its decoder guards against UTF-8 content)
    from ingestion.vector import block_check

    return block_check(spec, lines.layout)


# --- set-based rules after the COPY -------------------------------------------------

def _reject_duplicate_keys(conn: psycopg.Connection, spec: FeedSpec, summary: BatchSummary,
                           candidates: list[int]) -> int:
    """Every row whose key appears more than once in the file is rejected (all copies)."""
    if not candidates:
        return 0
    key_label = ", ".join(spec.column(k).header for k in spec.key)
    # The duplicates are collected into an array first (one InitPlan), so the delete reads only the batch
    # (BRIN on _batch_id). As a join, statistics taken before this batch (it has "1 row") made the planner
    # loop over every row of the batch and re-run the window for each: hours for a 10-million-row file.
    # Candidates share a 64-bit key hash (keys.py): in practice real duplicates only.
    cursor = conn.execute(sql.SQL(
        "with moved as (delete from {table} t where t._batch_id = %(batch)s and t._row_number = any(array("
        "select _row_number from (select _row_number, count(*) over (partition by {keys}) as n from {table} "
        "where _batch_id = %(batch)s and _row_number = any(%(rows)s)) d where n > 1)) "
        "returning t._row_number, {original} as original){clear} "
        "insert into audit.rejected_rows (batch_id, row_number, column_name, rule, reason, reason_zh, "
        "original_values) select %(batch)s, _row_number, %(column)s, 'duplicate_key', %(reason)s, %(reason_zh)s, "
        "{masked} from moved order by _row_number"
    ).format(table=sql.Identifier("raw", spec.feed_id), keys=sql.SQL(", ").join(map(sql.Identifier, spec.key)),
             original=sql.SQL(_STORED_ORIGINAL), clear=_keep_clear(spec), masked=_masked_original(spec)),
        {"batch": summary.batch_id, "rows": candidates, "column": spec.key[0],
         "reason": f"key {key_label} appears more than once in the file",
         "reason_zh": f"主键 {key_label} 在文件中重复出现"})
    return cursor.rowcount


def _reject_unknown_parents(conn: psycopg.Connection, spec: FeedSpec, summary: BatchSummary) -> int:
    """A parent must exist in this file or an earlier accepted batch; repeat for grandchildren."""
    removed = 0
    table = sql.Identifier("raw", spec.feed_id)
    for col in spec.columns:
        if not col.parent_of:
            continue
        while True:  # a child of a rejected parent has an unknown parent too
            cursor = conn.execute(sql.SQL(
                "with moved as (delete from {table} t where t._batch_id = %(batch)s and t.{parent} is not null "
                "and not exists (select 1 from {table} p where p.{key} = t.{parent} and ("
                "p._batch_id = %(batch)s or p._batch_id in (select batch_id from audit.ingestion_batches "
                "where feed_id = %(feed)s and status in ('loaded', 'partial')))) "
                "returning t._row_number, t.{parent} as parent, {original} as original){clear} "
                "insert into audit.rejected_rows (batch_id, row_number, column_name, rule, reason, reason_zh, "
                "original_values) select %(batch)s, _row_number, %(column)s, 'unknown_parent', "
                "format(%(reason)s, parent), format(%(reason_zh)s, parent), {masked} from moved order by _row_number"
            ).format(table=table, parent=sql.Identifier(col.name), key=sql.Identifier(col.parent_of),
                     original=sql.SQL(_STORED_ORIGINAL), clear=_keep_clear(spec), masked=_masked_original(spec)),
                {"batch": summary.batch_id, "feed": spec.feed_id, "column": col.name,
                 "reason": f"{col.header} %L does not exist in this file or an earlier batch",
                 "reason_zh": f"{col.header} %L 不存在"})
            if not cursor.rowcount:
                break
            removed += cursor.rowcount
    return removed
