"""The deployment's cluster policy (infra/deploy/airflow_local_settings.py) puts every task
of the real DAGs on its Celery queue: build_publish on `build`, the ingests on `ingest`."""
from __future__ import annotations

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
DEPLOY = REPO_ROOT / "infra" / "deploy"


def test_cluster_policy_routes_builds_and_ingests_to_their_queues():
    import importlib.util

    from airflow.dag_processing.dagbag import DagBag

    spec = importlib.util.spec_from_file_location("deploy_local_settings", DEPLOY / "airflow_local_settings.py")
    policy = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(policy)
    bag = DagBag(dag_folder=str(REPO_ROOT / "dags"))
    assert bag.import_errors == {}
    queues: dict[str, set[str]] = {}
    for dag in bag.dags.values():
        for task in dag.tasks:
            policy.task_policy(task)
            queues.setdefault(dag.dag_id, set()).add(task.queue)
    assert queues.pop("build_publish") == {"build"}
    assert any(dag_id.startswith("ingest_") for dag_id in queues)
    assert all(q == {"ingest"} for q in queues.values()), queues  # ingests and anything else (e.g. a sweep)
