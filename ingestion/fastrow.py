"""Whole-line fast path for CSV files laid out exactly as their contract.

Per-value Python calls cost about a microsecond each, which is most of the time in a
large load. For a CSV whose header is the contract's columns in contract order, one
anchored regex built from the column types proves that a line holds only canonical
values (no quotes, no stray spaces, real dates, digits where digits belong); the few
checks a regex cannot do (ID check digits, division codes) run on captured groups.
Such a line becomes COPY text by swapping commas for tabs. Any line that does not
match takes the general path (csv parsing, normalisation, rejects), so the fast path
can only ever accept what the general path would store identically. The fragments come
from the column types' rules in `ingestion/coltypes/`.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from ingestion.coltypes import RULES
from ingestion.coltypes.base import Check
from ingestion.read import Layout
from ingestion.registry import ColumnSpec, FeedSpec


@dataclass(frozen=True)
class RowMatcher:
    match: Callable[[str], re.Match[str] | None]
    checks: tuple[tuple[int, Check], ...]  # (index into match.groups(), check)
    key_groups: tuple[int, ...]


def row_matcher(spec: FeedSpec, layout: Layout) -> RowMatcher | None:
    """A matcher for lines of this file, or None when the file or a column type rules it out."""
    if layout.extra or layout.positions != tuple(range(len(spec.columns))) or layout.width != len(spec.columns):
        return None
    parts: list[str] = []
    checks: list[tuple[int, Check]] = []
    key_groups: list[int] = []
    groups = 0
    for col in spec.columns:
        fragment = _fragment(col)
        if fragment is None:
            return None
        pattern, check = fragment
        if check is not None or col.name in spec.key:
            pattern = f"({pattern})"
            if check is not None:
                checks.append((groups, check))
            if col.name in spec.key:
                key_groups.append(groups)
            groups += 1
        else:
            pattern = f"(?:{pattern})"
        parts.append(pattern if col.required else f"(?:{pattern})?")
    regex = re.compile(",".join(parts) + r"\r?\n?")
    return RowMatcher(regex.fullmatch, tuple(checks), tuple(key_groups))


def _fragment(col: ColumnSpec) -> tuple[str, Check | None] | None:
    """The regex of a canonical value of this column, plus a check the regex cannot express (the type's rule)."""
    return RULES[col.type].line(col)
