"""Session settings of the warehouse: the build's own connections (dbt, GX) and every other, checked on the server."""
from __future__ import annotations

import psycopg
import sqlalchemy

from expectations.gate import _no_jit
from warehouse.build import dbt_env
from warehouse.credentials import login_dsn
from warehouse.db import sqlalchemy_url


def test_dbt_sessions_run_without_jit(warehouse_dsn):
    """dbt's libpq sessions get PGOPTIONS from dbt_env: JIT off (compiling cost more than the queries)."""
    env = dbt_env(warehouse_dsn)
    with psycopg.connect(login_dsn(warehouse_dsn, "transform"), options=env["PGOPTIONS"]) as conn:
        assert conn.execute("show jit").fetchone()[0] == "off"
        assert conn.execute("select current_setting('gov.pii_hmac_ipad') <> ''").fetchone()[0]


def test_gx_sessions_run_without_jit(warehouse_dsn):
    engine = sqlalchemy.create_engine(sqlalchemy_url(_no_jit(login_dsn(warehouse_dsn, "transform"))))
    try:
        with engine.connect() as conn:
            assert conn.execute(sqlalchemy.text("show jit")).scalar() == "off"
            assert conn.execute(sqlalchemy.text("select current_user")).scalar() != "postgres"
    finally:
        engine.dispose()


def test_every_session_of_the_warehouse_runs_without_jit(warehouse_dsn):
    """The publication's own connections (PII scan, reconciliation, swap) and BI's: the database's setting."""
    for login in ("transform", "ingest"):
        with psycopg.connect(login_dsn(warehouse_dsn, login)) as conn:
            assert conn.execute("show jit").fetchone()[0] == "off", login
    with psycopg.connect(warehouse_dsn) as conn:
        assert conn.execute("show jit").fetchone()[0] == "off"
