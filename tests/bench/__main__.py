"""`make bench`: run every registered benchmark against an isolated database, print the table.

    python -m tests.bench [--rows N] [--rounds N] [--memory [--memory-mb MB]] [--only NAME] [--scale 10,100] [--publication-rounds N] [--skip-latency]

The latency benchmark starts a whole local Airflow stack (a few minutes): --skip-latency leaves it out.
"""
from __future__ import annotations

import argparse
import importlib
import os
import shutil
import sys
import tempfile
import uuid
from pathlib import Path

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")

MODULES = ["tests.bench.ingestion_bench", "tests.bench.dbt_bench", "tests.bench.latency_bench"]


def main(argv: list[str] | None = None) -> int:
    import psycopg

    from tests.bench import BENCHMARKS, BenchContext, Row, format_table
    from warehouse.bootstrap import bootstrap
    from warehouse.db import with_database

    parser = argparse.ArgumentParser(prog="python -m tests.bench")
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows in the large service_transactions file")
    parser.add_argument("--rounds", type=int, default=5,
                        help="alternating runs of psql \\copy and load_file; their medians are compared")
    parser.add_argument("--memory", action="store_true",
                        help="also load a large file (--memory-mb, ~1 GB) and report its peak RSS (flat memory check)")
    parser.add_argument("--memory-mb", type=float, default=1024, help="size of the --memory file in MB")
    parser.add_argument("--only", help="run only benchmarks whose name contains this")
    parser.add_argument("--scale", default="10,100",
                        help="sample scales of the publication benchmark, comma-separated (growth: first to last)")
    parser.add_argument("--publication-rounds", type=int, default=3,
                        help="incremental publications per scale (each after its own delta); their median is reported")
    parser.add_argument("--skip-latency", action="store_true",
                        help="leave out drop->published through Airflow (it starts a whole local stack)")
    args = parser.parse_args(argv)
    for module in MODULES:
        importlib.import_module(module)

    from infra.local_pg import use_local_unless_configured

    server = use_local_unless_configured()
    name = f"gov_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f'create database "{name}"')
    dsn = with_database(server, name)
    work = Path(tempfile.mkdtemp(prefix="gov-bench-"))
    os.environ["ARCHIVE_DIR"] = str(work / "archive")
    rows: list[Row] = []
    try:
        bootstrap(dsn)
        context = BenchContext(dsn=dsn, work_dir=work,
                               options={"rows": str(args.rows), "rounds": str(args.rounds), "memory": "1" if args.memory else "",
                                        "skip_latency": "1" if args.skip_latency else "",
                                        "memory_mb": str(args.memory_mb), "scale": args.scale,
                                        "publication_rounds": str(args.publication_rounds)})
        for bench in BENCHMARKS:
            if args.only and args.only not in bench.__name__:
                continue
            print(f"==> {bench.__name__}", file=sys.stderr, flush=True)
            rows.extend(bench(context))
    finally:
        shutil.rmtree(work, ignore_errors=True)
        with psycopg.connect(server, autocommit=True) as conn:
            conn.execute(f'drop database if exists "{name}" with (force)')
    print(format_table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
