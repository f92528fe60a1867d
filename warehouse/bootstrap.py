"""Apply the idempotent production DDL (schemas, roles, grants, audit tables).

The DDL is every `warehouse/sql/NN_<topic>.sql` file, applied in name order in one
transaction; a new concern gets a file of its own rather than a longer core file.
"""
from __future__ import annotations

from pathlib import Path

import psycopg

from warehouse.db import connect

SQL_DIR = Path(__file__).with_name("sql")
_LOCK_KEY = 7_300_401  # one bootstrap at a time per database


def bootstrap(dsn: str | None = None) -> None:
    with connect(dsn) as conn:
        conn.execute("select pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
        try:
            for script in ddl_scripts():
                conn.execute(script.read_text())
        except psycopg.errors.UniqueViolation:
            # Two databases of one cluster creating the same role at once: the other won.
            conn.rollback()
            bootstrap(dsn)


def ddl_scripts() -> list[Path]:
    """The DDL files in the order they are applied."""
    return sorted(SQL_DIR.glob("[0-9][0-9]_*.sql"))
