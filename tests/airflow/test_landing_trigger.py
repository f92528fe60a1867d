"""LandingFileTrigger: claims complete files by atomic rename, ignores the rest."""

from __future__ import annotations

import asyncio
import hashlib
import os
from pathlib import Path

from dags.common.landing_trigger import CLASSPATH, LandingFileTrigger

POLL = 0.05


async def _next_event(trigger_run, timeout: float = 5.0):
    return await asyncio.wait_for(anext(trigger_run), timeout)


async def _stop(trigger_run, *pending: asyncio.Future) -> None:
    for future in pending:
        future.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    await trigger_run.aclose()


def test_serialize_round_trip(tmp_path: Path):
    trigger = LandingFileTrigger(feed_id="party_organizations", landing_root=str(tmp_path), poll_interval=1.5)
    classpath, kwargs = trigger.serialize()
    assert classpath == CLASSPATH == "dags.common.landing_trigger.LandingFileTrigger"
    from airflow._shared.module_loading import import_string  # what the triggerer uses

    clone = import_string(classpath)(**kwargs)
    assert clone.serialize() == (classpath, kwargs)
    assert LandingFileTrigger.hash(classpath, kwargs) == LandingFileTrigger.hash(*clone.serialize())


def test_claims_a_dropped_file_and_ignores_partial_ones(tmp_path: Path):
    feed_dir = tmp_path / "party_organizations"
    feed_dir.mkdir()
    (feed_dir / ".hidden.xlsx").write_bytes(b"hidden")
    (feed_dir / "upload.xlsx.part").write_bytes(b"in progress")
    (feed_dir / "upload.tmp").write_bytes(b"in progress")
    trigger = LandingFileTrigger(feed_id="party_organizations", landing_root=str(tmp_path), poll_interval=POLL)

    async def scenario():
        run = trigger.run()
        pending = asyncio.ensure_future(anext(run))
        try:
            done, _ = await asyncio.wait({pending}, timeout=0.5)
            assert not done, "only ignored files so far"
            content = b"PK\x03\x04 a workbook"
            (feed_dir / "orgs.xlsx").write_bytes(content)
            event = await asyncio.wait_for(pending, 5)
            claimed = feed_dir / ".claimed" / "orgs.xlsx"
            assert event.payload == {
                "feed": "party_organizations",
                "file": str(claimed),
                "name": "orgs.xlsx",
                "size": len(content),
                "sha256": hashlib.sha256(content).hexdigest(),
            }
            assert claimed.read_bytes() == content
            assert not (feed_dir / "orgs.xlsx").exists()

            # The same name delivered again before the first was ingested: nothing overwritten.
            (feed_dir / "orgs.xlsx").write_bytes(b"second delivery")
            second = await _next_event(run)
            assert second.payload["file"] == str(feed_dir / ".claimed" / "orgs~1.xlsx")
            assert claimed.read_bytes() == content
        finally:
            await _stop(run, pending)

    asyncio.run(scenario())
    leftovers = sorted(p.name for p in feed_dir.iterdir())
    assert leftovers == [".claimed", ".hidden.xlsx", "upload.tmp", "upload.xlsx.part"]


def test_waits_until_the_size_stops_changing(tmp_path: Path):
    feed_dir = tmp_path / "grid_events"
    feed_dir.mkdir()
    trigger = LandingFileTrigger(feed_id="grid_events", landing_root=str(tmp_path), poll_interval=0.2)

    async def scenario():
        run = trigger.run()
        growing = feed_dir / "events.jsonl"
        try:
            with growing.open("wb") as handle:
                pending = asyncio.ensure_future(anext(run))
                for _ in range(6):  # keeps growing across several polls
                    handle.write(b'{"a": 1}\n')
                    handle.flush()
                    os.fsync(handle.fileno())
                    await asyncio.sleep(0.15)
                    assert not pending.done(), "claimed while still being written"
            event = await asyncio.wait_for(pending, 5)
            assert event.payload["size"] == 6 * len(b'{"a": 1}\n')
        finally:
            await _stop(run, pending)

    asyncio.run(scenario())


def test_recovers_files_claimed_before_a_restart(tmp_path: Path):
    claimed_dir = tmp_path / "mediation_cases" / ".claimed"
    claimed_dir.mkdir(parents=True)
    (claimed_dir / "cases.csv").write_text("a,b\n1,2\n")
    trigger = LandingFileTrigger(feed_id="mediation_cases", landing_root=str(tmp_path), poll_interval=POLL)

    async def scenario():
        run = trigger.run()
        try:
            event = await _next_event(run)
        finally:
            await run.aclose()
        return event

    event = asyncio.run(scenario())
    assert event.payload == {
        "feed": "mediation_cases",
        "reason": "recovered",
        "files": [str(claimed_dir / "cases.csv")],
    }
    assert (claimed_dir / "cases.csv").exists(), "the ingest task, not the trigger, consumes claimed files"


def test_landing_root_defaults_to_the_settings(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("LANDING_URI", str(tmp_path / "landing"))
    trigger = LandingFileTrigger(feed_id="service_items")
    assert trigger.feed_dir() == (tmp_path / "landing" / "service_items").resolve()
