"""One ingest DAG per registered feed: ``ingest_<feed_id>``.

Schedule: the feed's landing asset (a file claimed by the watcher, an event
posted through the REST API, or the ``landing_sweep`` DAG finding a file
waiting). Events are wake-up calls; the task loads every file of the feed
that ``audit.ingestion_batches`` has not recorded (see ARCHITECTURE.md).

Emits ``raw/<feed_id>`` only when rows were loaded; a run that found nothing
new ends *skipped* and wakes nothing downstream.

Orchestration only: the work is ``ingestion.intake.ingest_pending``, the same
function the CLI calls, imported inside the task.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from airflow.sdk import Asset, dag, get_current_context, task
from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

from dags.common.assets import landing_asset, raw_asset
from dags.common.dag_args import DAG_ARGS
from dags.common.feeds import registered_feeds

log = logging.getLogger(__name__)

def _jsonable(value: Any) -> Any:
    """Batch summaries as plain JSON (XCom, asset event extra)."""
    return json.loads(json.dumps(value, default=str))


def build_ingest_dag(feed_id: str):
    landing = landing_asset(feed_id)
    raw = raw_asset(feed_id)

    @dag(
        dag_id=f"ingest_{feed_id}",
        description=f"Load new files of feed {feed_id} into raw.{feed_id}",
        schedule=landing,
        **DAG_ARGS,
        tags=["ingest", feed_id],
        doc_md=__doc__,
    )
    def ingest_dag() -> None:
        ingest_task(feed_id, raw)

    return ingest_dag()


def ingest_task(feed_id: str, raw: Asset):
    @task(task_id="ingest", outlets=[raw])
    def ingest() -> list[dict[str, Any]]:
        from ingestion.intake import ingest_pending

        batches = _jsonable(ingest_pending(feed_id))
        loaded = [b for b in batches if (b.get("rows_loaded") or 0) > 0]
        refused = [b for b in batches if b.get("status") == "rejected"]
        for batch in batches:
            (log.warning if batch in refused else log.info)("batch %s", batch)
        if not loaded:
            if refused:
                # Whole files refused (unreadable, wrong contract, no rows): recorded in
                # audit.ingestion_batches / audit.rejected_rows and archived. Fail
                # visibly, without retries: the same file would be refused again.
                raise AirflowFailException(
                    f"feed {feed_id}: {len(refused)} file(s) refused, no row loaded: "
                    + "; ".join(f"{b.get('file')} (batch {b.get('batch_id')}): {b.get('message')}" for b in refused)
                )
            raise AirflowSkipException(
                f"feed {feed_id}: nothing new ({len(batches)} duplicate delivery(ies))"
                if batches
                else f"feed {feed_id}: no waiting file"
            )
        get_current_context()["outlet_events"][raw].extra = {
            "feed": feed_id,
            "batch_ids": [b.get("batch_id") for b in loaded],
            "files": [b.get("file") for b in loaded],
            "rows_loaded": sum(b.get("rows_loaded") or 0 for b in loaded),
        }
        return batches

    return ingest()


for _feed_id in registered_feeds():
    build_ingest_dag(_feed_id)
