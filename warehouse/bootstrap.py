"""Apply the idempotent production DDL (schemas, roles, grants, audit tables) as the owner.

The DDL is every `warehouse/sql/NN_<topic>.sql` file, applied in name order in one
transaction; a new concern gets a file of its own rather than a longer core file.
Callers may add units of their own (ingestion adds the raw tables from the feed
registry). Each unit is applied under an advisory lock and recorded with its
fingerprint in `audit.bootstrap_state`: an unchanged warehouse gets no DDL and no
GRANT at all, so concurrent loads never race on the catalog.

Bootstrap also creates the pipeline's logins (warehouse/credentials.py): the owner is
the only role that runs DDL; loads and builds log in as gov_ingest / gov_transform.
It installs the BI row-security scopes too (roles need CREATEROLE, which only the owner has).
"""
from __future__ import annotations

import hashlib
import time
from collections.abc import Sequence
from pathlib import Path

import psycopg
from psycopg import sql

from warehouse.credentials import ensure_logins
from warehouse.db import connect
from warehouse.row_security import install_scopes
from warehouse.settings import get_settings

SQL_DIR = Path(__file__).with_name("sql")
_LOCK_KEY = 7_300_401  # one bootstrap at a time per database
Statement = str | sql.Composable
# Catalog races between databases of one cluster (roles are cluster-wide): retried.
_RACES = (psycopg.errors.UniqueViolation, psycopg.errors.DuplicateObject, psycopg.errors.InternalError_)


def bootstrap(dsn: str | None = None, units: dict[str, Sequence[Statement]] | None = None) -> None:
    """Apply the core DDL and any extra `units` ({name: statements}) that changed; ensure the logins."""
    dsn = dsn or get_settings().dsn
    core = [script.read_text() for script in ddl_scripts()]
    wanted = {"core": core}
    for name, statements in (units or {}).items():
        wanted[name] = list(statements)
    core_print = _fingerprint(core)
    with connect(dsn, autocommit=True) as conn:
        for name, statements in wanted.items():
            # A unit depends on the core: a changed core re-applies every unit (its grants).
            fingerprint = _fingerprint(statements, "" if name == "core" else core_print)
            if _applied(conn, name) != fingerprint:
                _apply(conn, name, statements, fingerprint)
        ensure_logins(conn, dsn)
        _install_row_security(conn)


def _fingerprint(statements: Sequence[Statement], salt: str = "") -> str:
    digest = hashlib.sha256(salt.encode())
    for statement in statements:
        text = statement if isinstance(statement, str) else statement.as_string()
        digest.update(text.encode() + b"\0")
    return digest.hexdigest()


def _applied(conn: psycopg.Connection, unit: str) -> str | None:
    if not conn.execute("select to_regclass('audit.bootstrap_state') is not null").fetchone()[0]:
        return None
    row = conn.execute("select fingerprint from audit.bootstrap_state where unit = %s", (unit,)).fetchone()
    return row[0] if row else None


def _apply(conn: psycopg.Connection, unit: str, statements: Sequence[Statement], fingerprint: str) -> None:
    for attempt in range(6):
        try:
            with conn.transaction():
                conn.execute("select pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
                if _applied(conn, unit) == fingerprint:
                    return  # another process applied it while we waited for the lock
                for statement in statements:
                    conn.execute(statement)
                conn.execute(
                    "insert into audit.bootstrap_state (unit, fingerprint) values (%s, %s) on conflict (unit) "
                    "do update set fingerprint = excluded.fingerprint, applied_at = now()", (unit, fingerprint))
            return
        except _RACES:
            if attempt == 5:
                raise
            time.sleep(0.1 * (attempt + 1))


def _install_row_security(conn: psycopg.Connection) -> None:
    """The BI scope roles and reference data, as the owner (the transform login that applies the
    policies at publication may not create roles); a no-op when installed with the same fingerprint."""
    for attempt in range(6):
        try:
            conn.execute("select pg_advisory_lock(%s)", (_LOCK_KEY,))
            try:
                install_scopes(conn)
            finally:
                conn.execute("select pg_advisory_unlock(%s)", (_LOCK_KEY,))
            return
        except _RACES:
            if attempt == 5:
                raise
            time.sleep(0.1 * (attempt + 1))


def ddl_scripts() -> list[Path]:
    """The DDL files in the order they are applied."""
    return sorted(SQL_DIR.glob("[0-9][0-9]_*.sql"))
