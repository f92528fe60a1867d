"""Start the candidate schema from the published state of the incremental marts.

The pipeline drops the candidate schema before each build; dbt's incremental models
(event facts keyed on the batch high-water mark) would then rebuild from scratch every
time. Call this after the drop and before `dbt build`: it copies each published
incremental table into the candidate, so dbt only merges batches newer than the
published high-water mark. A model that is not published yet (first build, or a new
model) is simply left to dbt, which builds it in full.

A partial build does not copy the facts that can be applied in place (`in_place_facts`:
incremental, one unique key column, rows stamped with their batch): the candidate gets an
empty table of the same columns (the delta table), dbt merges the new rows into it (its
high-water mark read from the published table, macros/in_place.sql) and the swap applies
it to the published table (warehouse/publish.py). Cost ~ delta instead of ~ history.
"""
from __future__ import annotations

import re
from pathlib import Path

import psycopg
from psycopg import sql

from warehouse.build import DBT_PROJECT
from warehouse.publish import PARTITION_SCHEMA, InPlace

__all__ = ["PARTITION_SCHEMA", "InPlace", "in_place_facts", "incremental_models", "prepare_in_place",
           "seed_candidate_from_published"]

_INCREMENTAL = re.compile(r"materialized\s*=\s*['\"]incremental['\"]")
_UNIQUE_KEY = re.compile(r"unique_key\s*=\s*['\"](\w+)['\"]")
_MERGE = re.compile(r"incremental_strategy\s*=\s*['\"]merge['\"]")
_MONTH = re.compile(r"['\"]partition_by_month['\"]\s*:\s*['\"](\w+)['\"]")
BATCH_COLUMN = "source_batch_id"  # the batch each fact row came from (warehouse/checks.py)


def incremental_models(models_dir: Path = DBT_PROJECT / "models" / "marts") -> list[str]:
    """Marts whose SQL configures `materialized='incremental'` (sorted model names)."""
    return sorted(path.stem for path in models_dir.rglob("*.sql") if _INCREMENTAL.search(path.read_text("utf-8")))


def in_place_facts(conn: psycopg.Connection, models: list[str], published: str = "marts",
                   models_dir: Path = DBT_PROJECT / "models" / "marts") -> list[InPlace]:
    """Of `models`, the incremental marts that qualify for in-place application.

    A model qualifies when its config merges on one unique key column (incremental_strategy
    'merge': one row per key, so the delta's keys name exactly the published rows it replaces;
    a delete+insert model such as the case parties has several rows per key, and a key whose
    rows all went away leaves nothing in a delta: it is seeded by copy instead) and its published table
    exists and stamps every row with the batch it came from (BATCH_COLUMN): then the delta
    of a build is exactly its rows of new batches, merged on that key.
    """
    found = []
    for path in sorted(models_dir.rglob("*.sql")):
        if path.stem not in models:
            continue
        text = path.read_text("utf-8")
        key = _UNIQUE_KEY.search(text)
        if not (_INCREMENTAL.search(text) and key and _MERGE.search(text)):
            continue
        month = _MONTH.search(text)
        columns = {r[0] for r in conn.execute(
            "select attname from pg_attribute where attrelid = to_regclass(%s) and attnum > 0 "
            "and not attisdropped", (f"{published}.{path.stem}",))}
        if BATCH_COLUMN in columns and key.group(1) in columns and (month is None or month.group(1) in columns):
            found.append(InPlace(path.stem, key.group(1), month.group(1) if month else None))
    return found


def prepare_in_place(conn: psycopg.Connection, candidate: str, publication_id: int, facts: list[InPlace],
                     published: str = "marts") -> None:
    """An empty delta table per fact in `candidate` (columns, defaults, not-null and check
    constraints of the published table, not partitioned, primary key on the unique key),
    recorded in audit.publication_in_place so that dbt's macros know it is a delta table."""
    with conn.transaction():
        conn.execute(sql.SQL("create schema if not exists {}").format(sql.Identifier(candidate)))
        for fact in facts:
            target = sql.Identifier(candidate, fact.mart)
            conn.execute(sql.SQL("create table {} (like {} including defaults including constraints "
                                 "including comments)").format(target, sql.Identifier(published, fact.mart)))
            conn.execute(sql.SQL("alter table {} add constraint {} primary key ({})").format(
                target, sql.Identifier(f"{fact.mart}__delta_pkey"), sql.Identifier(fact.key)))
            conn.execute(
                "insert into audit.publication_in_place (publication_id, mart, key_column, month_column, "
                "candidate_oid) values (%s, %s, %s, %s, %s::regclass::oid)",
                (publication_id, fact.mart, fact.key, fact.month, f"{candidate}.{fact.mart}"))


def seed_candidate_from_published(conn: psycopg.Connection, candidate: str, published: str = "marts",
                                  models: list[str] | None = None) -> list[str]:
    """Copy the published incremental tables into `candidate`; returns the tables copied.

    Structure (columns, not-null and primary-key constraints, indexes, comments) and rows
    are copied in one transaction; dbt then runs those models incrementally. Indexes are
    built after the rows are in (one sort per index instead of maintaining each index row
    by row: the copy is the part of an incremental publication that grows with history).
    A partitioned fact (monthly, docs/scale_plan.md) is copied as a partitioned parent with
    the same partition bounds, its partitions in `marts_partitions` named after the new parent.
    Call it with the candidate dropped (or at least without these tables in it).
    """
    copied: list[str] = []
    with conn.transaction():
        conn.execute(sql.SQL("create schema if not exists {}").format(sql.Identifier(candidate)))
        for model in models if models is not None else incremental_models():
            source = f"{published}.{model}"
            if not conn.execute("select to_regclass(%s) is not null", (source,)).fetchone()[0]:
                continue
            target = sql.Identifier(candidate, model)
            partition_key = conn.execute("select pg_get_partkeydef(%s::regclass)", (source,)).fetchone()[0]
            conn.execute(sql.SQL("create table {} (like {} including all excluding indexes){}").format(
                target, sql.Identifier(published, model),
                sql.SQL(" partition by {}").format(sql.SQL(partition_key)) if partition_key else sql.SQL("")))
            if partition_key:
                _copy_partitions(conn, source, candidate, model)
            conn.execute(sql.SQL("insert into {} select * from {}").format(target, sql.Identifier(published, model)))
            _copy_indexes(conn, source, candidate, model)
            comment = conn.execute("select obj_description(%s::regclass, 'pg_class')", (source,)).fetchone()[0]
            if comment:
                conn.execute(sql.SQL("comment on table {} is {}").format(target, sql.Literal(comment)))
            copied.append(model)
    return copied


def _copy_indexes(conn: psycopg.Connection, source: str, candidate: str, table: str) -> None:
    """The source table's primary key and other indexes, under the same names, on `candidate`.`table`."""
    target = sql.Identifier(candidate, table)
    for name, definition in conn.execute(
            "select conname, pg_get_constraintdef(oid) from pg_constraint where conrelid = %s::regclass "
            "and contype in ('p', 'u') order by conname", (source,)).fetchall():
        conn.execute(sql.SQL("alter table {} add constraint {} {}").format(
            target, sql.Identifier(name), sql.SQL(definition)))
    for name, unique, method_and_columns in conn.execute(
            "select c.relname, i.indisunique, substring(pg_get_indexdef(i.indexrelid) from ' USING .*$') "
            "from pg_index as i join pg_class as c on c.oid = i.indexrelid where i.indrelid = %s::regclass "
            "and not exists (select 1 from pg_constraint as k where k.conindid = i.indexrelid) "
            "order by c.relname", (source,)).fetchall():
        conn.execute(sql.SQL("create {}index {} on {}{}").format(
            sql.SQL("unique ") if unique else sql.SQL(""), sql.Identifier(name), target, sql.SQL(method_and_columns)))


def _copy_partitions(conn: psycopg.Connection, source: str, candidate: str, table: str) -> None:
    """The source parent's partitions (same bounds) for `candidate`.`table`, named <table>_<month>_<new parent oid>."""
    parent_oid = conn.execute("select %s::regclass::oid", (f"{candidate}.{table}",)).fetchone()[0]
    for name, bound in conn.execute(
            "select c.relname, pg_get_expr(c.relpartbound, c.oid) from pg_inherits as i "
            "join pg_class as c on c.oid = i.inhrelid where i.inhparent = %s::regclass order by 1",
            (source,)).fetchall():
        month = name.removeprefix(f"{table}_").rsplit("_", 1)[0]
        conn.execute(sql.SQL("create table {} partition of {} {}").format(
            sql.Identifier(PARTITION_SCHEMA, f"{table}_{month}_{parent_oid}"), sql.Identifier(candidate, table),
            sql.SQL(bound)))
