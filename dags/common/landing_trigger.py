"""Landing-folder watcher: an event trigger that claims files dropped for one feed.

Runs inside the Airflow triggerer as the ``AssetWatcher`` of the asset
``landing/<feed_id>``. Every ``poll_interval`` seconds it lists
``<landing>/<feed_id>/`` and, for each file that is complete, *claims* it by an
atomic rename into ``<landing>/<feed_id>/.claimed/`` and yields one event.

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
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from airflow.triggers.base import BaseEventTrigger, TriggerEvent

from ingestion.landing import CLAIMED_DIR, claim, file_digest, is_candidate_name

CLASSPATH = "dags.common.landing_trigger.LandingFileTrigger"


@dataclass(frozen=True)
class _Seen:
    size: int
    mtime_ns: int


class LandingFileTrigger(BaseEventTrigger):
    """Watch ``<landing>/<feed_id>/``; claim each complete file and yield an event.

    :param feed_id: the feed whose landing folder is watched.
    :param landing_root: the landing zone root. ``None`` (the default, used by
        the DAGs) resolves ``warehouse.settings.get_settings().landing_dir`` when
        the trigger starts, i.e. from the triggerer's ``LANDING_URI``; the DAG
        file reads no configuration at parse time.
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

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return CLASSPATH, {
            "feed_id": self.feed_id,
            "landing_root": self.landing_root,
            "poll_interval": self.poll_interval,
        }

    def feed_dir(self) -> Path:
        if self.landing_root is not None:
            root = Path(self.landing_root)
        else:
            from warehouse.settings import get_settings

            root = Path(get_settings().landing_dir)
        return root / self.feed_id

    def _scan(self, folder: Path) -> dict[str, _Seen]:
        found: dict[str, _Seen] = {}
        try:
            entries = list(os.scandir(folder))
        except FileNotFoundError:
            return found
        for entry in entries:
            if not is_candidate_name(entry.name):
                continue
            try:
                if not entry.is_file(follow_symlinks=False):
                    continue
                stat = entry.stat(follow_symlinks=False)
            except FileNotFoundError:
                continue
            found[entry.name] = _Seen(stat.st_size, stat.st_mtime_ns)
        return found

    def _leftovers(self, folder: Path) -> list[str]:
        claimed = folder / CLAIMED_DIR
        if not claimed.is_dir():
            return []
        return sorted(str(p) for p in claimed.iterdir() if p.is_file() and is_candidate_name(p.name))

    def _event(self, claimed: Path, original: str) -> TriggerEvent:
        payload: dict[str, Any] = {"feed": self.feed_id, "file": str(claimed), "name": original}
        try:
            payload["size"] = claimed.stat().st_size
            payload["sha256"] = file_digest(claimed)[0]
        except FileNotFoundError:
            pass  # already taken by an ingest run: the event is still a valid wake-up call
        return TriggerEvent(payload)

    async def run(self) -> AsyncIterator[TriggerEvent]:
        folder = await asyncio.to_thread(self.feed_dir)
        self.log.info("Watching %s every %.1f s", folder, self.poll_interval)
        await asyncio.to_thread(folder.mkdir, parents=True, exist_ok=True)

        leftovers = await asyncio.to_thread(self._leftovers, folder)
        if leftovers:
            self.log.info("%d file(s) already claimed, not yet ingested", len(leftovers))
            yield TriggerEvent({"feed": self.feed_id, "reason": "recovered", "files": leftovers})

        previous: dict[str, _Seen] = {}
        while True:
            current = await asyncio.to_thread(self._scan, folder)
            for name, seen in sorted(current.items()):
                if previous.get(name) != seen:
                    continue  # new, or still being written: look again next poll
                claimed = await asyncio.to_thread(claim, folder / name)
                if claimed is None:
                    continue
                self.log.info("Claimed %s as %s", name, claimed)
                yield await asyncio.to_thread(self._event, claimed, name)
            previous = current
            await asyncio.sleep(self.poll_interval)
