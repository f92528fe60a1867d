"""Retries, timeouts and the failure callback, set once for every DAG."""

from __future__ import annotations

import logging
import os
from datetime import timedelta
from typing import Any

log = logging.getLogger("governance.dags")


def log_failure(context: Any) -> None:
    """Failure callback: one greppable line in the task log naming what failed and why.

    Alerting (mail, chat) belongs here too, configured by the deployment; the
    audit schema, not this line, is the record of what was loaded or published.
    """
    ti = context.get("ti") or context.get("task_instance")
    log.error(
        "GOVERNANCE TASK FAILED dag_id=%s task_id=%s run_id=%s try=%s error=%s",
        getattr(ti, "dag_id", "?"),
        getattr(ti, "task_id", "?"),
        getattr(ti, "run_id", "?"),
        getattr(ti, "try_number", "?"),
        context.get("exception"),
    )


# First retry delay (doubling up to 10 min). GOV_RETRY_DELAY_SECONDS shortens it for the
# fault tests; read by the dag-processor when it parses the DAG files.
RETRY_DELAY = timedelta(seconds=float(os.environ.get("GOV_RETRY_DELAY_SECONDS", "30")))
# A build outlives a database outage of ~25 min (retries after 30 s, 1, 2, 4, 8, 10 min) before it
# gives up; the landing_sweep DAG re-announces unpublished batches after that.
BUILD_RETRIES = 6

DEFAULT_ARGS: dict[str, Any] = {
    "owner": "governance-data",
    "retries": 2,
    "retry_delay": RETRY_DELAY,
    "retry_exponential_backoff": 2.0,
    "max_retry_delay": timedelta(minutes=10),
    "execution_timeout": timedelta(hours=1),
    "on_failure_callback": log_failure,
}
