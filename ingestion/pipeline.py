"""Take every file waiting in a feed's landing folder, whatever woke us up.

Asset events are wake-up calls, not the record: `audit.ingestion_batches` (keyed by
content hash) decides what is new. Files claimed by the landing trigger sit in
`<landing>/<feed>/.claimed/`; both places are taken.
"""
from __future__ import annotations

import logging
from pathlib import Path

from ingestion.load import BatchSummary, load_file
from ingestion.registry import get_spec
from warehouse.settings import get_settings

log = logging.getLogger(__name__)
CLAIMED = ".claimed"
IGNORED_SUFFIXES = (".part", ".tmp", ".crdownload")


def is_candidate(path: Path) -> bool:
    """A delivered file: not hidden, not a partial upload, a regular file."""
    return path.is_file() and not path.name.startswith(".") and not path.name.endswith(IGNORED_SUFFIXES)


def landing_folder(feed_id: str) -> Path:
    get_spec(feed_id)  # unknown feeds fail loudly here
    return get_settings().landing_dir / feed_id


def pending_files(feed_id: str) -> list[Path]:
    folder = landing_folder(feed_id)
    files = [p for p in (folder / CLAIMED).glob("*") if is_candidate(p)]
    files += [p for p in folder.glob("*") if is_candidate(p)]
    return sorted(files, key=lambda p: (p.stat().st_mtime, p.name))


def ingest_pending(feed_id: str, *, dsn: str | None = None) -> list[dict]:
    """Load every waiting file of the feed, oldest first; archive and remove each one."""
    summaries: list[dict] = []
    for path in pending_files(feed_id):
        summary: BatchSummary = load_file(feed_id, path, dsn=dsn)
        log.info("%s: %s %s rows_in=%s loaded=%s rejected=%s", feed_id, path.name, summary.status,
                 summary.rows_in, summary.rows_loaded, summary.rows_rejected)
        path.unlink(missing_ok=True)  # kept in the archive, recorded in audit
        summaries.append(summary.to_dict())
    return summaries
