"""Ingestion speed against the floor: psql \\copy of the same CSV into typed columns with a key.

The file is generated first (service_transactions, `write_service_transactions`), then
(a) `psql \\copy` into a table with the feed's column types and its key as primary key,
(b) `python -m ingestion load` of the same file, the command users and tasks run (a fresh
process: imports, validation, rejects, audit, the deferred count check and exit included),
whose peak RSS is read from its rusage, with the vector engine and (c) with the per-line
path (INGEST_ENGINE=lines) for comparison.
`--memory` loads a ~1 GB file (`--memory-mb`) to show that peak RSS stays flat.
"""
from __future__ import annotations

import json
import os
import statistics
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


def _load_in_child(context: BenchContext, path: Path, engine: str = "vector",
                   copy_format: str = "binary") -> tuple[dict, float, float]:
    """(summary, wall seconds, peak RSS in MB) of `python -m ingestion load` (INGEST_ENGINE=engine), the
    command a user or a task runs: a fresh process, its imports and its exit included.

    The summary gains `cpu_seconds`: the child's user + system CPU, all its threads.
    """
    env = {**os.environ, "WAREHOUSE_DSN": context.dsn, "INGEST_ENGINE": engine, "INGEST_COPY_FORMAT": copy_format}
    started = time.perf_counter()
    child = subprocess.Popen([sys.executable, "-m", "ingestion", "load", "service_transactions", str(path), "--json"],
                             env=env, stdout=subprocess.PIPE, text=True)
    output = child.stdout.read()
    _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - started
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        raise RuntimeError(f"load_file failed in the child process (exit {child.returncode})")
    summary = json.loads(output)
    summary["cpu_seconds"] = usage.ru_utime + usage.ru_stime
    return summary, seconds, usage.ru_maxrss / 1024  # ru_maxrss is in KiB on Linux


@benchmark
def ingestion_vs_psql_copy(context: BenchContext) -> list[Row]:
    rows = int(context.options.get("rows", 1_000_000))
    path = _generate(context, rows, seed=2021)
    # psql and the load alternate, `rounds` times, and the medians are compared: on this 2-core
    # machine one run of either varies by +-15% (checkpoints, page cache, neighbours).
    rounds = max(1, int(context.options.get("rounds") or 5))
    psql_runs, load_runs = [], []
    for round_number in range(rounds):
        psql_runs.append(_psql_copy(context, path))
        source = path if round_number == 0 else _copy_of(path, context, f"R{round_number}")
        summary, seconds, rss = _load_in_child(context, source)
        assert summary["status"] == "loaded" and summary["rows_loaded"] == rows, summary
        load_runs.append((seconds, summary, rss))
    psql_seconds = statistics.median_high(psql_runs)  # the same middle run as the load's below
    seconds, summary, rss = sorted(load_runs, key=lambda run: run[0])[len(load_runs) // 2]
    spread = (f"median of {rounds} alternating runs: psql {_spread(psql_runs)}, "
              f"load_file {_spread([run[0] for run in load_runs])}; ")
    # The per-line path on the same file, as a second batch (replay) so nothing is a duplicate.
    line_summary, line_seconds, line_rss = _load_in_child(context, _copy_of(path, context), engine="lines")
    assert line_summary["rows_loaded"] == rows, line_summary
    # The vector engine with text COPY (as before binary COPY), on a third copy of the rows.
    text_summary, text_seconds, text_rss = _load_in_child(context, _copy_of(path, context, "T"), copy_format="text")
    assert text_summary["rows_loaded"] == rows, text_summary
    mb = path.stat().st_size / 1e6
    out = [
        Row("psql \\copy (typed, primary key)", rows, psql_seconds, note=f"{mb:.0f} MB CSV, no validation"),
        Row("ingestion load_file", rows, seconds, ratio=psql_seconds / seconds, peak_rss_mb=rss,
            note=f"{spread}in-process {summary['seconds']:.2f}s, CPU {summary['cpu_seconds']:.2f}s; vector engine, binary "
                 "COPY; validation, rejects, audit, counts check"),
        Row("ingestion load_file, text COPY", rows, text_seconds, ratio=psql_seconds / text_seconds,
            peak_rss_mb=text_rss, note=f"in-process {text_summary['seconds']:.2f}s, CPU "
                                       f"{text_summary['cpu_seconds']:.2f}s; INGEST_COPY_FORMAT=text"),
        Row("ingestion load_file, per-line path", rows, line_seconds, ratio=psql_seconds / line_seconds,
            peak_rss_mb=line_rss, note=f"in-process {line_summary['seconds']:.2f}s; INGEST_ENGINE=lines"),
    ]
    if context.options.get("memory"):
        target = int(float(context.options.get("memory_mb") or 1024) * 1e6)
        big = _generate(context, max(rows, round(rows * target / path.stat().st_size)), seed=2022)
        big_summary, big_seconds, big_rss = _load_in_child(context, big)
        out.append(Row("ingestion load_file (large file)", big_summary["rows_loaded"], big_seconds,
                       peak_rss_mb=big_rss, note=f"{big.stat().st_size / 1e6:.0f} MB CSV: peak RSS goal < 500 MB"))
    return out


def _spread(runs: list[float]) -> str:
    return f"{min(runs):.2f}-{max(runs):.2f}s" if len(runs) > 1 else f"{runs[0]:.2f}s"


def _copy_of(path: Path, context: BenchContext, prefix: str = "L") -> Path:
    """The same rows with other keys (a different file), so a second load is not a duplicate."""
    copy = context.work_dir / f"{prefix}_{path.name}"
    if not copy.exists():
        with path.open(encoding="utf-8", newline="") as source, copy.open("w", encoding="utf-8", newline="") as out:
            out.write(source.readline())
            for line in source:
                out.write(prefix + line)
    return copy
