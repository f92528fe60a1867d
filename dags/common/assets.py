"""Assets of the pipeline: landing folders (watched), raw tables, the published marts.

``landing/<feed_id>``  a feed's landing folder; its watcher claims dropped files
                       (LandingFileTrigger); departments may also post events to
                       it through the REST API. Schedules ``ingest_<feed_id>``.
``raw/<feed_id>``      ``raw.<feed_id>`` received new rows; emitted by
                       ``ingest_<feed_id>``, schedules ``build_publish``.
``marts``              a publication passed the gate; emitted by ``build_publish``.
"""

from __future__ import annotations

from airflow.sdk import Asset, AssetWatcher

from dags.common.landing_trigger import LandingFileTrigger

MARTS = Asset(name="marts", uri="marts", group="marts")


def landing_asset(feed_id: str, *, poll_interval: float = 2.0) -> Asset:
    return Asset(
        name=f"landing/{feed_id}",
        uri=f"landing/{feed_id}",
        group="landing",
        watchers=[
            AssetWatcher(
                name=f"landing_{feed_id}",
                trigger=LandingFileTrigger(feed_id=feed_id, poll_interval=poll_interval),
            )
        ],
    )


def raw_asset(feed_id: str) -> Asset:
    return Asset(name=f"raw/{feed_id}", uri=f"raw/{feed_id}", group="raw")
