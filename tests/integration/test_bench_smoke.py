"""`make bench` still runs: every benchmark module imports, and the ingestion benchmark runs end to end on a
small file (the numbers of a 2,000-row file mean nothing; that it prints them does).

The benchmarks are not part of the suite (minutes, a quiet machine), so a change elsewhere could
break them unseen: a merge once left the latency benchmark calling a helper whose signature had
changed. The publication and latency benchmarks are only imported here (they take minutes).
"""
from __future__ import annotations

import importlib
import os
import subprocess
import sys
from pathlib import Path

from tests.bench.__main__ import MODULES

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_every_benchmark_module_imports_and_registers():
    from tests.bench import BENCHMARKS

    for module in MODULES:
        importlib.import_module(module)
    names = {bench.__name__ for bench in BENCHMARKS}
    assert {"ingestion_vs_psql_copy", "dbt_full_vs_incremental"} <= names, names
    assert len(names) >= len(MODULES), names


def test_ingestion_benchmark_prints_its_ratios(server_dsn):
    result = subprocess.run(
        [sys.executable, "-m", "tests.bench", "--only", "ingestion", "--rows", "2000", "--rounds", "2"],
        cwd=REPO_ROOT, env={**os.environ, "WAREHOUSE_DSN": server_dsn}, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    table = {line.split("  ")[0]: line for line in result.stdout.splitlines()}
    assert "psql \\copy (typed, primary key)" in table, result.stdout
    loaded = [line for name, line in table.items() if name.startswith("ingestion load_file")]
    assert len(loaded) >= 2 and all(" 2,000 " in line for line in loaded), result.stdout
