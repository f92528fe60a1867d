"""dbt sources generated from the feed specs, so a feed's contract is written once.

`dbt_project/models/staging/<dbt_source>/_<dbt_source>__sources.yml` (one dbt source per
department, tables in schema `raw`) is derived from `ingestion/specs/*.yml`: column
names, PostgreSQL types and descriptions, the key (in `meta`, read by the
`latest_source_rows` macro), the reconciliation mart and the freshness threshold on
`_loaded_at`. Column meta `pii: true` with the column's headers marks personal fields, and
table meta carries the department and title: the warehouse (the report site) reads the
contract from these files, since it may not import ingestion. `python -m ingestion dbt-sources` writes the files, `--check` fails when a
committed file differs from what the specs say.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from ingestion.registry import ColumnSpec, FeedSpec, SpecError, load_registry

STAGING_DIR = Path(__file__).resolve().parent.parent / "dbt_project" / "models" / "staging"
HEADER = "# Generated from ingestion/specs/*.yml by `python -m ingestion dbt-sources`: edit the specs, not this file.\n"
PII_NOTE = " (personal information, restricted; 个人信息)"


@dataclass(frozen=True)
class SourcesFile:
    path: Path
    text: str


def sources_path(dbt_source: str, staging_dir: Path = STAGING_DIR) -> Path:
    return staging_dir / dbt_source / f"_{dbt_source}__sources.yml"


def chinese_label(col: ColumnSpec) -> str:
    """The header people read: JSON feeds use English keys, their Chinese name is an alias."""
    return next((h for h in (col.header, *col.aliases) if not h.isascii()), col.header)


def column_entry(col: ColumnSpec) -> dict:
    description = f"{col.name}; {chinese_label(col)}"
    if col.description:
        description += f" — {col.description}"
    entry: dict = {"name": col.name, "data_type": col.pg_type.replace(", ", ","), "description": description}
    if col.pii:
        entry["description"] += PII_NOTE
        entry["config"] = {"meta": {"pii": True, "headers": list(dict.fromkeys((col.header, *col.aliases)))}}
    return entry


def table_entry(spec: FeedSpec) -> dict:
    meta: dict = {"feed_id": spec.feed_id, "department": spec.department, "title": spec.title, "key": list(spec.key)}
    if spec.reconcile:
        meta["reconcile_mart"] = spec.reconcile.mart
    return {
        "name": spec.feed_id,
        "description": (f"{spec.department} — {spec.title}. Key: {', '.join(spec.key)}. Append-only; a later batch "
                        f"supersedes earlier rows with the same key. Contract: ingestion/specs/{spec.feed_id}.yml."),
        "config": {
            "freshness": {"warn_after": {"count": spec.stale_after_days, "period": "day"}},
            "meta": meta,
        },
        "columns": [column_entry(col) for col in spec.columns],
    }


def source_entry(dbt_source: str, specs: list[FeedSpec]) -> dict:
    departments = "、".join(dict.fromkeys(spec.department for spec in specs))
    return {
        "name": dbt_source,
        "description": (f"Feeds of {departments} as received: one append-only table per feed in schema raw, "
                         "typed by its contract; 原始数据"),
        "schema": "raw",
        "config": {"loaded_at_field": "_loaded_at"},
        "tables": [table_entry(spec) for spec in sorted(specs, key=lambda s: s.feed_id)],
    }


def by_source(specs: dict[str, FeedSpec]) -> dict[str, list[FeedSpec]]:
    grouped: dict[str, list[FeedSpec]] = {}
    for spec in specs.values():
        if spec.dbt_source is None:
            raise SpecError(f"feed spec {spec.feed_id}.yml: add `dbt_source: <department>` — the folder "
                            f"dbt_project/models/staging/<department>/ that holds its staging models")
        grouped.setdefault(spec.dbt_source, []).append(spec)
    return dict(sorted(grouped.items()))


def render(specs: dict[str, FeedSpec] | None = None, staging_dir: Path = STAGING_DIR) -> list[SourcesFile]:
    """Every sources file the specs call for, with its text."""
    files = []
    for dbt_source, group in by_source(specs if specs is not None else load_registry()).items():
        body = yaml.safe_dump({"version": 2, "sources": [source_entry(dbt_source, group)]},
                              allow_unicode=True, sort_keys=False, width=120, indent=2)
        files.append(SourcesFile(sources_path(dbt_source, staging_dir), HEADER + body))
    return files


def stale_files(staging_dir: Path = STAGING_DIR, specs: dict[str, FeedSpec] | None = None) -> list[str]:
    """Sources files that differ from the specs, or exist without a spec behind them."""
    wanted = render(specs, staging_dir)
    problems = [f"{f.path}: differs from the specs" if f.path.exists() else f"{f.path}: missing"
                for f in wanted if not f.path.exists() or f.path.read_text(encoding="utf-8") != f.text]
    expected = {f.path for f in wanted}
    problems += [f"{path}: no spec names dbt_source {path.parent.name!r}"
                 for path in sorted(staging_dir.glob("*/_*__sources.yml")) if path not in expected]
    return problems


def write(staging_dir: Path = STAGING_DIR, specs: dict[str, FeedSpec] | None = None) -> list[Path]:
    """Write every sources file whose text changed; returns the paths written."""
    written = []
    for file in render(specs, staging_dir):
        if not file.path.exists() or file.path.read_text(encoding="utf-8") != file.text:
            file.path.parent.mkdir(parents=True, exist_ok=True)
            file.path.write_text(file.text, encoding="utf-8")
            written.append(file.path)
    return written
