"""BRIN summaries of raw.<feed>'s earlier batches, made in the background while a file is hashed.

Every raw table has a BRIN index on _batch_id: a batch is appended as one run of pages, so
"the rows of batch N" (the count check at commit, staging's batches since the last
publication) reads only that batch's page ranges, once the ranges are summarized. PostgreSQL
summarizes them by itself only where autovacuum runs (autosummarize); elsewhere every range
stays unsummarized and each of those reads is a scan of the whole history (measured: the
count check took 3.5 s at commit with 27M rows loaded before). So each load summarizes the
ranges of the batches before it (audit.summarize_raw_batches, as the owner), on its own
connection while the file is hashed and archived: by the time the batch opens, only its own
pages are unsummarized. Where autovacuum already did it, this costs one read of the range map.
"""
from __future__ import annotations

import logging
import threading

import psycopg

from warehouse.db import connect

log = logging.getLogger(__name__)


class EarlierBatchSummaries:
    """`audit.summarize_raw_batches(feed)` on a thread; `wait()` before the batch's rows are written.

    A failure (the database went away) is only logged: summaries make reads cheaper, never
    correct, and the load's own connection reports a lost database.
    """

    def __init__(self, dsn: str, feed_id: str):
        self.ranges: int | None = None
        self._thread = threading.Thread(target=self._summarize, args=(dsn, feed_id), name="brin-summaries",
                                        daemon=True)
        self._thread.start()

    def _summarize(self, dsn: str, feed_id: str) -> None:
        try:
            with connect(dsn, autocommit=True) as conn:
                # Never queued behind a long VACUUM of the table (it takes the same lock): skipped instead.
                conn.execute("set lock_timeout = '2s'")
                self.ranges = conn.execute("select audit.summarize_raw_batches(%s)", (feed_id,)).fetchone()[0]
        except psycopg.Error as exc:
            log.warning("raw.%s: earlier batches not summarized (%s); this load's count check reads more pages",
                        feed_id, str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__)

    def wait(self) -> int | None:
        """Ranges summarized (None when it failed)."""
        self._thread.join()
        return self.ranges
