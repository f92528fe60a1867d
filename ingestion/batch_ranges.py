"""The warehouse made ready for a load, and raw.<feed>'s earlier batches summarized, while the file is hashed.

Every raw table has a BRIN index on _batch_id: a batch is appended as one run of pages, so
"the rows of batch N" (the count check at commit, staging's batches since the last
publication) reads only that batch's page ranges, once the ranges are summarized. PostgreSQL
summarizes them by itself only where autovacuum runs (autosummarize); elsewhere every range
stays unsummarized and each of those reads is a scan of the whole history (measured: the
count check took 3.5 s at commit with 27M rows loaded before). So each load summarizes the
ranges of the batches before it (audit.summarize_raw_batches, as the owner): by the time the
batch opens, only its own pages are unsummarized. Where autovacuum already did it, this costs
one read of the range map.

Both steps are database round trips and server work, so they run on a thread while the
loading thread hashes the file (hashing releases the GIL).
"""
from __future__ import annotations

import logging
import threading
from collections.abc import Callable

import psycopg

from warehouse.db import connect

log = logging.getLogger(__name__)


class ReadyForLoad:
    """`prepare()` (the warehouse ready, returns the ingest login's DSN), then the earlier batches'
    summaries, on a thread; `wait()` returns the DSN, or raises what `prepare` raised.

    A failed summary (the database went away) is only logged: summaries make reads cheaper, never
    correct, and the load's own connection reports a lost database.
    """

    def __init__(self, prepare: Callable[[], str], feed_id: str):
        self.feed_id = feed_id
        self.dsn: str | None = None
        self.ranges: int | None = None  # summarized now (None: failed or not reached)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(prepare,), name="ready-for-load", daemon=True)
        self._thread.start()

    def _run(self, prepare: Callable[[], str]) -> None:
        try:
            self.dsn = prepare()
        except BaseException as exc:  # noqa: BLE001 - raised again by wait(), in the loading thread
            self._error = exc
            return
        try:
            with connect(self.dsn, autocommit=True) as conn:
                # Never queued behind a long VACUUM of the table (it takes the same lock): skipped instead.
                conn.execute("set lock_timeout = '2s'")
                self.ranges = conn.execute("select audit.summarize_raw_batches(%s)", (self.feed_id,)).fetchone()[0]
        except psycopg.Error as exc:
            message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            log.warning("raw.%s: earlier batches not summarized (%s); this load's count check reads more pages",
                        self.feed_id, message)

    def wait(self) -> str:
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self.dsn
