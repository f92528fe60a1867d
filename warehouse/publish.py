"""Atomic publication of the candidate marts by schema swap (write-audit-publish).

Two renames in one short transaction: a reader sees the old marts or the new ones,
never a mix, never an empty table. Readers must use READ COMMITTED (the default).
The previous version is dropped afterwards, in its own transaction, because dropping
waits for its readers while the swap itself does not.
"""
from __future__ import annotations

import psycopg
from psycopg import sql

READER_ROLES = ("bi_reader", "auditor")
# Row-level facts about residents: from these, small counts that aggregates suppress could be
# recounted (and person keys linked). bi_reader reads the aggregates and dimensions only; the
# auditor reads everything. Any mart with a person key column is person-level as well.
PERSON_LEVEL_MARTS = ("fct_mediation_case_parties", "fct_mediation_cases", "fct_service_transactions")


def swap_in(conn: psycopg.Connection, candidate: str, published: str = "marts") -> None:
    previous = f"{published}_previous"
    with conn.transaction():
        conn.execute(sql.SQL("drop schema if exists {} cascade").format(sql.Identifier(previous)))
    with conn.transaction():
        conn.execute("set local lock_timeout = '10s'")
        if conn.execute("select to_regnamespace(%s) is not null", (published,)).fetchone()[0]:
            conn.execute(sql.SQL("alter schema {} rename to {}").format(
                sql.Identifier(published), sql.Identifier(previous)))
        conn.execute(sql.SQL("alter schema {} rename to {}").format(
            sql.Identifier(candidate), sql.Identifier(published)))
        grant_readers(conn, published)
    with conn.transaction():
        conn.execute(sql.SQL("drop schema if exists {} cascade").format(sql.Identifier(previous)))


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


def person_level_tables(conn: psycopg.Connection, schema: str) -> list[str]:
    """Marts bi_reader may not read: the listed row-level facts and any table with a person key."""
    return [r[0] for r in conn.execute(
        "select c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace "
        "where n.nspname = %s and c.relkind in ('r', 'p', 'v', 'm') and (c.relname = any(%s) or exists ("
        "select 1 from pg_attribute a where a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped "
        "and a.attname like '%%person_key')) order by 1", (schema, list(PERSON_LEVEL_MARTS)))]
