"""Turn values as people type them into typed values, or say exactly why not.

Normalise only what is unambiguous (2021/3/5, 2021年3月5日, Excel serial dates,
full-width digits, thousands separators, 是/否, stray full-width spaces); reject the rest
with a reason in English and Chinese. A wrong value is never loaded silently. How each
type is parsed is its rule in `ingestion/coltypes/`; this module applies the rules to rows.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ingestion.coltypes import RULES
from ingestion.coltypes.base import WHITESPACE, reject
from ingestion.errors import ValueRejected, ValueWarning
from ingestion.registry import ColumnSpec, FeedSpec

PARSERS: dict[str, Callable[[Any, ColumnSpec], Any]] = {name: rule.parse for name, rule in RULES.items()}


def is_missing(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip(WHITESPACE)
    if isinstance(value, list):
        return not value
    return False


class RowValidator:
    """Validates one row of a feed at a time; collects errors and warnings per column."""

    def __init__(self, spec: FeedSpec):
        self.spec = spec
        self.plan = [(col, PARSERS[col.type]) for col in spec.columns]

    def validate(self, values: dict[str, Any]) -> tuple[list[Any], list[tuple[str, ValueRejected]],
                                                       list[tuple[str, ValueWarning]]]:
        out: list[Any] = []
        errors: list[tuple[str, ValueRejected]] = []
        warnings: list[tuple[str, ValueWarning]] = []
        for col, parse in self.plan:
            raw = values.get(col.name)
            if is_missing(raw):
                if col.required:
                    errors.append((col.name, reject("required", f"{col.header} ({col.name}) is required",
                                                    f"{col.header} 为必填项")))
                out.append(None)
                continue
            try:
                out.append(parse(raw, col))
            except ValueRejected as exc:
                errors.append((col.name, exc))
                out.append(None)
            except ValueWarning as warning:
                warnings.append((col.name, warning))
                out.append(warning.value)
        return out, errors, warnings
