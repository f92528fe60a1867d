"""The @dag arguments every DAG of the platform shares, written once.

No backfill of past intervals (files, not dates, drive the work), one run at a time per DAG
(runs of a DAG would contend for the same files or the same candidate schema), and the
retries, timeouts and failure callback of dags/common/defaults.py.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from dags.common.defaults import DEFAULT_ARGS

START_DATE = datetime(2025, 1, 1, tzinfo=UTC)

DAG_ARGS: dict[str, Any] = {
    "start_date": START_DATE,
    "catchup": False,
    "max_active_runs": 1,
    "default_args": DEFAULT_ARGS,
}
