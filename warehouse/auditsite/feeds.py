"""What the report site needs to know about each feed: department, title, which fields are personal.

Read from the dbt sources (`dbt_project/models/staging/*/_*__sources.yml`), which
`python -m ingestion dbt-sources` generates from the feed specs and checks (`--check`): the
warehouse may not import ingestion (import layers), so it reads the contract where dbt reads
it, one source instead of a second reader of the specs. A column with meta `pii: true`
names its headers. Original values are shown only for fields known not to be personal;
everything else is masked, and values that look like an ID number or a mobile phone are
masked wherever they appear.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from warehouse.build import DBT_PROJECT

STAGING_DIR = DBT_PROJECT / "models" / "staging"
MASK = "＊＊＊"
_ID_NUMBER = re.compile(r"(?<!\d)\d{17}[\dXx](?!\d)")
_QUOTED = re.compile(r"'[^']*'")
_MOBILE = re.compile(r"(?<!\d)(1[3-9]\d)\d{4}(\d{4})(?!\d)")


def normalize(header: str) -> str:
    """Headers as the loader matches them (NFKC, no whitespace)."""
    return "".join(unicodedata.normalize("NFKC", header).split())


@dataclass(frozen=True)
class Feed:
    feed_id: str
    department: str
    title: str
    pii_fields: frozenset[str] = field(default_factory=frozenset)  # normalized names, headers and aliases


@lru_cache(maxsize=4)
def feed_catalogue(staging_dir: Path = STAGING_DIR) -> dict[str, Feed]:
    feeds = {}
    for path in sorted(staging_dir.glob("*/_*__sources.yml")):
        for source in yaml.safe_load(path.read_text(encoding="utf-8")).get("sources", []):
            for table in source.get("tables", []):
                meta = (table.get("config") or {}).get("meta") or {}
                pii = {normalize(str(name)) for column in table.get("columns", [])
                       if _column_meta(column).get("pii")
                       for name in (column["name"], *_column_meta(column).get("headers", ()))}
                feed_id = meta.get("feed_id", table["name"])
                feeds[feed_id] = Feed(feed_id, meta.get("department", ""), meta.get("title", ""), frozenset(pii))
    return feeds


def _column_meta(column: dict) -> dict:
    return {**(column.get("meta") or {}), **((column.get("config") or {}).get("meta") or {})}


def masked_values(feed_id: str, values: dict[str, Any] | None) -> dict[str, str]:
    """A rejected row's original values fit to print: personal fields masked, unknown feeds masked whole."""
    if not values:
        return {}
    feed = feed_catalogue().get(feed_id)
    return {key: MASK if feed is None or normalize(key) in feed.pii_fields else mask_patterns(value)
            for key, value in values.items()}


def masked_reason(feed_id: str, column: str | None, reason: str | None) -> str:
    """A reason quotes the refused value ('…'): quoted values of personal fields are masked too."""
    feed = feed_catalogue().get(feed_id)
    text = reason or ""
    if feed is None or column is None or normalize(column) in feed.pii_fields:
        text = _QUOTED.sub(f"'{MASK}'", text)
    return mask_patterns(text)


def mask_patterns(value: Any) -> str:
    """Second line of defence: ID numbers and mobile numbers never print, whatever field they are in."""
    text = "" if value is None else str(value)
    text = _ID_NUMBER.sub(MASK, text)
    return _MOBILE.sub(r"*******\2", text)
