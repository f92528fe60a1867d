"""The feed list the DAG factory iterates over, read cheaply at parse time."""

from __future__ import annotations


def registered_feeds() -> list[str]:
    """Feed ids from the feed registry (a listing of ingestion/specs/*.yml; no DB, no network)."""
    from ingestion.registry import feed_ids

    return sorted(feed_ids())
