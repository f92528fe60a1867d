"""Atomic publication of the candidate marts by schema swap (write-audit-publish).

Two renames in one short transaction: a reader sees the old marts or the new ones,
never a mix, never an empty table. Readers must use READ COMMITTED (the default).
The previous version is dropped afterwards, in its own transaction, because dropping
waits for its readers while the swap itself does not.
"""
from __future__ import annotations

import psycopg
from psycopg import sql

from warehouse.row_security import apply_row_security

READER_ROLES = ("bi_reader", "auditor")


def swap_in(conn: psycopg.Connection, candidate: str, published: str = "marts") -> None:
    previous = f"{published}_previous"
    with conn.transaction():
        conn.execute(sql.SQL("drop schema if exists {} cascade").format(sql.Identifier(previous)))
    apply_row_security(conn, candidate)  # county policies on the candidate tables before anyone can read them
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
    conn.execute(sql.SQL("comment on schema {} is {}").format(
        sql.Identifier(schema), sql.Literal("Published marts: the BI contract / 发布数据集市")))
