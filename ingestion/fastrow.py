"""Whole-line fast path for CSV files laid out exactly as their contract.

Per-value Python calls cost about a microsecond each, which is most of the time in a
large load. For a CSV whose header is the contract's columns in contract order, one
anchored regex built from the column types proves that a line holds only canonical
values (no quotes, no stray spaces, real dates, digits where digits belong); the few
checks a regex cannot do (ID check digits, division codes) run on captured groups.
Such a line becomes COPY text by swapping commas for tabs. Any line that does not
match takes the general path (csv parsing, normalisation, rejects), so the fast path
can only ever accept what the general path would store identically.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from ingestion.checksums import is_valid_uscc
from ingestion.encode import copy_escape, id_check_ok
from ingestion.read import Layout
from ingestion.registry import ColumnSpec, FeedSpec
from ingestion.validate import PROVINCE_PREFIXES, division_codes

Check = Callable[[str], bool]

_TEXT = r'[^,"\\\s\ufeff](?:[^,"\\\t\r\n]*[^,"\\\s\ufeff])?'
_LEAP_YEAR = r"(?:19(?:0[48]|[2468][048]|[13579][26])|20(?:[02468][048]|[13579][26]))"


def _date(sep: str) -> str:
    """Every real day of 1900..2099 (leap years included, 1900 excluded), nothing else."""
    month_day = (f"(?:(?:0[1-9]|1[0-2]){sep}(?:0[1-9]|1[0-9]|2[0-8])|(?:0[13-9]|1[0-2]){sep}(?:29|30)"
                 f"|(?:0[13578]|1[02]){sep}31)")
    return f"(?:(?:19|20)[0-9]{{2}}{sep}{month_day}|{_LEAP_YEAR}{sep}02{sep}29)"


_DATE = _date("-")
_TIMESTAMP = (rf"{_DATE}[T ](?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](?:\.[0-9]{{1,6}})?"
              r"(?:Z|[+-](?:0[0-9]|1[0-4]):[0-5][0-9])")  # with an explicit offset only
_UNSIGNED_INT = r"[0-9]{1,18}"
_UNSIGNED_DECIMAL = r"[0-9]{1,16}(?:\.[0-9]{1,2})?"


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
    """The regex of a canonical value of this column, plus a check the regex cannot express."""
    kind = col.type
    if kind == "text":
        if not col.enum:
            return _TEXT, None
        if any(copy_escape(v) != v or re.search(r'[,"\s]', v) for v in col.enum):
            return None
        return "(?:" + "|".join(map(re.escape, sorted(col.enum, key=len, reverse=True))) + ")", None
    if kind == "date":
        return _DATE, None
    if kind == "timestamp":
        return _TIMESTAMP, None
    if kind == "integer":
        low, high = col.min, col.max
        if (low is None or low <= 0) and high is None:
            return _UNSIGNED_INT, None
        return _UNSIGNED_INT, lambda v: (low is None or int(v) >= low) and (high is None or int(v) <= high)
    if kind == "decimal":
        low, high = col.min, col.max
        if (low is None or low <= 0) and high is None:
            return _UNSIGNED_DECIMAL, None
        return _UNSIGNED_DECIMAL, lambda v: ((low is None or Decimal(v) >= Decimal(str(low)))
                                             and (high is None or Decimal(v) <= Decimal(str(high))))
    if kind == "division_code":
        return "[0-9]{6,12}", division_codes().__contains__
    if kind == "id_number":  # province prefix, county, real birth date, sequence; then the check digit
        provinces = "|".join(sorted(PROVINCE_PREFIXES))
        return f"(?:{provinces})[0-9]{{4}}{_date('')}[0-9]{{3}}[0-9X]", id_check_ok
    if kind == "uscc":
        return "[0-9A-HJ-NPQRTUWXY]{18}", is_valid_uscc  # a check-character mismatch takes the warning path
    if kind == "phone":
        return r"1[3-9][0-9]{9}|0[0-9]{2,3}-?[0-9]{7,8}", None
    return None  # boolean (stored as t/f), list, json: need a conversion, so no whole-line path
