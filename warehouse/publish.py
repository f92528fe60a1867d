"""Atomic publication of the candidate marts by schema swap (write-audit-publish).

Two renames in one short transaction: a reader sees the old marts or the new ones,
never a mix, never an empty table. Readers must use READ COMMITTED (the default).
The version it replaces is kept as `marts_previous` (readable by auditors, not by BI)
so that `rollback()` can swap it back the same way; the one before that is dropped
first, in its own transaction, because dropping waits for its readers while the swap
itself does not. `audit.marts_versions` records, in the swap's transaction, which
publication's marts each schema holds.
"""
from __future__ import annotations

import psycopg
from psycopg import sql

from warehouse.row_security import apply_row_security

READER_ROLES = ("bi_reader", "auditor")
# Row-level facts about residents: from these, small counts that aggregates suppress could be
# recounted (and person keys linked). bi_reader reads the aggregates and dimensions only; the
# auditor reads everything. Any mart with a person key column is person-level as well.
PERSON_LEVEL_MARTS = ("fct_mediation_case_parties", "fct_mediation_cases", "fct_service_transactions")


def swap_in(conn: psycopg.Connection, candidate: str, published: str = "marts",
            publication_id: int | None = None) -> None:
    previous = f"{published}_previous"
    with conn.transaction():
        conn.execute(sql.SQL("drop schema if exists {} cascade").format(sql.Identifier(previous)))
    apply_row_security(conn, candidate)  # county policies on the candidate tables before anyone can read them
    with conn.transaction():
        conn.execute("set local lock_timeout = '10s'")
        replaced = published_version(conn, published)
        if conn.execute("select to_regnamespace(%s) is not null", (published,)).fetchone()[0]:
            conn.execute(sql.SQL("alter schema {} rename to {}").format(
                sql.Identifier(published), sql.Identifier(previous)))
        conn.execute(sql.SQL("alter schema {} rename to {}").format(
            sql.Identifier(candidate), sql.Identifier(published)))
        grant_readers(conn, published)
        _record_versions(conn, published, publication_id, previous, replaced)


def rollback_swap(conn: psycopg.Connection, published: str = "marts") -> tuple[int | None, int | None]:
    """Swap `marts_previous` back in as `marts` (and the current one out as `marts_previous`).

    Call it inside the transaction that records the rollback. Returns the publications
    whose marts are now (published, previous).
    """
    previous = f"{published}_previous"
    parked = f"{published}_rolling_back"
    restored, replaced = published_version(conn, previous), published_version(conn, published)
    conn.execute("set local lock_timeout = '10s'")
    for source, target in ((published, parked), (previous, published), (parked, previous)):
        conn.execute(sql.SQL("alter schema {} rename to {}").format(sql.Identifier(source), sql.Identifier(target)))
    grant_readers(conn, published)
    _record_versions(conn, published, restored, previous, replaced)
    return restored, replaced


def published_version(conn: psycopg.Connection, schema: str) -> int | None:
    """The publication whose marts `schema` holds (None: no such schema, or not recorded)."""
    row = conn.execute("select publication_id from audit.marts_versions where schema_name = %s "
                       "and to_regnamespace(%s) is not null order by version_id desc limit 1",
                       (schema, schema)).fetchone()
    return row[0] if row else None


def grant_readers(conn: psycopg.Connection, schema: str) -> None:
    """Explicit grants: default privileges would have stayed with the renamed schema."""
    for role in READER_ROLES:
        conn.execute(sql.SQL("grant usage on schema {} to {}").format(sql.Identifier(schema), sql.Identifier(role)))
        conn.execute(sql.SQL("grant select on all tables in schema {} to {}").format(
            sql.Identifier(schema), sql.Identifier(role)))
    for table in person_level_tables(conn, schema):
        conn.execute(sql.SQL("revoke select on {} from bi_reader").format(sql.Identifier(schema, table)))
    conn.execute(sql.SQL("comment on schema {} is {}").format(
        sql.Identifier(schema), sql.Literal("Published marts: the BI contract / 发布数据集市")))


def _record_versions(conn: psycopg.Connection, published: str, publication_id: int | None, previous: str,
                     previous_id: int | None) -> None:
    """Which publication each schema now holds, in the swap's own transaction; BI loses the kept version."""
    conn.execute("insert into audit.marts_versions (schema_name, publication_id) values (%s, %s)",
                 (published, publication_id))
    if conn.execute("select to_regnamespace(%s) is not null", (previous,)).fetchone()[0]:
        conn.execute("insert into audit.marts_versions (schema_name, publication_id) values (%s, %s)",
                     (previous, previous_id))
        conn.execute(sql.SQL("comment on schema {} is {}").format(sql.Identifier(previous), sql.Literal(
            "Previous published marts, kept for rollback (audit.marts_versions) / 上一版本（可回滚）")))
        conn.execute(sql.SQL("revoke usage on schema {} from bi_reader").format(sql.Identifier(previous)))


def person_level_tables(conn: psycopg.Connection, schema: str) -> list[str]:
    """Marts bi_reader may not read: the listed row-level facts and any table with a person key."""
    return [r[0] for r in conn.execute(
        "select c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace "
        "where n.nspname = %s and c.relkind in ('r', 'p', 'v', 'm') and (c.relname = any(%s) or exists ("
        "select 1 from pg_attribute a where a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped "
        "and a.attname like '%%person_key')) order by 1", (schema, list(PERSON_LEVEL_MARTS)))]
