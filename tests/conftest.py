"""Shared fixtures: a real PostgreSQL for every test that needs one.

`WAREHOUSE_DSN` set (CI: the PostgreSQL 15 server) → isolated databases on that server.
Unset → the embedded local warehouse under var/pg, also in isolated databases.
Each test database is created fresh, bootstrapped, and dropped afterwards.
"""
from __future__ import annotations

import os
import uuid
from pathlib import Path

import psycopg
import pytest

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")

from warehouse.db import with_database  # noqa: E402

SERVER_DSN = os.environ.get("WAREHOUSE_DSN")


@pytest.fixture(scope="session")
def server_dsn(tmp_path_factory) -> str:
    """A DSN on the server the suite runs against (any database on it)."""
    if SERVER_DSN:
        return SERVER_DSN
    from infra.local_pg import ensure_running
    from warehouse.settings import REPO_ROOT

    return ensure_running(REPO_ROOT / "var" / "pg")


@pytest.fixture(scope="session")
def session_var_dir(tmp_path_factory) -> Path:
    """One var/ for the whole session, so dbt's partial parse is reused between tests."""
    return tmp_path_factory.mktemp("var")


@pytest.fixture(scope="session")
def sample_template(server_dsn, session_var_dir, tmp_path_factory):
    """The scale-1 sample loaded and published once per session; modules use clones of it
    (tests/integration/sample_warehouse.py: published_sample)."""
    from tests.integration.sample_warehouse import build_sample_template

    yield from build_sample_template(server_dsn, session_var_dir, tmp_path_factory.mktemp("sample-template"))


def create_database(server_dsn: str, prefix: str = "gov_test") -> str:
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(server_dsn, autocommit=True) as conn:
        conn.execute(f'create database "{name}"')
    return with_database(server_dsn, name)


def drop_database(server_dsn: str, dsn: str) -> None:
    name = psycopg.conninfo.conninfo_to_dict(dsn)["dbname"]
    with psycopg.connect(server_dsn, autocommit=True) as conn:
        conn.execute(f'drop database if exists "{name}" with (force)')


@pytest.fixture
def fresh_database(server_dsn):
    """Factory for extra isolated databases, all dropped at the end of the test."""
    created: list[str] = []

    def make(prefix: str = "gov_test") -> str:
        created.append(create_database(server_dsn, prefix))
        return created[-1]

    yield make
    for dsn in created:
        drop_database(server_dsn, dsn)


@pytest.fixture
def warehouse_dsn(server_dsn, session_var_dir, tmp_path, monkeypatch) -> str:
    """A fresh, bootstrapped warehouse database; the environment points every default at it."""
    from warehouse.bootstrap import bootstrap

    dsn = create_database(server_dsn)
    monkeypatch.setenv("WAREHOUSE_DSN", dsn)
    monkeypatch.setenv("GOV_VAR_DIR", str(session_var_dir))
    monkeypatch.setenv("LANDING_URI", str(tmp_path / "landing"))
    monkeypatch.setenv("ARCHIVE_DIR", str(tmp_path / "archive"))
    monkeypatch.setenv("REPORTS_DIR", str(tmp_path / "reports"))
    monkeypatch.setenv("PII_HMAC_KEY", "test-key-not-secret")
    bootstrap(dsn)
    try:
        yield dsn
    finally:
        drop_database(server_dsn, dsn)


@pytest.fixture
def db(warehouse_dsn):
    """An autocommit connection to the test warehouse."""
    with psycopg.connect(warehouse_dsn, autocommit=True) as conn:
        yield conn
