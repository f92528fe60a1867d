"""Everything the report site shows, read from `audit` (and the marts' row counts, recorded once).

Pages are built from these records only, so a figure on a page is a figure in `audit`.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from warehouse.affected import load_graph
from warehouse.auditsite.feeds import feed_catalogue, masked_reason, masked_values

log = logging.getLogger(__name__)
SAMPLE_REJECTS = 20  # rejected rows shown per feed and rule; the counts are complete


@dataclass
class Publication:
    row: dict[str, Any]
    checks: list[dict[str, Any]] = field(default_factory=list)
    batches: list[dict[str, Any]] = field(default_factory=list)  # received since the previous attempt
    rejects: list[dict[str, Any]] = field(default_factory=list)  # per feed and rule, with sample rows
    lineage: dict[str, Any] | None = None
    marts: list[dict[str, Any]] = field(default_factory=list)  # mart, rows, source feeds
    inputs_by_feed: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    @property
    def id(self) -> int:
        return self.row["publication_id"]


def publications(conn: psycopg.Connection) -> list[dict[str, Any]]:
    """Every attempt, oldest first, with the batches received before it (since the previous attempt)."""
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute("select * from audit.publications order by publication_id").fetchall()
        previous_started_at = None
        for row in rows:
            row["previous_started_at"] = previous_started_at
            if row["build_mode"] != "rollback":
                previous_started_at = row["started_at"]
            counts = cur.execute(
                "select count(*) as batches, coalesce(sum(rows_in), 0) as rows_in, "
                "coalesce(sum(rows_loaded), 0) as rows_loaded, coalesce(sum(rows_rejected), 0) as rows_rejected "
                "from audit.ingestion_batches where " + _WINDOW, row).fetchone()
            row.update({f"received_{k}": v for k, v in counts.items()})
            row["rejected_by_feed"] = {r["feed_id"]: int(r["rejected"]) for r in cur.execute(
                "select feed_id, sum(rows_rejected) as rejected from audit.ingestion_batches where " + _WINDOW
                + " group by feed_id order by feed_id", row)}
    return rows


# Batches received before this attempt started and after the previous one did (a rollback receives none).
_WINDOW = ("received_at <= %(started_at)s and (%(previous_started_at)s::timestamptz is null "
           "or received_at > %(previous_started_at)s) and %(build_mode)s is distinct from 'rollback'")


def publication_detail(conn: psycopg.Connection, row: dict[str, Any]) -> Publication:
    """One attempt in full; `row` is one of `publications()` (it carries its receiving window)."""
    pub = Publication(row)
    with conn.cursor(row_factory=dict_row) as cur:
        pub.checks = cur.execute(
            "select check_source, check_name, target, severity, status, failures, message from audit.check_results "
            "where publication_id = %s order by target nulls first, severity, status <> 'pass' desc, check_name",
            (pub.id,)).fetchall()
        pub.batches = cur.execute(
            "select batch_id, feed_id, file_name, sha256, status, rows_in, rows_loaded, rows_rejected, received_at, "
            "message from audit.ingestion_batches where " + _WINDOW + " order by batch_id", row).fetchall()
        pub.rejects = _rejects(cur, [b["batch_id"] for b in pub.batches])
        pub.lineage = cur.execute("select * from audit.publication_lineage where publication_id = %s",
                                  (row.get("restores_publication") or pub.id,)).fetchone()
        pub.marts = cur.execute("select mart, row_count, source_feeds from audit.publication_mart_rows "
                                "where publication_id = %s order by mart", (pub.id,)).fetchall()
        inputs = cur.execute(
            "select batch_id, feed_id, file_name, sha256, received_at from audit.ingestion_batches "
            "where batch_id = any(%s) order by feed_id, batch_id", (row["source_batches"],)).fetchall()
    for batch in inputs:
        pub.inputs_by_feed.setdefault(batch["feed_id"], []).append(batch)
    catalogue = feed_catalogue()
    for batch in pub.batches:
        batch["department"] = catalogue[batch["feed_id"]].department if batch["feed_id"] in catalogue else ""
    return pub


def _rejects(cur, batch_ids: list[int]) -> list[dict[str, Any]]:
    groups = cur.execute(
        "select b.feed_id, r.rule, count(distinct (r.batch_id, r.row_number)) as rows, count(*) as findings "
        "from audit.rejected_rows r "
        "join audit.ingestion_batches b using (batch_id) where r.batch_id = any(%s) "
        "group by b.feed_id, r.rule order by b.feed_id, r.rule", (batch_ids,)).fetchall()
    for group in groups:
        samples = cur.execute(
            "select b.file_name, r.row_number, r.column_name, r.reason, r.reason_zh, r.original_values "
            "from audit.rejected_rows r join audit.ingestion_batches b using (batch_id) "
            "where r.batch_id = any(%s) and b.feed_id = %s and r.rule = %s "
            "order by r.batch_id, r.row_number nulls first, r.rejection_id limit %s",
            (batch_ids, group["feed_id"], group["rule"], SAMPLE_REJECTS)).fetchall()
        for sample in samples:
            sample["original_values"] = masked_values(group["feed_id"], sample["original_values"])
            for key in ("reason", "reason_zh"):
                sample[key] = masked_reason(group["feed_id"], sample["column_name"], sample[key])
        group["samples"] = samples
        group["reason"], group["reason_zh"] = samples[0]["reason"], samples[0]["reason_zh"]  # an example
    return groups


def record_mart_rows(conn: psycopg.Connection, publication: dict[str, Any], dsn: str) -> None:
    """Rows per mart and the feeds each mart is built from, once per publication.

    Published: the marts now published; blocked: the candidate it left behind; a rollback:
    those of the restored publication. Recorded right after the attempt, while they exist.
    """
    pub_id = publication["publication_id"]
    if conn.execute("select exists (select 1 from audit.publication_mart_rows where publication_id = %s)",
                    (pub_id,)).fetchone()[0]:
        return
    if publication["build_mode"] == "rollback":
        conn.execute("insert into audit.publication_mart_rows (publication_id, mart, row_count, source_feeds) "
                     "select %s, mart, row_count, source_feeds from audit.publication_mart_rows "
                     "where publication_id = %s", (pub_id, publication["restores_publication"]))
        return
    schema = {"published": "marts", "blocked": "marts_candidate"}.get(publication["outcome"])
    if schema is None:
        return
    feeds = _mart_sources(dsn, publication.get("project_fingerprint"))
    tables = [r[0] for r in conn.execute(
        "select c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace "
        "where n.nspname = %s and c.relkind in ('r', 'p') order by 1", (schema,))]
    with conn.transaction():
        for table in tables:
            count = conn.execute(sql.SQL("select count(*) from {}").format(sql.Identifier(schema, table))).fetchone()[0]
            conn.execute("insert into audit.publication_mart_rows (publication_id, mart, row_count, source_feeds) "
                         "values (%s, %s, %s, %s) on conflict do nothing", (pub_id, table, count, feeds.get(table)))


def _mart_sources(dsn: str, fingerprint: str | None) -> dict[str, list[str]]:
    """mart table → raw feeds it is built from, from the dependency graph dbt saved for this project."""
    graph = load_graph(dsn, fingerprint) if fingerprint else None
    if graph is None:
        return {}
    marts = {uid: mart["table"] for uid, mart in graph.marts.items()}
    feeds: dict[str, list[str]] = {table: [] for table in marts.values()}
    for source in sorted(graph.sources):
        for uid in graph.descendants([source]):
            if uid in marts:
                feeds[marts[uid]].append(source.rsplit(".", 1)[-1])  # source.governance.<dept>.<feed>
    return feeds
