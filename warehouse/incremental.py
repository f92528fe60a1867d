"""Start the candidate schema from the published state of the incremental marts.

The pipeline drops the candidate schema before each build; dbt's incremental models
(event facts keyed on the batch high-water mark) would then rebuild from scratch every
time. Call this after the drop and before `dbt build`: it copies each published
incremental table into the candidate, so dbt only merges batches newer than the
published high-water mark. A model that is not published yet (first build, or a new
model) is simply left to dbt, which builds it in full.
"""
from __future__ import annotations

import re
from pathlib import Path

import psycopg
from psycopg import sql

from warehouse.build import DBT_PROJECT

_INCREMENTAL = re.compile(r"materialized\s*=\s*['\"]incremental['\"]")


def incremental_models(models_dir: Path = DBT_PROJECT / "models" / "marts") -> list[str]:
    """Marts whose SQL configures `materialized='incremental'` (sorted model names)."""
    return sorted(path.stem for path in models_dir.rglob("*.sql") if _INCREMENTAL.search(path.read_text("utf-8")))


def seed_candidate_from_published(conn: psycopg.Connection, candidate: str, published: str = "marts",
                                  models: list[str] | None = None) -> list[str]:
    """Copy the published incremental tables into `candidate`; returns the tables copied.

    Structure (columns, not-null and primary-key constraints, comments) and rows are
    copied in one transaction; dbt then runs those models incrementally. Call it with
    the candidate dropped (or at least without these tables in it).
    """
    copied: list[str] = []
    with conn.transaction():
        conn.execute(sql.SQL("create schema if not exists {}").format(sql.Identifier(candidate)))
        for model in models if models is not None else incremental_models():
            source = f"{published}.{model}"
            if not conn.execute("select to_regclass(%s) is not null", (source,)).fetchone()[0]:
                continue
            target = sql.Identifier(candidate, model)
            conn.execute(sql.SQL("create table {} (like {} including all)").format(
                target, sql.Identifier(published, model)))
            conn.execute(sql.SQL("insert into {} select * from {}").format(target, sql.Identifier(published, model)))
            comment = conn.execute("select obj_description(%s::regclass, 'pg_class')", (source,)).fetchone()[0]
            if comment:
                conn.execute(sql.SQL("comment on table {} is {}").format(target, sql.Literal(comment)))
            copied.append(model)
    return copied
