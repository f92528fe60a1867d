"""Types `list` (separated values, each checked against the enum) and `json` (nested structures)."""
from __future__ import annotations

import datetime as dt
import json
import unicodedata
from typing import Any

from psycopg.types.json import Jsonb

from ingestion.coltypes.base import TypeRule, clean_text, copy_escape, no_fast, no_line, reject
from ingestion.coltypes.text import parse_enum
from ingestion.registry import ColumnSpec


def parse_list(value: Any, col: ColumnSpec) -> list[str]:
    if isinstance(value, list):
        items = [clean_text(v) for v in value]
    else:
        text = unicodedata.normalize("NFKC", clean_text(value) or "")
        separators = {col.separator or ";", "；", "、", ";"}
        for sep in separators:
            text = text.replace(sep, "\x1f")
        items = [clean_text(part) for part in text.split("\x1f")]
    values = [item for item in items if item]
    return [parse_enum(item, col) for item in values] if col.enum else values


def parse_json(value: Any, col: ColumnSpec | None = None) -> Any:
    """Nested JSON (parties, escalations) is kept as a structure for a jsonb column."""
    if isinstance(value, (list, dict)):
        return Jsonb(value)
    try:
        return Jsonb(json.loads(str(value)))
    except json.JSONDecodeError as exc:
        raise reject("json", f"not valid JSON: {exc.msg}", "不是有效的 JSON") from exc


def json_text(value: Any) -> str:
    """A structure as jsonb COPY text: Chinese kept readable, dates as ISO strings."""
    return copy_escape(json.dumps(value, ensure_ascii=False, default=_json_default))


def _json_default(value: Any) -> str:
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    return str(value)


def array_text(items: list[str]) -> str:
    quoted = ('"' + item.replace("\\", "\\\\").replace('"', '\\"') + '"' for item in items)
    return copy_escape("{" + ",".join(quoted) + "}")


LIST = TypeRule(parse=parse_list, format=array_text, fast=no_fast, line=no_line)
JSON = TypeRule(parse=parse_json, format=lambda value: json_text(getattr(value, "obj", value)), fast=no_fast,
                line=no_line)
