"""Landing-folder watcher: an event trigger that claims files dropped for one feed.

Runs inside the Airflow triggerer as the ``AssetWatcher`` of the asset
``landing/<feed_id>``. Every ``poll_interval`` seconds it lists
``<landing>/<feed_id>/`` and, for each file that is complete, *claims* it by an
atomic rename into ``<landing>/<feed_id>/.claimed/`` and yields one event.

The landing zone may also be object storage (``LANDING_URI=s3://bucket/prefix``,
``ingestion.landing_store``): there an object is complete once listed (uploads are
atomic) and claiming is a conditional copy to ``.claimed/<etag>/<name>`` plus a delete.

A file is complete when it is a regular file whose name is a candidate under
the landing rules (``ingestion.landing``: not hidden, no in-progress ending such
as ``.part`` or ``.crdownload``), and its size and modification time were the
same on two consecutive polls. Writers should still write to
``name.part`` and rename when done; the stability check only protects against
writers that do not.

The event is a wake-up call, not the record (see ARCHITECTURE.md, "Events"):
the ingest task loads every file in the folder and in ``.claimed/`` that
``audit.ingestion_batches`` has not recorded, so an event lost across a
triggerer restart, or merged with another one into a single DAG run, loses no
data. On start the trigger also yields one ``recovered`` event when
``.claimed/`` still holds files (claimed before a restart, not yet ingested).

No Airflow metadata access and no imports of the warehouse stack at module
level: the triggerer imports this module by its classpath.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from airflow.triggers.base import BaseEventTrigger, TriggerEvent

from ingestion.landing_store import Delivery, LocalLanding, ObjectLanding, open_store

CLASSPATH = "dags.common.landing_trigger.LandingFileTrigger"


class LandingFileTrigger(BaseEventTrigger):
    """Watch ``<landing>/<feed_id>/``; claim each complete file and yield an event.

    :param feed_id: the feed whose landing folder is watched.
    :param landing_root: the landing zone root (a path or an fsspec URL). ``None``
        (the default, used by the DAGs) resolves ``LANDING_URI`` from the settings
        when the trigger starts, i.e. in the triggerer; the DAG file reads no
        configuration at parse time.
    :param poll_interval: seconds between two listings (default 2).
    """

    def __init__(
        self,
        feed_id: str,
        landing_root: str | None = None,
        poll_interval: float = 2.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.feed_id = feed_id
        self.landing_root = landing_root
        self.poll_interval = float(poll_interval)
        self._store: LocalLanding | ObjectLanding | None = None

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return CLASSPATH, {
            "feed_id": self.feed_id,
            "landing_root": self.landing_root,
            "poll_interval": self.poll_interval,
        }

    @property
    def store(self) -> LocalLanding | ObjectLanding:
        if self._store is None:
            self._store = open_store(self.landing_root)
        return self._store

    def feed_dir(self) -> Path | str:
        """The watched folder (a Path), or the feed's location in an object store."""
        location = self.store.feed_location(self.feed_id)
        return Path(location) if isinstance(self.store, LocalLanding) else location

    def _scan(self) -> dict[str, Delivery]:
        """Finished, unclaimed deliveries by name (the rules: ingestion.landing)."""
        return {d.name: d for d in self.store.waiting(self.feed_id)}

    def _leftovers(self) -> list[str]:
        return sorted(d.location for d in self.store.claimed(self.feed_id))

    def _event(self, claimed: Delivery, original: str) -> TriggerEvent:
        payload: dict[str, Any] = {"feed": self.feed_id, "file": claimed.location, "name": original}
        try:
            payload["sha256"], payload["size"] = self.store.digest(claimed)
        except FileNotFoundError:
            pass  # already taken by an ingest run: the event is still a valid wake-up call
        return TriggerEvent(payload)

    async def run(self) -> AsyncIterator[TriggerEvent]:
        folder = await asyncio.to_thread(self.feed_dir)
        self.log.info("Watching %s every %.1f s", folder, self.poll_interval)
        await asyncio.to_thread(self.store.prepare, self.feed_id)

        leftovers = await asyncio.to_thread(self._leftovers)
        if leftovers:
            self.log.info("%d file(s) already claimed, not yet ingested", len(leftovers))
            yield TriggerEvent({"feed": self.feed_id, "reason": "recovered", "files": leftovers})

        previous: dict[str, Delivery] = {}
        while True:
            current = await asyncio.to_thread(self._scan)
            for name, seen in sorted(current.items()):
                before = previous.get(name)
                stable = before is not None and (before.size, before.version) == (seen.size, seen.version)
                if not (stable or self.store.atomic_uploads):
                    continue  # new, or still being written: look again next poll
                claimed = await asyncio.to_thread(self.store.claim, seen)
                if claimed is None:
                    continue
                self.log.info("Claimed %s as %s", name, claimed.location)
                yield await asyncio.to_thread(self._event, claimed, name)
            previous = current
            await asyncio.sleep(self.poll_interval)
