"""``landing_sweep``: every 10 minutes, wake only what has work waiting.

Events are wake-up calls and can be missed (merged runs, a triggerer restart); this
one DAG is the safety net for all feeds, instead of a timed run of every ingest DAG
(which made 72 mostly skipped runs an hour). Each run:

- emits ``landing/<feed_id>`` (through the asset alias ``landing_sweep``) for each
  feed with a finished delivery waiting in its landing folder or ``.claimed/`` for
  over a minute (younger files are the watcher's), which wakes ``ingest_<feed_id>``;
- emits ``raw/<feed_id>`` for the feeds of batches loaded but still unpublished five
  minutes later (a build that gave up its retries during an outage, or whose wake-up
  was lost with a killed worker), which wakes ``build_publish``. Never after a
  ``blocked`` attempt: the same data would be refused again.

Nothing waiting -> the run succeeds emitting nothing; no other DAG runs.
"""

from __future__ import annotations

import logging
import time

from airflow.sdk import AssetAlias, CronTriggerTimetable, dag, get_current_context, task

from dags.common.assets import landing_asset, raw_asset
from dags.common.dag_args import DAG_ARGS
from dags.common.feeds import registered_feeds

log = logging.getLogger(__name__)

SWEEP_EVERY_MINUTES = 10
SETTLED_SECONDS = 60
SWEEP = AssetAlias(name="landing_sweep", group="landing")


@dag(
    dag_id="landing_sweep",
    description="Wake the ingest DAGs of feeds with files waiting, and a build that gave up",
    schedule=CronTriggerTimetable(f"*/{SWEEP_EVERY_MINUTES} * * * *", timezone="UTC"),
    **DAG_ARGS,
    tags=["ingest", "sweep"],
    doc_md=__doc__,
)
def landing_sweep() -> None:
    @task(task_id="wake_waiting", outlets=[SWEEP])
    def wake_waiting() -> dict[str, list[str]]:
        from ingestion.intake import pending_deliveries
        from warehouse.publication import feeds_awaiting_rebuild

        events = get_current_context()["outlet_events"][SWEEP]
        # Files the watcher has had a minute to claim and announce: fresh ones are its job.
        settled = time.time() - SETTLED_SECONDS
        waiting = [feed for feed in registered_feeds() if any(d.modified < settled for d in pending_deliveries(feed))]
        for feed in waiting:
            events.add(landing_asset(feed), extra={"feed": feed, "reason": "sweep"})
        rebuild = feeds_awaiting_rebuild()
        for feed in rebuild:
            events.add(raw_asset(feed), extra={"feed": feed, "reason": "sweep: unpublished after a failed build"})
        log.info("files waiting: %s; unpublished after a failed build: %s", waiting or "none", rebuild or "none")
        return {"waiting": waiting, "rebuild": rebuild}

    wake_waiting()


landing_sweep()
