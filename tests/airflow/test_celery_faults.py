"""Kill -9 of a Celery worker while its ingest task is inside the COPY: it heals, nothing lost, nothing twice.

The test kills the worker's process group (the Celery main process and its pool); the task
runner, in a process group of its own, is ended by the supervisor with the rest of the
worker's session, and the supervisor restarts the worker; the aborted connection rolls the load's
transaction back; the scheduler sees the task's heartbeats stop
(`task_instance_heartbeat_timeout`, 30 s here instead of 300) and retries it; the retry, on
whichever worker takes it, loads the file exactly once; the build publishes it. The
broker's copy of the killed task is never run again: Airflow runs a task only from its
queued state. Run with `make test-faults`.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from infra.airflow_env import wait_workers
from tests.airflow.celery_stack import CeleryStack, deliver, loadavg, running_celery_stack, warehouse
from tests.airflow.probes import metadata

FEED = "service_transactions"
HEARTBEAT_TIMEOUT = "30"  # seconds without a task heartbeat before the scheduler fails (and retries) it


@pytest.fixture
def celery_stack(warehouse_dsn, make_airflow_env, migrate, tmp_path) -> Iterator[CeleryStack]:
    """The whole scale-1 sample published first (in this process), then the Celery stack."""
    from ingestion.generate import generate_sample
    from ingestion.load import load_file
    from warehouse.publication import build_and_publish

    for feed, path in generate_sample(tmp_path / "sample").items():
        load_file(feed, path)
    assert build_and_publish("baseline")["outcome"] == "published"
    env = make_airflow_env(
        executor="celery",
        AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT=HEARTBEAT_TIMEOUT,
        AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL="5",
        GOV_RETRY_DELAY_SECONDS="3",
    )
    with running_celery_stack(env, tmp_path, migrate) as stack:
        yield stack


def _titles() -> Iterator[tuple[int, str]]:
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                yield int(entry.name), (entry / "cmdline").read_bytes().decode(errors="replace").replace("\0", " ")
            except OSError:
                continue


@pytest.mark.e2e
def test_worker_killed_during_copy_heals(celery_stack, warehouse_dsn, tmp_path, record_property):
    from ingestion.generate import generate_sample

    stack, env = celery_stack, celery_stack.env
    landing = Path(env["LANDING_URI"])
    stack.wait_watching([FEED])
    source = generate_sample(tmp_path / "big", scale=10, feeds=[FEED])[FEED]
    name = f"{FEED}-10{source.suffix}"
    delivery = source.with_name(name)
    source.rename(delivery)
    deliver(delivery, landing / FEED)

    def copying_worker() -> tuple[str, int] | None:
        """(worker, task instance id) once a worker's ingest is inside its COPY."""
        copying = warehouse(
            warehouse_dsn,
            "select count(*) from pg_stat_activity where datname = current_database() and state = 'active' "
            f"and query ilike 'copy %%{FEED}%%from stdin%%'",
        )[0][0]
        running = metadata(
            env, f"select hostname, id from task_instance where dag_id = 'ingest_{FEED}' and state = 'running'"
        )
        if copying and running and running[0][0]:
            return running[0][0].split("@", 1)[0], running[0][1]
        return None

    worker, ti_id = stack.wait_for("an ingest COPY on a worker", copying_worker, 180, poll=0.05)
    pgid = stack.groups()[worker]
    stack.killed.add(worker)
    os.killpg(pgid, signal.SIGKILL)
    killed_at = time.monotonic()
    print(f"killed {worker} (process group {pgid}) during the COPY of task instance {ti_id}")

    # The task runner sits in a process group of its own: the kill above missed it, the supervisor
    # ends it with the rest of the worker's session (else it would finish the load behind Airflow's back).
    stack.wait_for(
        "the killed worker's task runner to end",
        lambda: not [pid for pid, title in _titles() if str(ti_id) in title],
        15,
        poll=0.2,
    )
    stack.wait_for(
        f"{worker} restarted by the supervisor",
        lambda: f"{worker} exited with signal SIGKILL" in stack.log("supervisor")
        and stack.groups().get(worker) not in (None, pgid),
        60,
    )
    print(f"{worker} answering again {wait_workers(env, (worker,), timeout=120):.1f} s after its restart")

    def loaded_once_and_published() -> int | None:
        rows = warehouse(
            warehouse_dsn,
            "select batch_id, status from audit.ingestion_batches where feed_id = %s and file_name = %s "
            "and status not in ('duplicate', 'failed')",
            FEED,
            name,
        )
        if not rows:
            return None
        assert len(rows) == 1 and rows[0][1] in ("loaded", "partial"), f"{name} loaded more than once: {rows}"
        published = warehouse(
            warehouse_dsn,
            "select count(*) from audit.publications where outcome = 'published' and %s = any(source_batches)",
            rows[0][0],
        )[0][0]
        idle = metadata(env, "select count(*) from dag_run where state in ('queued', 'running')")[0][0] == 0
        return rows[0][0] if published and idle else None

    batch_id = stack.wait_for(f"{name} loaded once and published", loaded_once_and_published, 360)
    seconds = round(time.monotonic() - killed_at, 1)
    print(f"kill -9 of {worker} during the COPY -> published in {seconds} s; load average {loadavg()}")
    record_property("recover_seconds_celery_worker_killed", seconds)

    # Nothing lost, nothing twice: the one batch holds every row of the file, the marts hold the batch.
    [(rows_in, loaded, rejected)] = warehouse(
        warehouse_dsn, "select rows_in, rows_loaded, rows_rejected from audit.ingestion_batches where batch_id = %s",
        batch_id,
    )
    assert rows_in >= 100_000 and (loaded, rejected) == (rows_in, 0), (rows_in, loaded, rejected)
    assert warehouse(warehouse_dsn, f"select count(*) from raw.{FEED} where _batch_id = %s", batch_id)[0][0] == loaded
    assert warehouse(
        warehouse_dsn, f"select count(*) from marts.fct_{FEED} where source_batch_id = %s", batch_id
    )[0][0] == loaded
    assert warehouse(warehouse_dsn, "select count(*) from audit.ingestion_batches where status = 'loading'") == [(0,)]
    assert warehouse(
        warehouse_dsn, "select count(*) from audit.publications where outcome in ('running', 'blocked')"
    ) == [(0,)]

    # The killed attempt failed on the killed worker and was retried; the task ends in success.
    attempts = metadata(
        env,
        "select try_number, state, hostname from task_instance_history where dag_id = %s "
        "union all select try_number, state, hostname from task_instance where dag_id = %s order by 1",
        f"ingest_{FEED}",
        f"ingest_{FEED}",
    )
    print("attempts:", attempts)
    assert attempts[-1][1] == "success" and len(attempts) >= 2, attempts
    assert any(state in ("failed", "up_for_retry") and (host or "").startswith(f"{worker}@") for _, state, host in attempts[:-1]), attempts
