"""Airflow cluster policy of the deployed platform: which Celery queue runs which task.

Copied into the image as $AIRFLOW_HOME/config/airflow_local_settings.py; Airflow applies
`task_policy` to every task when a DAG file is parsed. Routing lives here, with the
deployment, so the DAG files stay orchestration only and the local LocalExecutor stack
(which has no queues) is unaffected.

- `build`: build_publish (dbt build, gate, publish). Its workers run one task at a time;
  the DAG's max_active_runs=1 and the database advisory lock already keep builds from
  overlapping, the queue keeps a build from waiting behind a backlog of ingests.
- `ingest`: every ingest_<feed> task, and anything else (AIRFLOW__OPERATORS__DEFAULT_QUEUE).
"""
from __future__ import annotations

BUILD_DAGS = frozenset({"build_publish"})
BUILD_QUEUE = "build"
INGEST_QUEUE = "ingest"


def queue_for(dag_id: str | None) -> str:
    return BUILD_QUEUE if dag_id in BUILD_DAGS else INGEST_QUEUE


def task_policy(task) -> None:
    task.queue = queue_for(task.dag_id)
