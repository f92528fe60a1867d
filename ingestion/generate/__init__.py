"""Deterministic sample data: one departmental file per feed, valid under the specs.

At ``scale=1`` the files reproduce every headline figure in docs/kpi_derivations.md;
event feeds (mediation cases, grid events, service transactions) grow with
``scale``. The same seed always gives the same files.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from ingestion.generate import events, programmes, snapshot
from ingestion.generate.specs import FeedLayout, load_layout
from ingestion.generate.world import World
from ingestion.generate.writers import write_csv, write_jsonl, write_xlsx

__all__ = ["FEEDS", "generate_sample", "write_feed", "write_service_transactions"]

Builder = Callable[[World, int], Iterable[list[Any]]]

FEEDS: dict[str, Builder] = {
    "party_organizations": lambda w, s: snapshot.party_organizations(w),
    "residential_compounds": lambda w, s: snapshot.residential_compounds(w),
    "social_organizations": lambda w, s: snapshot.social_organizations(w),
    "social_workers": lambda w, s: snapshot.social_workers(w),
    "community_facilities": lambda w, s: snapshot.community_facilities(w),
    "service_purchase_projects": lambda w, s: snapshot.service_purchase_projects(w),
    "fund_allocations": lambda w, s: snapshot.fund_allocations(w),
    "old_compound_renovations": lambda w, s: snapshot.old_compound_renovations(w),
    "mediation_cases": events.mediation_cases,
    "grid_events": events.grid_events,
    "service_items": lambda w, s: snapshot.service_items(w),
    "service_transactions": lambda w, s: events.service_transactions(w, w.t.service_transactions * s),
    "enforcement_cases": programmes.enforcement_cases,
    "community_needs": programmes.community_needs,
    "proxy_service_requests": programmes.proxy_service_requests,
    "resident_points": programmes.resident_points,
}
"""feed_id → row builder(world, scale)."""

# Departments put a merged title row above the header in these workbooks.
_TITLES: dict[str, str] = {
    "party_organizations": "{city}党组织基本信息表（{year}年）",
    "service_purchase_projects": "{city}政府购买社区服务项目汇总表（{year}年）",
    "community_needs": "{city}城乡社区“服务、需求、项目”三张清单（{year}年）",
}


def write_feed(layout: FeedLayout, path: Path, rows: Iterable[list[Any]], world: World) -> Path:
    """Write rows in the file format and encoding the feed's contract names."""
    if layout.format == "csv":
        return write_csv(path, layout.headers, rows, layout.encoding)
    if layout.format == "jsonl":
        return write_jsonl(path, layout.headers, rows)
    if layout.format == "xlsx":
        template = _TITLES.get(layout.feed_id)
        title = template.format(city=world.city.name, year=world.t.year) if template else None
        return write_xlsx(path, layout.headers, rows, title=title)
    raise ValueError(f"{layout.feed_id}: unsupported format {layout.format!r}")


def generate_sample(
    out_dir: Path, scale: int = 1, seed: int = 2021, feeds: list[str] | None = None
) -> dict[str, Path]:
    """Write ``<feed_id>.<ext>`` for each feed (all by default) into ``out_dir``; return feed_id → path."""
    if scale < 1:
        raise ValueError("scale must be >= 1")
    wanted = list(FEEDS) if feeds is None else list(feeds)
    unknown = sorted(set(wanted) - set(FEEDS))
    if unknown:
        raise ValueError(f"unknown feed(s): {', '.join(unknown)}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    world = World(seed)
    written: dict[str, Path] = {}
    for feed_id in wanted:
        layout = load_layout(feed_id)
        path = out_dir / f"{feed_id}.{layout.extension}"
        written[feed_id] = write_feed(layout, path, FEEDS[feed_id](world, scale), world)
    return written


def write_service_transactions(path: Path, rows: int, seed: int = 2021) -> Path:
    """Stream ``rows`` service transactions to ``path`` (the large-file benchmark)."""
    world = World(seed)
    layout = load_layout("service_transactions")
    return write_feed(layout, Path(path), events.service_transactions(world, rows), world)
