"""End to end under CeleryExecutor: files of several feeds, dropped at once, are loaded by
both Celery workers, exactly once, and published.

The stack (tests/airflow/celery_stack.py) runs as `make airflow EXECUTOR=celery` runs it;
the kill -9 drill of a worker is in test_celery_faults.py (`make test-faults`).
"""

from __future__ import annotations

import json
import os
import time
import urllib.request
from collections.abc import Iterator
from itertools import pairwise
from pathlib import Path

import pytest
import redis

from infra.airflow_env import worker_components
from tests.airflow.celery_stack import (
    WORKERS,
    CeleryStack,
    deliver,
    loadavg,
    running_celery_stack,
    warehouse,
)
from tests.airflow.probes import metadata

# Eight feeds that publish on their own (no feed among them needs one outside the set).
FEEDS = (
    "party_organizations",
    "residential_compounds",
    "social_organizations",
    "social_workers",
    "community_facilities",
    "service_purchase_projects",
    "fund_allocations",
    "service_items",
)
PARTY_KPIS = {
    "street_working_committees": 13,
    "community_regional_party_committees": 123,
    "compound_party_branches": 1391,
    "party_member_responsibility_areas": 4284,
}
PUBLISH_TIMEOUT = 480  # a build takes ~30 s on a quiet machine, 160 s at load 8


@pytest.fixture
def celery_stack(warehouse_dsn, make_airflow_env, migrate, tmp_path) -> Iterator[CeleryStack]:
    with running_celery_stack(make_airflow_env(executor="celery"), tmp_path, migrate) as stack:
        yield stack


def _api(stack: CeleryStack, path: str, body: dict | None = None, token: str | None = None) -> dict:
    request = urllib.request.Request(
        stack.url + path,
        method="GET" if body is None else "POST",
        data=None if body is None else json.dumps(body).encode(),
        headers={"Content-Type": "application/json", **({"Authorization": f"Bearer {token}"} if token else {})},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)


@pytest.mark.e2e
def test_files_of_several_feeds_are_loaded_by_both_workers_once_and_published(
    celery_stack, warehouse_dsn, tmp_path, record_property
):
    from ingestion.generate import generate_sample

    stack, env = celery_stack, celery_stack.env
    samples = generate_sample(tmp_path / "incoming", feeds=list(FEEDS))
    landing = Path(env["LANDING_URI"])

    # The policy module is the deployment's, loaded by every component: build_publish runs
    # one task at a time (the workers' concurrency would allow more).
    assert metadata(env, "select max_active_tasks, max_active_runs from dag where dag_id = 'build_publish'") == [
        (1, 1)
    ]
    stack.wait_watching(FEEDS)
    assert metadata(env, "select count(*) from dag_run where dag_id like 'ingest_%%'")[0][0] == 0

    dropped = time.monotonic()
    for feed, path in samples.items():
        deliver(path, landing / feed)

    def settled():
        outcomes = dict(warehouse(warehouse_dsn, "select outcome, message from audit.publications"))
        assert "blocked" not in outcomes, f"a publication was blocked: {outcomes['blocked']}"
        loaded = {b for (b,) in warehouse(warehouse_dsn, "select batch_id from audit.ingestion_batches")}
        built = {
            b
            for (batches,) in warehouse(
                warehouse_dsn, "select source_batches from audit.publications where outcome = 'published'"
            )
            for b in batches
        }
        busy = metadata(env, "select count(*) from dag_run where state in ('queued', 'running')")[0][0]
        waiting = metadata(env, "select count(*) from asset_dag_run_queue")[0][0]
        return len(loaded) >= len(FEEDS) and loaded <= built and busy == 0 and waiting == 0

    stack.wait_for("every file loaded, built and published, and Airflow idle", settled, PUBLISH_TIMEOUT)
    seconds = time.monotonic() - dropped
    print(f"drop of {len(FEEDS)} files to published and idle: {seconds:.1f} s; load average {loadavg()}")
    record_property("celery_drop_to_published_seconds", round(seconds, 1))

    # Every file loaded exactly once: one batch per file, nothing lost, no content twice.
    batches = warehouse(
        warehouse_dsn,
        "select batch_id, feed_id, file_name, sha256, status, rows_in, rows_loaded, rows_rejected "
        "from audit.ingestion_batches order by feed_id",
    )
    assert sorted(b[1] for b in batches) == sorted(FEEDS), batches
    assert len({b[3] for b in batches}) == len(batches), "a file's content was loaded twice"
    for batch_id, feed, file_name, _, status, rows_in, rows_loaded, rows_rejected in batches:
        assert file_name == samples[feed].name
        assert status in ("loaded", "partial"), (feed, status)
        assert rows_loaded > 0 and rows_in == rows_loaded + rows_rejected, (feed, rows_in, rows_loaded, rows_rejected)
        stored = warehouse(warehouse_dsn, f"select count(*) from raw.{feed} where _batch_id = %s", batch_id)[0][0]
        assert stored == rows_loaded, (feed, stored, rows_loaded)
    assert [p for p in landing.rglob("*") if p.is_file()] == [], "every delivery was taken and archived"

    # Where the tasks ran, from Airflow's metadata.
    ingests = metadata(
        env,
        "select dag_id, hostname, queue from task_instance where dag_id like 'ingest_%%' and state = 'success'",
    )
    assert sorted(dag for dag, _, _ in ingests) == sorted(f"ingest_{feed}" for feed in FEEDS), ingests
    assert {queue for _, _, queue in ingests} == {"ingest"}
    ingest_workers = {hostname.split("@", 1)[0] for _, hostname, _ in ingests}
    print("ingest tasks per worker:", {w: sum(h.startswith(f"{w}@") for _, h, _ in ingests) for w in WORKERS})
    assert ingest_workers == set(WORKERS), f"ingest tasks ran on {ingest_workers}, not on both workers"

    builds = metadata(
        env,
        "select hostname, queue, state, start_date, end_date from task_instance where dag_id = 'build_publish' "
        "union all select hostname, queue, state, start_date, end_date from task_instance_history "
        "where dag_id = 'build_publish' order by 4",
    )
    assert builds and all(state in ("success", "skipped") for _, _, state, _, _ in builds), builds
    assert {queue for _, queue, _, _, _ in builds} == {"build"}
    assert {hostname.split("@", 1)[0] for hostname, *_ in builds} == {"worker1"}  # the one worker on `build`
    for earlier, later in pairwise(builds):
        assert later[3] >= earlier[4], f"two builds at once: {earlier} and {later}"
    print(f"builds: {len(builds)}")

    # The publication reached `published`, and the marts hold what it recorded.
    [(publication_id, outcome)] = warehouse(
        warehouse_dsn,
        "select publication_id, outcome from audit.publications where outcome = 'published' "
        "order by publication_id desc limit 1",
    )
    mart_rows = warehouse(
        warehouse_dsn,
        "select mart, row_count, source_feeds from audit.publication_mart_rows where publication_id = %s",
        publication_id,
    )
    for feed in FEEDS:
        assert any(feed in (sources or []) and count > 0 for _, count, sources in mart_rows), (feed, mart_rows)
    for mart, count, _ in mart_rows:
        assert warehouse(warehouse_dsn, f'select count(*) from marts."{mart}"')[0][0] == count, mart
    kpis = dict(warehouse(warehouse_dsn, "select kpi_code, kpi_value from marts.governance_kpis"))
    assert {code: float(kpis[code]) for code in PARTY_KPIS} == PARTY_KPIS

    # A task log written by a worker reads through the api-server (no log server listens).
    password = json.loads(Path(env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"]).read_text())["admin"]
    token = _api(stack, "/auth/token", {"username": "admin", "password": password})["access_token"]
    for worker in WORKERS:
        [(dag_id, run_id)] = metadata(
            env,
            "select dag_id, run_id from task_instance where dag_id like 'ingest_%%' and state = 'success' "
            "and hostname like %s order by dag_id limit 1",
            f"{worker}@%",
        )
        log = _api(stack, f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/ingest/logs/1", token=token)
        assert "rows_loaded" in json.dumps(log), f"no task log of {dag_id} from {worker}: {str(log)[:2000]}"

    # The broker is this stack's: its queues live under its key prefix.
    broker = redis.Redis.from_url(env["AIRFLOW__CELERY__BROKER_URL"])
    assert broker.exists(f"{stack.prefix}_kombu.binding.build", f"{stack.prefix}_kombu.binding.ingest") == 2
    broker.close()


def test_celery_settings_keep_stacks_apart_and_secrets_out(tmp_path):
    """Two stacks on one Redis: distinct key prefixes; the result backend names a passfile, never a password."""
    from infra.airflow_env import DEPLOY_DIR, airflow_env

    dsn = "postgresql://airflow@127.0.0.1:5432/airflow?passfile=/srv/pgpass"
    one, two = (
        airflow_env(home=tmp_path / str(port), metadata_dsn=dsn, api_port=port, base={}, executor="celery")
        for port in (8080, 8090)
    )
    prefix = "AIRFLOW__CELERY_BROKER_TRANSPORT_OPTIONS__GLOBAL_KEYPREFIX"
    assert (one[prefix], two[prefix]) == ("airflow-8080:", "airflow-8090:")
    assert one["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    assert one["AIRFLOW__CELERY__RESULT_BACKEND"] == (
        "db+postgresql+psycopg2://airflow@127.0.0.1:5432/airflow?passfile=/srv/pgpass"
    )
    assert str(DEPLOY_DIR) in one["PYTHONPATH"].split(os.pathsep)  # the deployment's policy module, not a copy
    local = airflow_env(home=tmp_path / "local", metadata_dsn=dsn, base={})
    assert local["AIRFLOW__CORE__EXECUTOR"] == "LocalExecutor" and prefix not in local
    assert str(DEPLOY_DIR) not in local["PYTHONPATH"].split(os.pathsep)

    components = dict(worker_components("airflow", workers=3, concurrency=2))
    assert list(components) == ["worker1", "worker2", "worker3"]
    assert "--queues build,ingest" in components["worker1"]
    assert all("--queues ingest " in components[name] for name in ("worker2", "worker3"))
    assert all("--skip-serve-logs" in command for command in components.values())
