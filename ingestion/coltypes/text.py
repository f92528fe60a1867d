"""Type `text` (with or without an enum): free text, or one of a list of values."""
from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from typing import Any

from ingestion.coltypes.base import WHITESPACE, FastPath, TypeRule, clean_text, copy_escape, reject
from ingestion.registry import ColumnSpec

LINE_TEXT = r'[^,"\\\s\ufeff](?:[^,"\\\t\r\n]*[^,"\\\s\ufeff])?'


def parse_enum(text: str, col: ColumnSpec) -> str:
    allowed = _enum_lookup(col.enum or ())
    canonical = allowed.get(unicodedata.normalize("NFKC", text))
    if canonical is None:
        raise reject("enum", f"{text!r} is not one of {', '.join(col.enum or ())}",
                     f"{text!r} 不在允许值内：{'、'.join(col.enum or ())}")
    return canonical


@lru_cache(maxsize=256)
def _enum_lookup(values: tuple[str, ...]) -> dict[str, str]:
    return {unicodedata.normalize("NFKC", v): v for v in values}


def parse_text(value: Any, col: ColumnSpec) -> str:
    text = clean_text(value) or ""
    if isinstance(value, float) and value.is_integer():
        text = str(int(value))  # Excel turns codes like 511402 into 511402.0
    return parse_enum(text, col) if col.enum else text


def fast_text(col: ColumnSpec) -> FastPath:
    if col.enum:
        exact = {value: copy_escape(value) for value in col.enum}
        return exact.get

    def fast(value: str) -> str | None:
        if value and value == value.strip(WHITESPACE):
            return copy_escape(value)
        return None

    return fast


def line_text(col: ColumnSpec) -> tuple[str, None] | None:
    if not col.enum:
        return LINE_TEXT, None
    if any(copy_escape(v) != v or re.search(r'[,"\s]', v) for v in col.enum):
        return None
    return "(?:" + "|".join(map(re.escape, sorted(col.enum, key=len, reverse=True))) + ")", None


TEXT = TypeRule(parse=parse_text, format=copy_escape, fast=fast_text, line=line_text)
