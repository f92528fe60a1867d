"""Fixtures for the Airflow tests: free ports, a fresh metadata database, the env dict.

Airflow runs in subprocesses configured by `infra.airflow_env.airflow_env` (the same
settings `make airflow` uses), so this test process's own Airflow configuration is
never touched beyond a private AIRFLOW_HOME for the in-process DagBag import test.

The PostgreSQL server is the one of `WAREHOUSE_DSN` (CI: a PostgreSQL 15 server) or
the local embedded one; every test database is created fresh and dropped afterwards.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

# A private home for the in-process import test, set before anything imports airflow.
os.environ.setdefault("AIRFLOW_HOME", str(Path(tempfile.gettempdir()) / f"airflow_test_home_{os.getuid()}"))
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
for _name, _value in {"GX_ANALYTICS_ENABLED": "false", "DO_NOT_TRACK": "1", "SCARF_ANALYTICS": "false"}.items():
    os.environ.setdefault(_name, _value)

from infra.airflow_env import airflow_env, free_port  # noqa: E402

AIRFLOW_BIN = Path(sys.executable).with_name("airflow")


def server_dsn() -> str:
    """A libpq URI of the `postgres` database on the test server (for CREATE/DROP DATABASE)."""
    from warehouse.db import with_database
    from warehouse.settings import get_settings

    return with_database(get_settings().dsn, "postgres")


def create_database(prefix: str) -> str:
    import psycopg

    from warehouse.db import with_database

    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(server_dsn(), autocommit=True) as conn:
        conn.execute(f'create database "{name}"')
    return with_database(server_dsn(), name)


def drop_database(dsn: str) -> None:
    import psycopg

    name = psycopg.conninfo.conninfo_to_dict(dsn)["dbname"]
    with psycopg.connect(server_dsn(), autocommit=True) as conn:
        conn.execute(f'drop database if exists "{name}" with (force)')


@pytest.fixture
def metadata_dsn() -> Iterator[str]:
    """A fresh, empty database for Airflow's metadata (dropped afterwards)."""
    dsn = create_database("airflow_test")
    try:
        yield dsn
    finally:
        drop_database(dsn)


@pytest.fixture
def airflow_home(tmp_path: Path) -> Path:
    home = tmp_path / "airflow_home"
    (home / "plugins").mkdir(parents=True)
    return home


@pytest.fixture
def make_airflow_env(metadata_dsn: str, airflow_home: Path, tmp_path: Path):
    """Build the env of an isolated Airflow: free ports, temp home, fresh metadata DB.

    Call it with the warehouse DSN and any extra variables (LANDING_URI, ...).
    """

    def make(warehouse_dsn: str, **extra: str) -> dict[str, str]:
        env = airflow_env(
            home=airflow_home,
            metadata_dsn=metadata_dsn,
            api_port=free_port(),
            worker_log_port=free_port(),
            trigger_log_port=free_port(),
        )
        env.update(
            {
                "WAREHOUSE_DSN": warehouse_dsn,
                "GOV_VAR_DIR": str(tmp_path / "var"),
                "LANDING_URI": str(tmp_path / "var" / "landing"),
                "AIRFLOW__CORE__DAGBAG_IMPORT_TIMEOUT": "120",
                "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
                "AIRFLOW__SCHEDULER__SCHEDULER_IDLE_SLEEP_TIME": "0.5",
                **extra,
            }
        )
        env.pop("PYTEST_CURRENT_TEST", None)
        return env

    return make


def migrate(env: dict[str, str]) -> float:
    """`airflow db migrate` on the env's metadata database; returns seconds."""
    started = time.monotonic()
    result = subprocess.run(
        [str(AIRFLOW_BIN), "db", "migrate"], env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, f"airflow db migrate failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return time.monotonic() - started
