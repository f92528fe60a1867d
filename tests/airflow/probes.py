"""Waiting on a running Airflow stack and reading its metadata database: shared by the end-to-end tests."""
from __future__ import annotations

import time
from collections.abc import Iterable

import psycopg


def wait_for(what: str, probe, timeout: float, stack, log_names: Iterable[str], poll: float = 1.0, tail: int = 2500):
    """Poll `probe` until it returns something truthy; the stack must stay up meanwhile. On timeout the
    assertion carries the tails of the named component logs."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = probe()
        if value:
            return value
        stack.assert_running()
        time.sleep(poll)
    logs = "\n".join(f"--- {n} ---\n{stack.log(n)[-tail:]}" for n in log_names)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}\n{logs}")


def metadata(env: dict[str, str], query: str, *params) -> list[tuple]:
    """Rows of a query on the stack's Airflow metadata database."""
    dsn = env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].replace("postgresql+psycopg2://", "postgresql://")
    with psycopg.connect(dsn) as conn:
        return conn.execute(query, params).fetchall()
