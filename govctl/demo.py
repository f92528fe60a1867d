"""`make demo`: the whole pipeline once on the Meishan sample, with a readable summary.

Generates the sample feeds into the landing zone, takes every waiting file, builds,
gates and publishes, then prints rows per mart, checks, the report path and the DSN.
Run it twice: the second run recognises the same files and publishes nothing new.
"""
from __future__ import annotations

import shutil
import tempfile
import time
import uuid
from pathlib import Path

from psycopg import sql

from infra.local_pg import use_local_unless_configured
from ingestion.intake import ingest_pending
from ingestion.registry import feed_ids
from warehouse.db import connect
from warehouse.publication import build_and_publish
from warehouse.report import format_phases
from warehouse.settings import get_settings


def _step(message: str) -> float:
    print(f"==> {message}", flush=True)
    return time.perf_counter()


def stage_sample(landing: Path, feeds: list[str]) -> list[Path]:
    """Write the sample into the landing zone the way a department would (rename = atomic)."""
    from ingestion.generate import generate_sample

    staged = []
    with tempfile.TemporaryDirectory() as tmp:
        for feed, path in generate_sample(Path(tmp), feeds=feeds).items():
            target = landing / feed / path.name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(str(path), target.with_name(f".{path.name}.part"))
            target.with_name(f".{path.name}.part").rename(target)
            staged.append(target)
    return staged


def run_demo() -> int:
    t = _step("starting the local warehouse")
    dsn = use_local_unless_configured()
    settings = get_settings()
    print(f"    {dsn} ({time.perf_counter() - t:.1f}s)")

    t = _step("generating the Meishan sample feeds into the landing zone")
    staged = stage_sample(settings.landing_dir, feed_ids())
    print(f"    {len(staged)} files in {settings.landing_dir} ({time.perf_counter() - t:.1f}s)")

    t = _step("ingesting every waiting file")
    rejected = 0
    for feed in feed_ids():
        for s in ingest_pending(feed):
            rejected += s["status"] == "rejected"
            print(f"    {feed:28} {s['status']:9} in={s['rows_in']:>7} loaded={s['rows_loaded']:>7} "
                  f"rejected={s['rows_rejected']:>5}  batch {s['batch_id']}  {s['seconds']:.1f}s")
    print(f"    ({time.perf_counter() - t:.1f}s)")

    t = _step("dbt build → quality gate → publish")
    result = build_and_publish(f"demo-{uuid.uuid4().hex[:8]}")
    print(f"    outcome: {result['outcome']}  {result.get('message', '')} ({time.perf_counter() - t:.1f}s)")
    if result["outcome"] != "nothing_to_do":
        print(f"    checks passed: {result['checks_passed']}/{result['checks_total']}")
        print(f"    phases: {format_phases(result.get('phase_seconds'))}")
        print(f"    report: {result['report_path']}")
        print(f"    all reports (make reports): {settings.reports_dir / 'index.html'}")
    for check in result.get("failed_checks", []):
        print(f"    FAILED {check['source']} {check['name']}: {(check['message'] or '')[:200]}")

    print_published(dsn)
    print(f"\nDSN (psql \"$(make -s dsn)\"): {dsn}")
    return 1 if result["outcome"] == "blocked" or rejected else 0


def print_published(dsn: str) -> None:
    with connect(dsn) as conn:
        tables = [r[0] for r in conn.execute(
            "select table_name from information_schema.tables where table_schema = 'marts' order by 1")]
        print("\npublished marts (rows):")
        for table in tables:
            count = conn.execute(sql.SQL("select count(*) from {}").format(sql.Identifier("marts", table))).fetchone()
            print(f"    marts.{table:40} {count[0]:>9}")
        if "governance_kpis" in tables:
            print("\nmarts.governance_kpis:")
            for code, name, value in conn.execute(
                    "select kpi_code, kpi_name_zh, kpi_value from marts.governance_kpis order by sort_order"):
                print(f"    {code:40} {value:>12}  {name}")
        last = conn.execute("select publication_id, outcome, finished_at, report_path from audit.publications "
                            "where outcome = 'published' order by publication_id desc limit 1").fetchone()
        if last:
            print(f"\nlast publication: #{last[0]} {last[1]} at {last[2]:%Y-%m-%d %H:%M:%S}  report {last[3]}")
