"""Airflow cluster policy of the platform under CeleryExecutor: which queue runs which task.

One module for both places it runs: copied into the server image as
$AIRFLOW_HOME/config/airflow_local_settings.py, and put on PYTHONPATH by the local
`make airflow EXECUTOR=celery` (infra/airflow_env.py). Airflow applies `dag_policy` and
`task_policy` when a DAG file is parsed. Routing lives here, with the deployment, so the
DAG files stay orchestration only and the local LocalExecutor stack (which has no queues
and does not load this module) is unaffected.

- `build`: build_publish (dbt build, gate, publish). At most one of its tasks runs at a
  time anywhere: max_active_runs=1 (the DAG) and max_active_tasks=1 (here), whatever the
  concurrency of the workers that serve `build` (on the server, one worker of concurrency
  1; locally, a worker that serves `ingest` too). The database advisory lock is the last
  guard; the queue keeps a build from waiting behind a backlog of ingests.
- `ingest`: every ingest_<feed> task, and anything else (AIRFLOW__OPERATORS__DEFAULT_QUEUE).
"""
from __future__ import annotations

BUILD_DAGS = frozenset({"build_publish"})
BUILD_QUEUE = "build"
INGEST_QUEUE = "ingest"


def queue_for(dag_id: str | None) -> str:
    return BUILD_QUEUE if dag_id in BUILD_DAGS else INGEST_QUEUE


def dag_policy(dag) -> None:
    if dag.dag_id in BUILD_DAGS:
        dag.max_active_tasks = 1


def task_policy(task) -> None:
    task.queue = queue_for(task.dag_id)
