"""Build speed on `--scale 10` data: a full build vs an incremental one after a 1% delta.

Both are whole publications (`build_and_publish`: dbt build, tests, GX suites,
reconciliation, swap), as the pipeline runs them. The incremental one is a partial
build (warehouse/affected.py): only the marts downstream of the three event feeds are
rebuilt and tested, the other marts are copied from the published ones, GX runs only
their suites and `dbt snapshot` is skipped (no organisation feed changed). What is left
is mostly fixed: dbt start-up and parse (~4-5 s), GX start-up (~2 s), and the merge of
the event facts, whose staging views rank every raw row per key on each build. The
event facts alone (dbt run of the three incremental models, full refresh vs merge) are
measured after both publications.
"""
from __future__ import annotations

import csv
import json
import os
import sys
import time
from pathlib import Path

from ingestion.generate import generate_sample
from ingestion.load import load_file
from ingestion.registry import get_spec
from tests.bench import BenchContext, Row, benchmark
from warehouse.build import run_dbt
from warehouse.incremental import incremental_models
from warehouse.publication import build_and_publish

EVENT_FEEDS = ["grid_events", "mediation_cases", "service_transactions"]
SCALE = 10


def _delta_files(work: Path, fraction: float, suffix: str = "-D") -> dict[str, Path]:
    """New event batches with `fraction` of the scale-10 rows: same world (items, divisions), new keys."""
    source = generate_sample(work / "delta-source", scale=1, seed=2021, feeds=EVENT_FEEDS)
    out = {}
    for feed, path in source.items():
        spec = get_spec(feed)
        key_header = spec.column(spec.key[0]).header
        target = work / f"delta{suffix}" / path.name
        target.parent.mkdir(parents=True, exist_ok=True)
        if path.suffix == ".csv":
            with path.open(encoding=spec.encoding, newline="") as handle:
                rows = list(csv.DictReader(handle))
            keep = rows[: max(1, int(len(rows) * fraction * SCALE))]
            with target.open("w", encoding=spec.encoding, newline="") as handle:
                writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
                writer.writeheader()
                writer.writerows({**row, key_header: f"{row[key_header]}{suffix}"} for row in keep)
        else:
            records = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
            keep = records[: max(1, int(len(records) * fraction * SCALE))]
            target.write_text("".join(json.dumps({**r, key_header: f"{r[key_header]}{suffix}"}, ensure_ascii=False) + "\n"
                                      for r in keep), encoding="utf-8")
        out[feed] = target
    return out


def _timed(label: str, func):
    started = time.perf_counter()
    result = func()
    seconds = time.perf_counter() - started
    print(f"    {label}: {seconds:.1f}s", file=sys.stderr, flush=True)
    return result, seconds


@benchmark
def dbt_full_vs_incremental(context: BenchContext) -> list[Row]:
    os.environ["WAREHOUSE_DSN"] = context.dsn
    files = generate_sample(context.work_dir / "scale10", scale=SCALE, seed=2021)
    loaded = sum(load_file(feed, path, dsn=context.dsn).rows_loaded for feed, path in files.items())
    print(f"    loaded {loaded:,} rows at scale {SCALE}", file=sys.stderr, flush=True)

    full, full_seconds = _timed("full publication", lambda: build_and_publish(
        "bench-full", dsn=context.dsn, full_refresh=True))
    assert full["outcome"] == "published", full.get("failed_checks")
    delta = sum(load_file(feed, path, dsn=context.dsn).rows_loaded
                for feed, path in _delta_files(context.work_dir, 0.01).items())
    print(f"    delta: {delta:,} event rows (1% of the event feeds)", file=sys.stderr, flush=True)
    incr, incr_seconds = _timed("incremental publication", lambda: build_and_publish("bench-incr", dsn=context.dsn))
    assert incr["outcome"] == "published", incr.get("failed_checks")

    # The event facts alone, after both publications: dbt runs with other vars (candidate schema
    # marts_bench) invalidate dbt's partial parse, which a publication in production keeps warm.
    event_models = " ".join(f"+{model}" for model in incremental_models())  # with their upstream
    full_models, full_models_seconds = _timed("event facts, full refresh", lambda: run_dbt(
        ["run", "--full-refresh", "--select", event_models], context.dsn, candidate_schema="marts_bench"))
    for feed, path in _delta_files(context.work_dir, 0.01, suffix="-E").items():
        load_file(feed, path, dsn=context.dsn)
    _, incr_models_seconds = _timed("event facts, incremental merge", lambda: run_dbt(
        ["run", "--select", event_models], context.dsn, candidate_schema="marts_bench"))
    assert full_models.ok
    mode = incr["build_mode"] + (f", {len(incr['carried_over_marts'])} marts carried over"
                                 if incr["build_mode"] == "partial" else f" ({incr['build_mode_reason']})")

    return [
        Row("publication, full build (scale 10)", loaded, full_seconds,
            note=f"dbt build {full['dbt_seconds']:.1f}s; {full['checks_total']} checks"),
        Row("publication, incremental after 1% delta", delta, incr_seconds, ratio=incr_seconds / full_seconds,
            note=f"{mode}; dbt build {incr['dbt_seconds']:.1f}s; ratio = incremental / full time (goal <= 0.15)"),
        Row("event facts only, full refresh", None, full_models_seconds, note="dbt run of the 3 incremental models and their upstream"),
        Row("event facts only, incremental merge", delta, incr_models_seconds,
            ratio=incr_models_seconds / full_models_seconds, note="ratio = incremental / full time"),
    ]
