"""Landing intake: take every file waiting in a feed's landing folder, whatever woke us up.

Asset events are wake-up calls, not the record: `audit.ingestion_batches` (keyed by
content hash) decides what is new. Files claimed by the landing trigger sit in
`<landing>/<feed>/.claimed/`; both places are taken.

A name that leads outside the feed's landing folder ('../x.csv', an absolute path, a
symlink pointing elsewhere) is never opened: it is recorded as a rejected batch with
one clear message, so a department sees why nothing loaded.
"""
from __future__ import annotations

import logging
from pathlib import Path

from ingestion import landing
from ingestion.errors import FileRejected
from ingestion.load import BatchSummary, load_file, refuse_file
from ingestion.registry import get_spec
from warehouse.settings import get_settings

log = logging.getLogger(__name__)


def landing_folder(feed_id: str) -> Path:
    get_spec(feed_id)  # unknown feeds fail loudly here
    return get_settings().landing_dir / feed_id


def pending_files(feed_id: str) -> list[Path]:
    """Every finished delivery waiting for the feed (the rules: ingestion/landing.py)."""
    return landing.pending_files(landing_folder(feed_id))


def escape_refusal(feed_id: str, name: str | Path) -> FileRejected | None:
    """Why `name` may not be read as a delivery of `feed_id`, or None when it is safely inside."""
    folder = landing_folder(feed_id).resolve()
    candidate = Path(name)
    if not candidate.is_absolute():
        candidate = landing_folder(feed_id) / candidate
    target = candidate.resolve()
    if target == folder or not target.is_relative_to(folder):
        return FileRejected(
            "path_escape",
            f"{str(name)!r} leads outside the landing folder of {feed_id} ({folder}); not read",
            f"{str(name)!r} 指向 {feed_id} 接收目录之外，拒绝读取",
        )
    return None


def ingest_file(feed_id: str, name: str | Path, *, dsn: str | None = None) -> dict:
    """Load one delivered file named relative to the feed's landing folder (e.g. from an event)."""
    refusal = escape_refusal(feed_id, name)
    if refusal is not None:
        summary = refuse_file(feed_id, Path(name).name or str(name), refusal, dsn=dsn)
        log.warning("%s: %s refused: %s", feed_id, name, refusal.reason)
        return summary.to_dict()
    path = landing_folder(feed_id) / name
    summary = load_file(feed_id, path, dsn=dsn)
    path.unlink(missing_ok=True)  # kept in the archive, recorded in audit
    return summary.to_dict()


def ingest_pending(feed_id: str, *, dsn: str | None = None) -> list[dict]:
    """Load every waiting file of the feed, oldest first; archive and remove each one."""
    summaries: list[dict] = []
    folder = landing_folder(feed_id)
    for path in pending_files(feed_id):
        refusal = escape_refusal(feed_id, path)
        if refusal is not None:
            summary: BatchSummary = refuse_file(feed_id, path.name, refusal, dsn=dsn)
        else:
            summary = load_file(feed_id, path, dsn=dsn)
        log.info("%s: %s %s rows_in=%s loaded=%s rejected=%s", feed_id, path.relative_to(folder), summary.status,
                 summary.rows_in, summary.rows_loaded, summary.rows_rejected)
        path.unlink(missing_ok=True)  # kept in the archive (or refused unread), recorded in audit
        summaries.append(summary.to_dict())
    return summaries
