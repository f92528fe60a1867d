"""Republish the kept previous version of the marts, atomically, on an operator's word.

What a rollback means (README, "Rollback"):

* `marts` and `marts_previous` change places by the same atomic swap as a publication,
  so the version rolled back stays kept (a second rollback undoes the first).
* It is recorded as a new `audit.publications` row (outcome published, build_mode
  rollback) carrying the restored publication's source batches and project fingerprint,
  with who ran it and why; no earlier row is changed. The next build therefore plans
  against what `marts` really holds: partial builds compare feeds with the restored
  batches, and the incremental event facts start from the restored tables, whose batch
  high-water mark is the restored one — batches that were only in the rolled-back
  version are read again, none is skipped.
* Raw data is not touched. Without a new batch the next build has nothing to do (the
  rolled-back batches are not republished behind the operator's back); `govctl build
  --force` or the next delivery rebuilds from every loaded batch, and a corrected file
  (or `ingestion replay`) supersedes the bad rows by key.
* Snapshots (SCD2 history, outside `marts`) are not rewound: they record what was
  published and when; the rollback row marks the interval.
"""
from __future__ import annotations

import getpass
import logging
import uuid
from typing import Any

from psycopg import sql

from warehouse.auditsite import refresh_site
from warehouse.bootstrap import bootstrap
from warehouse.db import connect
from warehouse.publication import BUILD_LOCK
from warehouse.publish import published_version, rollback_swap
from warehouse.settings import get_settings

log = logging.getLogger(__name__)


class NothingToRollBack(RuntimeError):
    """No previous version is kept (no publication since versions are kept, or none before the current)."""


def rollback(reason: str, *, dsn: str | None = None) -> dict[str, Any]:
    """Swap the previous published version back in; record who and why; rebuild the report site."""
    if not reason or not reason.strip():
        raise ValueError("a rollback needs a reason (--reason \"…\"): it is recorded for the auditors")
    dsn = dsn or get_settings().dsn
    bootstrap(dsn)
    with connect(dsn, autocommit=True) as conn:
        conn.execute("select pg_advisory_lock(%s)", (BUILD_LOCK,))
        try:
            result = _rollback(conn, reason.strip())
        finally:
            conn.execute("select pg_advisory_unlock(%s)", (BUILD_LOCK,))
    result["report_path"] = str(refresh_site(dsn, result["publication_id"]) or "")
    return result


def _rollback(conn, reason: str) -> dict[str, Any]:
    previous = published_version(conn, "marts_previous")
    if previous is None:
        raise NothingToRollBack("no previous version of the marts is kept (schema marts_previous is missing "
                                "or does not name its publication): nothing to roll back to")
    restored = conn.execute("select source_batches, project_fingerprint from audit.publications "
                            "where publication_id = %s", (previous,)).fetchone()
    if restored is None:
        raise NothingToRollBack(f"marts_previous names publication {previous}, which audit.publications lacks")
    copy_key = conn.execute("select exists (select 1 from information_schema.columns where table_schema = 'audit' "
                            "and table_name = 'publications' and column_name = 'pii_key_fingerprint')").fetchone()[0]
    message = f"rollback to publication {previous}: {reason}"
    # The key that built the restored marts, where publications record one (key-rotation work).
    key = sql.SQL(", pii_key_fingerprint") if copy_key else sql.SQL("")
    key_value = sql.SQL(", (select pii_key_fingerprint from audit.publications where publication_id = {})").format(
        sql.Literal(previous)) if copy_key else sql.SQL("")
    with conn.transaction():
        restored_id, replaced_id = rollback_swap(conn)
        publication_id = conn.execute(sql.SQL(
            "insert into audit.publications (run_id, outcome, build_mode, source_batches, project_fingerprint, "
            "finished_at, message, restores_publication, requested_by, requested_by_os, reason{key}) "
            "values (%s, 'published', 'rollback', %s, %s, clock_timestamp(), %s, %s, current_user, %s, %s{key_value}) "
            "returning publication_id").format(key=key, key_value=key_value),
            (f"rollback-{uuid.uuid4().hex[:8]}", restored[0], restored[1], message, restored_id, _os_user(),
             reason)).fetchone()[0]
    log.warning("publication %s: marts rolled back to publication %s (was %s): %s", publication_id, restored_id,
                replaced_id, reason)
    return {"publication_id": publication_id, "outcome": "published", "build_mode": "rollback",
            "restores_publication": restored_id, "replaced_publication": replaced_id, "message": message}


def _os_user() -> str | None:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return None
