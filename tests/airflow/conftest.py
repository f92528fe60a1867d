"""Fixtures for the Airflow tests: free ports, a fresh metadata database, the env dict.

Airflow runs in subprocesses configured by `infra.airflow_env.airflow_env` (the same
settings `make airflow` uses), so this test process's own Airflow configuration is
never touched beyond a private AIRFLOW_HOME for the in-process DagBag import test.

Databases come from tests/conftest.py: `fresh_database` (dropped afterwards) for the
metadata, `warehouse_dsn` (fresh, bootstrapped; it also points WAREHOUSE_DSN,
LANDING_URI, GOV_VAR_DIR, ARCHIVE_DIR, REPORTS_DIR of this process at temp places,
which the Airflow subprocesses inherit).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

# A private home for the in-process import test, set before anything imports airflow.
os.environ.setdefault("AIRFLOW_HOME", str(Path(tempfile.gettempdir()) / f"airflow_test_home_{os.getuid()}"))
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
os.environ.setdefault("SCARF_ANALYTICS", "false")

from infra.airflow_env import airflow_env, free_port  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parents[2]
AIRFLOW_BIN = Path(sys.executable).with_name("airflow")


@pytest.fixture
def metadata_dsn(fresh_database) -> str:
    """A fresh, empty database for Airflow's metadata (dropped after the test)."""
    return fresh_database("airflow_test")


@pytest.fixture
def make_airflow_env(metadata_dsn: str, tmp_path: Path):
    """Build the env of an isolated Airflow: free ports, temp AIRFLOW_HOME, fresh metadata DB.

    Call it after `warehouse_dsn` has set the warehouse variables; extra variables override.
    `executor="celery"`: CeleryExecutor on the Redis of this machine, keys prefixed by the api port.
    """

    def make(executor: str = "local", **extra: str) -> dict[str, str]:
        home = tmp_path / "airflow_home"
        (home / "plugins").mkdir(parents=True, exist_ok=True)
        env = airflow_env(
            home=home,
            metadata_dsn=metadata_dsn,
            api_port=free_port(),
            worker_log_port=free_port(),
            trigger_log_port=free_port(),
            executor=executor,
        )
        env.update(
            {
                "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
                "AIRFLOW__SCHEDULER__SCHEDULER_IDLE_SLEEP_TIME": "0.5",
                **extra,
            }
        )
        env.pop("PYTEST_CURRENT_TEST", None)
        return env

    return make


@pytest.fixture
def migrate():
    """`airflow db migrate` on an env's metadata database (a callable returning seconds)."""

    def run(env: dict[str, str]) -> float:
        started = time.monotonic()
        result = subprocess.run(
            [str(AIRFLOW_BIN), "db", "migrate"], env=env, capture_output=True, text=True, timeout=300
        )
        assert result.returncode == 0, f"airflow db migrate failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
        return time.monotonic() - started

    return run
