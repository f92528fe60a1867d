"""Apply the idempotent bootstrap SQL (schemas, roles, grants, audit tables)."""
from __future__ import annotations

import psycopg

from warehouse.db import connect
from warehouse.settings import REPO_ROOT

BOOTSTRAP_SQL = REPO_ROOT / "infra" / "sql" / "bootstrap.sql"
_LOCK_KEY = 7_300_401  # one bootstrap at a time per database


def bootstrap(dsn: str | None = None) -> None:
    with connect(dsn) as conn:
        conn.execute("select pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
        try:
            conn.execute(BOOTSTRAP_SQL.read_text())
        except psycopg.errors.UniqueViolation:
            # Two databases of one cluster creating the same role at once: the other won.
            conn.rollback()
            bootstrap(dsn)
