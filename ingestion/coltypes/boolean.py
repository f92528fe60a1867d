"""Type `boolean`: 是/否 and the usual spellings, stored as t/f."""
from __future__ import annotations

from typing import Any

from ingestion.coltypes.base import FastPath, TypeRule, nfkc, no_line, reject
from ingestion.registry import ColumnSpec

TRUE_WORDS = {"是", "y", "yes", "true", "1", "t", "有"}
FALSE_WORDS = {"否", "n", "no", "false", "0", "f", "无"}


def parse_boolean(value: Any, col: ColumnSpec | None = None) -> bool:
    if isinstance(value, bool):
        return value
    text = (nfkc(value) or "").lower()
    if text in TRUE_WORDS:
        return True
    if text in FALSE_WORDS:
        return False
    raise reject("boolean", f"{value!r} is not 是/否", f"{value!r} 应为 是/否")


def fast_boolean(col: ColumnSpec) -> FastPath:
    words = {word: "t" for word in TRUE_WORDS} | {word: "f" for word in FALSE_WORDS}
    return words.get


# No whole-line path: a CSV field 是 must become t, a conversion the line regex cannot do.
BOOLEAN = TypeRule(parse=parse_boolean, format=lambda value: "t" if value else "f", fast=fast_boolean, line=no_line)
