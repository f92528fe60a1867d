"""``build_publish``: dbt build into a candidate schema, quality gate, atomic publication.

Schedule: any ``raw/<feed_id>`` asset. ``max_active_runs=1``: raw events that
arrive while a build runs wait in Airflow's asset queue and coalesce into the
next run (the scheduler does not create a run while one is queued or running),
so builds and publications never run concurrently. Each build takes every
batch not yet built, so which events woke it does not matter.

Outcomes of ``warehouse.publication.build_and_publish(run_id)``:
- ``published``    -> success; emits ``marts`` (extra: publication id, checks, report).
- ``nothing_to_do`` -> skipped; emits nothing.
- ``blocked``      -> the gate refused: marts are unchanged and the audit record
  (``audit.publications``, ``audit.check_results``, the report) is already
  written by ``build_and_publish``. The task then FAILS, without retries (the
  same data would be refused again), listing the failed checks, so the block is
  visible in Airflow and reaches the failure callback.
- an exception -> retried (``BUILD_RETRIES``, backoff from ``default_args``):
  ``build_and_publish`` raises when the machinery failed (dbt killed or out of
  memory, the database lost), after recording the attempt ``failed`` with the
  reason; a killed task leaves a ``running`` row that the retry marks ``failed``.
  dbt dies with the task process, and the retry waits for the build lock, so it
  never overlaps what is left of the killed attempt.
"""

from __future__ import annotations

import json
import logging
from functools import reduce
from operator import or_
from typing import Any

from airflow.sdk import dag, get_current_context, task
from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

from dags.common.assets import MARTS, raw_asset
from dags.common.dag_args import DAG_ARGS
from dags.common.defaults import BUILD_RETRIES
from dags.common.feeds import registered_feeds

log = logging.getLogger(__name__)


def _failed_checks(result: dict[str, Any]) -> str:
    failed = result.get("failed_checks") or []
    if not failed:
        return result.get("message") or f"{result.get('checks_failed')} check(s) failed"
    return "; ".join(
        f"{c.get('source')}:{c.get('name')} on {c.get('target')} -> {c.get('status')}"
        + (f" ({c.get('failures')} failing rows)" if c.get("failures") else "")
        if isinstance(c, dict)
        else str(c)
        for c in failed
    )


@dag(
    dag_id="build_publish",
    description="dbt build -> quality gate -> atomic publication of marts",
    schedule=reduce(or_, (raw_asset(feed_id) for feed_id in registered_feeds())),
    **DAG_ARGS,
    tags=["build", "publish"],
    doc_md=__doc__,
)
def build_publish() -> None:
    @task(task_id="build_and_publish", outlets=[MARTS], retries=BUILD_RETRIES)
    def build_and_publish_task() -> dict[str, Any]:
        from warehouse.publication import build_and_publish

        context = get_current_context()
        result = json.loads(json.dumps(build_and_publish(context["run_id"]), default=str))
        log.info("build_and_publish: %s", result)
        outcome = result.get("outcome")
        if outcome == "published":
            context["outlet_events"][MARTS].extra = {
                key: result.get(key) for key in ("publication_id", "checks_passed", "checks_failed", "report_path")
            }
            return result
        if outcome == "nothing_to_do":
            raise AirflowSkipException("no new batch since the last publication")
        if outcome == "blocked":
            raise AirflowFailException(
                f"publication {result.get('publication_id')} BLOCKED by the quality gate; "
                f"marts unchanged. Failed checks: {_failed_checks(result)}. "
                f"Report: {result.get('report_path')}"
            )
        raise AirflowFailException(f"unexpected outcome {outcome!r}: {result}")

    build_and_publish_task()


build_publish()
