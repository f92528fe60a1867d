"""What every column type's rule is made of, and the helpers the rules share."""
from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from ingestion.errors import ValueRejected
from ingestion.registry import ColumnSpec

FastPath = Callable[[str], "str | None"]
Check = Callable[[str], bool]
VectorCheck = Callable[[Any], Any]  # polars Series of canonical field texts -> numpy bool array (True: passes)

DATE_MIN, DATE_MAX = dt.date(1900, 1, 1), dt.date(2099, 12, 31)
WHITESPACE = "\u3000\u00a0\ufeff \t\r\n"
_NEEDS_ESCAPE = re.compile(r"[\\\t\n\r]")


@dataclass(frozen=True)
class TypeRule:
    """One column type, all in one place, so the three load paths can never disagree.

    parse:  value as received → typed value, or ValueRejected / ValueWarning (the general path)
    format: typed value → PostgreSQL COPY text
    fast:   column → a function taking a canonical str straight to COPY text, None for anything else
    line:   column → (regex of a canonical CSV field, check the regex cannot do), or None when
            the type needs a conversion and so has no whole-line path
    vector: column → `line`'s check on a whole block of fields at once (polars Series in, numpy
            bools out; vector.py), or None: the check then runs per value on the block
    """
    parse: Callable[[Any, ColumnSpec], Any]
    format: Callable[[Any], str]
    fast: Callable[[ColumnSpec], FastPath]
    line: Callable[[ColumnSpec], tuple[str, Check | None] | None]
    vector: Callable[[ColumnSpec], VectorCheck | None] = lambda col: None


def reject(rule: str, reason: str, reason_zh: str) -> ValueRejected:
    return ValueRejected(rule, reason, reason_zh)


def clean_text(value: Any) -> str | None:
    """Strip ordinary and full-width spaces; empty means missing."""
    if value is None:
        return None
    text = str(value).strip(WHITESPACE)
    return text or None


def nfkc(value: Any) -> str | None:
    text = clean_text(value)
    return None if text is None else unicodedata.normalize("NFKC", text).strip()


def code_text(value: Any) -> str:
    """A code as typed: full-width characters folded, stray spaces inside removed (5114 02 → 511402)."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # Excel stores codes typed as numbers as floats
    return "".join((nfkc(value) or "").split())


def copy_escape(text: str) -> str:
    """Escape text for COPY's text format (backslash, tab, newline, carriage return)."""
    if _NEEDS_ESCAPE.search(text) is None:
        return text
    return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


@lru_cache(maxsize=1)
def valid_iso_dates() -> frozenset[str]:
    """Every date in the accepted range as YYYY-MM-DD: one set lookup validates a date."""
    days = (DATE_MAX - DATE_MIN).days + 1
    return frozenset((DATE_MIN + dt.timedelta(days=n)).isoformat() for n in range(days))


@lru_cache(maxsize=8)
def identity_map(values: frozenset[str]) -> dict[str, str]:
    return {value: value for value in values}


def fixed_width(values: Any, width: int) -> tuple[Any, Any]:
    """(mask of values exactly `width` bytes long, their bytes as a rows × width uint8 matrix).

    For vector checks on codes: one numpy gather instead of string slicing per character.
    """
    import numpy as np
    import polars as pl

    array = values.fill_null("").to_arrow(compat_level=pl.CompatLevel.oldest())
    offsets = np.frombuffer(array.buffers()[1], dtype=np.int64)[array.offset:array.offset + len(array) + 1]
    data = np.frombuffer(array.buffers()[2], dtype=np.uint8)
    mask = np.diff(offsets) == width
    return mask, data[offsets[:-1][mask, None] + np.arange(width)]


def no_fast(col: ColumnSpec) -> FastPath:
    return lambda value: None


def no_line(col: ColumnSpec) -> None:
    return None
