"""What the report site needs to know about each feed: department, title, which fields are personal.

Read from the feed contracts (`ingestion/specs/*.yml`) as data: the warehouse may not import
the ingestion package (import layers), and the report must follow the same contract that
marked a column `pii`. A test keeps this reading equal to the registry's. Original values
are shown only for fields known not to be personal; everything else is masked, and values
that look like an ID number or a mobile phone are masked wherever they appear.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from warehouse.settings import REPO_ROOT

SPEC_DIR = REPO_ROOT / "ingestion" / "specs"
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
def feed_catalogue(spec_dir: Path = SPEC_DIR) -> dict[str, Feed]:
    feeds = {}
    for path in sorted(spec_dir.glob("*.yml")):
        spec = yaml.safe_load(path.read_text(encoding="utf-8"))
        pii = {normalize(str(name)) for column in spec.get("columns", []) if column.get("pii")
               for name in (column["name"], column["header"], *column.get("aliases", ()))}
        feeds[spec["feed_id"]] = Feed(spec["feed_id"], spec.get("department", ""), spec.get("title", ""),
                                      frozenset(pii))
    return feeds


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
