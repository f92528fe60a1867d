"""Validated values as PostgreSQL COPY text, with a fast path for canonical values.

Most values in a large feed are already written the canonical way (2021-03-05,
12.50, an 18-digit ID). For those one dictionary lookup or one anchored ASCII regex
proves the value valid, and its text goes to COPY unchanged; everything else takes
the general parser, which normalises what people type or rejects it. Both paths give
the same stored value: the fast path only accepts values the general parser would
return unchanged. Both come from the type's rule in `ingestion/coltypes/`. This is
where ingestion gets near raw COPY speed.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ingestion.coltypes import RULES
from ingestion.coltypes.base import FastPath, copy_escape, reject
from ingestion.coltypes.codes import id_check_ok
from ingestion.coltypes.structured import json_text
from ingestion.errors import ValueRejected
from ingestion.registry import ColumnSpec
from ingestion.validate import PARSERS, is_missing

__all__ = ["NULL", "FORMATTERS", "Encoder", "column_encoder", "copy_escape", "fast_path", "id_check_ok",
           "json_text", "required_error"]

NULL = "\\N"
Encoder = Callable[[Any], str]
FORMATTERS: dict[str, Callable[[Any], str]] = {name: rule.format for name, rule in RULES.items()}


def fast_path(col: ColumnSpec) -> FastPath:
    """str -> COPY text for a canonical value, None for anything else (then use the encoder)."""
    return RULES[col.type].fast(col)


def column_encoder(col: ColumnSpec) -> Encoder:
    """value as received -> COPY text; raises ValueRejected (bad) or ValueWarning (accepted, noted)."""
    fast = fast_path(col)
    parse = PARSERS[col.type]
    formatter = FORMATTERS[col.type]
    required = col.required

    def encode(value: Any) -> str:
        if value.__class__ is str:
            text = fast(value)
            if text is not None:
                return text
        if is_missing(value):
            if required:
                raise required_error(col)
            return NULL
        return formatter(parse(value, col))

    return encode


def required_error(col: ColumnSpec) -> ValueRejected:
    return reject("required", f"{col.header} ({col.name}) is required", f"{col.header} 为必填项")
