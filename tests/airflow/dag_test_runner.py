"""Run DAGs of dags/ with `dag.test()` in this (sub)process and print one JSON line each.

    python tests/airflow/dag_test_runner.py DAG_ID [DAG_ID ...]

Run by tests/airflow/test_dag_runs.py with the environment of an isolated Airflow
(fresh, migrated metadata database), so the test process's config stays untouched.
Prints `RESULT {"dag_id", "state", "tasks": {task_id: state}, "events": [...], "seconds"}`.
"""

from __future__ import annotations

import json
import os
import sys
import time


def main(dag_ids: list[str]) -> int:
    from airflow.dag_processing.dagbag import DagBag
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    bag = DagBag(dag_folder=os.environ["AIRFLOW__CORE__DAGS_FOLDER"])
    if bag.import_errors:
        print("IMPORT ERRORS " + json.dumps(bag.import_errors), flush=True)
        return 1
    for dag_id in dag_ids:
        started = time.monotonic()
        run = bag.dags[dag_id].test()
        seconds = round(time.monotonic() - started, 2)
        with create_session() as session:
            tasks = {ti.task_id: str(ti.state) for ti in run.get_task_instances(session=session)}
            rows = session.execute(
                select(AssetModel.name, AssetEvent.extra)
                .join(AssetModel, AssetModel.id == AssetEvent.asset_id)
                .where(AssetEvent.source_dag_id == dag_id, AssetEvent.source_run_id == run.run_id)
            ).all()
        result = {
            "dag_id": dag_id,
            "state": str(run.state),
            "tasks": tasks,
            "events": [{"asset": name, "extra": extra} for name, extra in rows],
            "seconds": seconds,
        }
        print("RESULT " + json.dumps(result, default=str), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
