"""Ingestion speed against the floor: psql \\copy of the same CSV into typed columns with a key.

The file is generated first (service_transactions, `write_service_transactions`), then
(a) `psql \\copy` into a table with the feed's column types and its key as primary key,
(b) `load_file` of the same file in a child process (validation, rejects, audit and
the deferred count check included), whose peak RSS is read from its rusage.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from ingestion.generate import write_service_transactions
from ingestion.registry import get_spec
from tests.bench import BenchContext, Row, benchmark

PSQL = "/usr/bin/psql"


def _generate(context: BenchContext, rows: int, seed: int) -> Path:
    path = context.work_dir / f"service_transactions_{rows}.csv"
    if not path.exists():
        started = time.perf_counter()
        write_service_transactions(path, rows, seed)
        print(f"    generated {rows:,} rows, {path.stat().st_size / 1e6:.0f} MB in "
              f"{time.perf_counter() - started:.1f}s", file=sys.stderr, flush=True)
    return path


def _psql_copy(context: BenchContext, path: Path) -> float:
    spec = get_spec("service_transactions")
    columns = ", ".join(f"{c.name} {c.pg_type}" + (" primary key" if c.name in spec.key else "")
                        for c in spec.columns)
    subprocess.run([PSQL, context.dsn, "-qXc", f"drop table if exists bench_psql; create table bench_psql ({columns})"],
                   check=True)
    started = time.perf_counter()
    subprocess.run([PSQL, context.dsn, "-qXc", f"\\copy bench_psql from '{path}' with (format csv, header true)"],
                   check=True)
    seconds = time.perf_counter() - started
    subprocess.run([PSQL, context.dsn, "-qXc", "drop table bench_psql"], check=True)
    return seconds


def _load_in_child(context: BenchContext, path: Path) -> tuple[dict, float, float]:
    """(summary, wall seconds, peak RSS in MB) of load_file in a fresh process."""
    env = {**os.environ, "WAREHOUSE_DSN": context.dsn}
    started = time.perf_counter()
    child = subprocess.Popen([sys.executable, "-m", "tests.bench.child", "service_transactions", str(path)],
                             env=env, stdout=subprocess.PIPE, text=True)
    output = child.stdout.read()
    _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - started
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        raise RuntimeError(f"load_file failed in the child process (exit {child.returncode})")
    return json.loads(output), seconds, usage.ru_maxrss / 1024  # ru_maxrss is in KiB on Linux


@benchmark
def ingestion_vs_psql_copy(context: BenchContext) -> list[Row]:
    rows = int(context.options.get("rows", 1_000_000))
    path = _generate(context, rows, seed=2021)
    psql_seconds = _psql_copy(context, path)
    summary, seconds, rss = _load_in_child(context, path)
    assert summary["status"] == "loaded" and summary["rows_loaded"] == rows, summary
    mb = path.stat().st_size / 1e6
    out = [
        Row("psql \\copy (typed, primary key)", rows, psql_seconds, note=f"{mb:.0f} MB CSV, no validation"),
        Row("ingestion load_file", rows, seconds, ratio=psql_seconds / seconds, peak_rss_mb=rss,
            note=f"in-process {summary['seconds']:.2f}s; validation, rejects, audit, counts check"),
    ]
    if context.options.get("memory"):
        big = _generate(context, rows * 2, seed=2022)
        big_summary, big_seconds, big_rss = _load_in_child(context, big)
        out.append(Row("ingestion load_file (2x file)", big_summary["rows_loaded"], big_seconds,
                       peak_rss_mb=big_rss, note=f"{big.stat().st_size / 1e6:.0f} MB CSV: RSS should not grow"))
    return out
