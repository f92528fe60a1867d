"""Landing intake: take every file waiting in a feed's landing folder, whatever woke us up.

Asset events are wake-up calls, not the record: `audit.ingestion_batches` (keyed by
content hash) decides what is new. Files claimed by the landing trigger sit in
`<landing>/<feed>/.claimed/`; both places are taken. The landing zone is a folder or
object storage (`LANDING_URI`, ingestion/landing_store.py): an object is downloaded to a
private temp file under its delivered name, loaded, archived, then deleted.

A name that leads outside the feed's landing folder ('../x.csv', an absolute path, a
symlink pointing elsewhere) is never opened: it is recorded as a rejected batch with
one clear message, so a department sees why nothing loaded.
"""
from __future__ import annotations

import logging
from pathlib import Path

from ingestion.errors import FileRejected
from ingestion.landing_store import Delivery, LocalLanding, open_store
from ingestion.load import BatchSummary, load_file, refuse_file
from ingestion.registry import get_spec
from warehouse.settings import get_settings

log = logging.getLogger(__name__)


def landing_folder(feed_id: str) -> Path:
    get_spec(feed_id)  # unknown feeds fail loudly here
    return get_settings().landing_dir / feed_id


def pending_deliveries(feed_id: str) -> list[Delivery]:
    """Every finished delivery waiting for the feed, on a folder or object storage (rules: landing.py)."""
    get_spec(feed_id)
    return open_store().pending(feed_id)


def pending_files(feed_id: str) -> list[Path]:
    """Every finished delivery waiting in the feed's landing folder (a local LANDING_URI)."""
    return [Path(d.location) for d in pending_deliveries(feed_id)]


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
    store = open_store()
    if not isinstance(store, LocalLanding):
        named = [d for d in store.pending(feed_id) if d.name == str(name) or d.location.endswith(f"/{name}")]
        if not named:
            raise FileNotFoundError(f"{name!r} is not waiting in {store.feed_location(feed_id)}")
        return _take(store, named[0], dsn).to_dict()
    refusal = escape_refusal(feed_id, name)
    if refusal is not None:
        summary = refuse_file(feed_id, Path(name).name or str(name), refusal, dsn=dsn)
        log.warning("%s: %s refused: %s", feed_id, name, refusal.reason)
        return summary.to_dict()
    path = landing_folder(feed_id) / name
    summary = load_file(feed_id, path, dsn=dsn)
    path.unlink(missing_ok=True)  # kept in the archive, recorded in audit
    return summary.to_dict()


def _take(store, delivery: Delivery, dsn: str | None) -> BatchSummary:
    """Load (or refuse) one delivery, then remove it from the landing zone: it is archived and in audit."""
    if isinstance(store, LocalLanding) and (refusal := escape_refusal(delivery.feed_id, delivery.location)):
        summary: BatchSummary = refuse_file(delivery.feed_id, delivery.name, refusal, dsn=dsn)
    else:
        with store.local_copy(delivery) as path:
            summary = load_file(delivery.feed_id, path, dsn=dsn)
    log.info("%s: %s %s rows_in=%s loaded=%s rejected=%s", delivery.feed_id,
             (".claimed/" if delivery.claimed else "") + delivery.name, summary.status,
             summary.rows_in, summary.rows_loaded, summary.rows_rejected)
    store.remove(delivery)  # kept in the archive (or refused unread), recorded in audit
    return summary


def ingest_pending(feed_id: str, *, dsn: str | None = None) -> list[dict]:
    """Load every waiting file of the feed, oldest first; archive and remove each one."""
    get_spec(feed_id)  # unknown feeds fail loudly here
    store = open_store()
    return [_take(store, delivery, dsn).to_dict() for delivery in store.pending(feed_id)]
