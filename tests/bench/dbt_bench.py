"""Publication speed against history: a full publication vs an incremental one after a 1% delta, per scale.

For each `--scale` (default 10,100) a fresh database gets the sample at that scale,
then a full publication (`build_and_publish(full_refresh=True)`) and, after a delta of
1% of the event feeds, an incremental one (`--publication-rounds`, default 3, each after its
own delta; the median is reported: one run varies by +-20% here), as the pipeline runs them (dbt build,
tests, GX suites, reconciliation, swap). Printed per scale: both times and their ratio
(goal <= 0.10 at scale 100); across scales: the growth factor of the incremental time
from the first scale to the last (goal <= 1.5 for 10x the history at a fixed 1% delta): at
every later scale a second incremental publication loads the very delta of the first scale
(1% of it), so the growth factor compares equal work on 10x the history; the ratio at each
scale uses a delta of 1% of that scale.

Phases are timed by wrapping the real functions the publication calls (seeding the
candidate, dbt, reconciliation, PII scan, shrink guard, GX suites, swap): nothing is
replaced, the wrappers only add up their wall time. Run it under
`flock /tmp/gov-bench.lock` on a shared machine and note `cat /proc/loadavg`.
"""
from __future__ import annotations

import csv
import functools
import json
import os
import sys
import time
from collections import defaultdict
from pathlib import Path

import psycopg

import warehouse.publication as publication
from ingestion.generate import generate_sample
from ingestion.load import load_file
from ingestion.registry import get_spec
from tests.bench import BenchContext, Row, benchmark
from warehouse.bootstrap import bootstrap
from warehouse.db import dsn_parts, with_database
from warehouse.publication import build_and_publish

EVENT_FEEDS = ["grid_events", "mediation_cases", "service_transactions"]
DELTA = 0.01
PHASES = {  # name in warehouse.publication -> phase label
    "seed_candidate_from_published": "seed candidate",
    "carry_over": "carry over marts",
    "run_dbt": "dbt (build, freshness, snapshot)",
    "reconcile": "reconcile",
    "pii_scan": "pii scan",
    "no_unexpected_shrink": "shrink guard",
    "swap_in": "swap",
    "refresh_site": "report site",
}


def _delta_files(work: Path, scale: int, fraction: float, suffix: str = "-D") -> dict[str, Path]:
    """New event batches with `fraction` of the rows at `scale`: same world (items, divisions), new keys."""
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
            keep = _repeat(rows, max(1, int(len(rows) * fraction * scale)))
            with target.open("w", encoding=spec.encoding, newline="") as handle:
                writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
                writer.writeheader()
                writer.writerows({**row, key_header: f"{row[key_header]}{suffix}{copy}"} for copy, row in keep)
        else:
            records = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
            keep = _repeat(records, max(1, int(len(records) * fraction * scale)))
            target.write_text("".join(json.dumps({**r, key_header: f"{r[key_header]}{suffix}{copy}"},
                                                 ensure_ascii=False) + "\n" for copy, r in keep), encoding="utf-8")
        out[feed] = target
    return out


def _repeat(rows: list, count: int) -> list[tuple[int, dict]]:
    """`count` rows cycling through `rows`, each with its copy number (keys stay unique)."""
    return [(i // len(rows), rows[i % len(rows)]) for i in range(count)]


class PhaseTimer:
    """Adds up the wall time of the publication's own steps (the real functions, wrapped)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self._originals: dict[str, object] = {}

    def __enter__(self) -> PhaseTimer:
        import expectations.gate as gate

        for name, label in PHASES.items():
            self._wrap(publication, name, label)
        self._wrap(gate, "run_suites", "gx suites")
        return self

    def _wrap(self, module, name: str, label: str) -> None:
        original = getattr(module, name, None)
        if original is None:  # renamed by later work: that phase is simply not broken out
            return
        self._originals[f"{module.__name__}.{name}"] = (module, name, original)

        @functools.wraps(original)
        def timed(*args, **kwargs):
            started = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self.seconds[label] += time.perf_counter() - started

        setattr(module, name, timed)

    def __exit__(self, *exc) -> None:
        for module, name, original in self._originals.values():
            setattr(module, name, original)

    def take(self) -> dict[str, float]:
        taken, self.seconds = dict(self.seconds), defaultdict(float)
        return taken


def _timed(label: str, func):
    started = time.perf_counter()
    result = func()
    seconds = time.perf_counter() - started
    print(f"    {label}: {seconds:.1f}s (load {_load()})", file=sys.stderr, flush=True)
    return result, seconds


def _median(runs: list[tuple[float, dict, str]]) -> tuple[float, dict, str]:
    """The middle run by time (the higher one of an even count): its seconds, result and phases."""
    return sorted(runs, key=lambda run: run[0])[len(runs) // 2]


def _spread(runs: list[tuple[float, dict, str]]) -> str:
    times = sorted(run[0] for run in runs)
    return f"median of {len(times)}: " + ", ".join(f"{t:.1f}s" for t in times)


def _load() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


def _phases(result: dict, timer: dict[str, float]) -> str:
    carried = result.get("phase_seconds") or result.get("phases") or {}  # if the publication reports its own
    parts = {**timer, **({k: float(v) for k, v in carried.items()} if isinstance(carried, dict) else {})}
    return ", ".join(f"{k} {v:.1f}s" for k, v in sorted(parts.items(), key=lambda kv: -kv[1]))


def _scale_database(context: BenchContext, scale: int, first: bool) -> str:
    """The context's database for the first scale, a fresh bootstrapped one for the others."""
    if first:
        return context.dsn
    name = f"{dsn_parts(context.dsn)['dbname']}_s{scale}"
    with psycopg.connect(context.dsn, autocommit=True) as conn:
        conn.execute(f'drop database if exists "{name}" with (force)')
        conn.execute(f'create database "{name}"')
    dsn = with_database(context.dsn, name)
    bootstrap(dsn)
    return dsn


def _drop_database(context: BenchContext, dsn: str) -> None:
    if dsn != context.dsn:
        with psycopg.connect(context.dsn, autocommit=True) as conn:
            conn.execute(f'drop database if exists "{dsn_parts(dsn)["dbname"]}" with (force)')


def _one_scale(context: BenchContext, scale: int, first: bool, base_scale: int) -> tuple[list[Row], float]:
    dsn = _scale_database(context, scale, first)
    os.environ["WAREHOUSE_DSN"] = dsn
    work = context.work_dir / f"scale{scale}"
    try:
        files = generate_sample(work / "sample", scale=scale, seed=2021)
        loaded = sum(load_file(feed, path, dsn=dsn).rows_loaded for feed, path in files.items())
        print(f"    loaded {loaded:,} rows at scale {scale}", file=sys.stderr, flush=True)
        with PhaseTimer() as timer:
            full, full_seconds = _timed(f"scale {scale}: full publication", lambda: build_and_publish(
                f"bench-full-{scale}", dsn=dsn, full_refresh=True))
            assert full["outcome"] == "published", full.get("failed_checks")
            full_phases = _phases(full, timer.take())
            rounds = max(1, int(context.options.get("publication_rounds") or 3))
            incr_runs = []
            for number in range(rounds):  # each after its own delta (new keys); the median run is reported
                delta = sum(load_file(feed, path, dsn=dsn).rows_loaded
                            for feed, path in _delta_files(work, scale, DELTA, suffix=f"-D{number}").items())
                print(f"    delta: {delta:,} event rows ({DELTA:.0%} of the event feeds)", file=sys.stderr, flush=True)
                incr, incr_seconds = _timed(f"scale {scale}: incremental publication {number + 1}/{rounds}",
                                            lambda n=number: build_and_publish(f"bench-incr-{scale}-{n}", dsn=dsn))
                assert incr["outcome"] == "published", incr.get("failed_checks")
                incr_runs.append((incr_seconds, incr, _phases(incr, timer.take())))
            incr_seconds, incr, incr_phases = _median(incr_runs)
            fixed = None
            if scale != base_scale:  # the same delta as at the first scale: what history alone adds
                fixed_runs = []
                for number in range(rounds):
                    fixed_rows = sum(load_file(feed, path, dsn=dsn).rows_loaded for feed, path in
                                     _delta_files(work, base_scale, DELTA, suffix=f"-F{number}").items())
                    fixed, fixed_seconds = _timed(
                        f"scale {scale}: incremental publication, fixed delta {number + 1}/{rounds}",
                        lambda n=number: build_and_publish(f"bench-fixed-{scale}-{n}", dsn=dsn))
                    assert fixed["outcome"] == "published", fixed.get("failed_checks")
                    fixed_runs.append((fixed_seconds, fixed, _phases(fixed, timer.take())))
                fixed_seconds, fixed, fixed_phases = _median(fixed_runs)
                fixed_spread = _spread(fixed_runs)
        incr_spread = _spread(incr_runs)
        print(f"    full phases: {full_phases}\n    incremental phases: {incr_phases}", file=sys.stderr, flush=True)
        if fixed is not None:
            print(f"    fixed-delta incremental phases: {fixed_phases}", file=sys.stderr, flush=True)
    finally:
        _drop_database(context, dsn)
    mode = incr["build_mode"] + (f", {len(incr['carried_over_marts'])} marts carried over"
                                 if incr["build_mode"] == "partial" else f" ({incr['build_mode_reason']})")
    ratio = incr_seconds / full_seconds
    return [
        Row(f"publication, full build (scale {scale})", loaded, full_seconds,
            note=f"load {_load()}; {full_phases}"),
        Row(f"publication, incremental after 1% delta (scale {scale})", delta, incr_seconds, ratio=ratio,
            note=f"ratio = incremental / full (goal <= 0.10 at 100); {incr_spread}; {mode}; load {_load()}; "
                 f"{incr_phases}"),
    ] + ([] if fixed is None else [
        Row(f"publication, incremental after the scale-{base_scale} delta (scale {scale})", fixed_rows, fixed_seconds,
            ratio=fixed_seconds / full_seconds,
            note=f"same {fixed_rows:,} event rows as at scale {base_scale}: the cost of history alone; "
                 f"{fixed_spread}; load {_load()}; {fixed_phases}"),
    ]), incr_seconds if fixed is None else fixed_seconds


@benchmark
def dbt_full_vs_incremental(context: BenchContext) -> list[Row]:
    scales = [int(s) for s in context.options.get("scale", "10").split(",") if s.strip()]
    rows: list[Row] = []
    incremental: list[float] = []
    for index, scale in enumerate(scales):
        scale_rows, incr_seconds = _one_scale(context, scale, first=index == 0, base_scale=scales[0])
        rows += scale_rows
        incremental.append(incr_seconds)
    if len(scales) > 1:
        growth = incremental[-1] / incremental[0]
        rows.append(Row(f"incremental growth, scale {scales[0]} -> {scales[-1]}", None, None, ratio=growth,
                        note=f"incremental time at scale {scales[-1]} / at scale {scales[0]}, the same delta "
                             f"(1% of scale {scales[0]}; goal <= 1.5 for 10x history); load {_load()}"))
    return rows
