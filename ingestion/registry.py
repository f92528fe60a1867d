"""The feed registry: one strictly validated YAML contract per feed in `specs/`.

A new feed is a new spec file (plus its dbt models), never new Python. A typo in a
spec (an unknown key, an unknown type, a key column that does not exist) is an error
when the registry loads, not a silent default.
"""
from __future__ import annotations

import unicodedata
from functools import lru_cache
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

SPEC_DIR = Path(__file__).parent / "specs"

ColumnType = Literal[
    "text", "integer", "decimal", "date", "timestamp", "boolean",
    "division_code", "uscc", "id_number", "phone", "list", "json",
]

PG_TYPES: dict[str, str] = {
    "text": "text",
    "integer": "bigint",
    "decimal": "numeric(18, 2)",
    "date": "date",
    "timestamp": "timestamptz",
    "boolean": "boolean",
    "division_code": "text",
    "uscc": "text",
    "id_number": "text",
    "phone": "text",
    "list": "text[]",
    "json": "jsonb",
}


class SpecError(ValueError):
    """A feed contract is malformed; the message names the spec file and the field."""


def normalize_header(header: str) -> str:
    """Headers as people type them: full-width brackets, stray spaces, NBSP."""
    return "".join(unicodedata.normalize("NFKC", header).split())


class ColumnSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    header: str
    aliases: tuple[str, ...] = ()
    type: ColumnType
    required: bool = False
    enum: tuple[str, ...] | None = None
    min: float | None = None
    max: float | None = None
    separator: str | None = None
    pii: bool = False
    parent_of: str | None = None
    description: str | None = None

    @property
    def pg_type(self) -> str:
        return PG_TYPES[self.type]

    def header_names(self) -> set[str]:
        return {normalize_header(h) for h in (self.header, self.name, *self.aliases)}

    @model_validator(mode="after")
    def _separator_only_for_lists(self) -> ColumnSpec:
        if self.type == "list" and not self.separator:
            raise ValueError(f"column {self.name}: type list needs a separator")
        if self.type != "list" and self.separator:
            raise ValueError(f"column {self.name}: separator is only for type list")
        return self


class ReconcileSpec(BaseModel):
    """The mart every distinct key of the feed must reach (one row per key): a gate check."""
    model_config = ConfigDict(extra="forbid", frozen=True)

    mart: str = Field(pattern=r"^[a-z][a-z0-9_]*$")


class FeedSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    feed_id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    department: str
    # The dbt source of the feed's department: sources file and staging models live in
    # dbt_project/models/staging/<dbt_source>/ (`python -m ingestion dbt-sources` writes the file).
    dbt_source: str | None = Field(default=None, pattern=r"^[a-z][a-z0-9_]*$")
    # A feed with no batch for longer than this is stale: a warning in the publication report.
    stale_after_days: int = Field(default=35, ge=1)
    reconcile: ReconcileSpec | None = None
    title: str
    format: Literal["xlsx", "csv", "jsonl"]
    encoding: Literal["utf-8", "utf-8-sig", "gb18030"] | None = None
    sheet: str | None = None
    key: tuple[str, ...]
    columns: tuple[ColumnSpec, ...]

    @model_validator(mode="after")
    def _consistent(self) -> FeedSpec:
        names = [c.name for c in self.columns]
        if len(set(names)) != len(names):
            raise ValueError("duplicate column names")
        for key in self.key:
            if key not in names:
                raise ValueError(f"key column {key!r} is not a column")
        for col in self.columns:
            if col.parent_of and col.parent_of not in names:
                raise ValueError(f"column {col.name}: parent_of {col.parent_of!r} is not a column")
        if self.format == "csv" and not self.encoding:
            raise ValueError("csv feeds must name their encoding")
        if self.format != "csv" and self.encoding:
            raise ValueError("encoding is only for csv feeds")
        if self.format != "xlsx" and self.sheet:
            raise ValueError("sheet is only for xlsx feeds")
        return self

    @property
    def raw_table(self) -> str:
        return f"raw.{self.feed_id}"

    def column(self, name: str) -> ColumnSpec:
        return next(c for c in self.columns if c.name == name)


def load_spec(path: Path) -> FeedSpec:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        spec = FeedSpec.model_validate(data)
    except (yaml.YAMLError, ValidationError) as exc:
        raise SpecError(f"feed spec {path.name} is invalid: {exc}") from exc
    if spec.feed_id != path.stem:
        raise SpecError(f"feed spec {path.name}: feed_id {spec.feed_id!r} must match the file name")
    return spec


@lru_cache(maxsize=4)
def load_registry(spec_dir: Path = SPEC_DIR) -> dict[str, FeedSpec]:
    return {spec.feed_id: spec for spec in map(load_spec, sorted(spec_dir.glob("*.yml")))}


def feed_ids() -> list[str]:
    return sorted(load_registry())


def get_spec(feed_id: str) -> FeedSpec:
    registry = load_registry()
    if feed_id not in registry:
        raise SpecError(f"unknown feed {feed_id!r}; known feeds: {', '.join(sorted(registry))}")
    return registry[feed_id]
