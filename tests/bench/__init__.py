"""Benchmarks: `make bench` (= `python -m tests.bench`) runs each and prints one table.

A benchmark is a function taking the shared `BenchContext` and returning `Row`s;
register it with `@benchmark` in a module listed in `MODULES` (tests/bench/__main__.py).
Benchmarks are not part of the test suite: they take minutes and need a quiet machine.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Row:
    benchmark: str
    rows: int | None = None
    seconds: float | None = None
    ratio: float | None = None  # ours / baseline, in rows per second (higher is better)
    peak_rss_mb: float | None = None
    note: str = ""

    @property
    def rows_per_second(self) -> float | None:
        if self.rows is None or not self.seconds:
            return None
        return self.rows / self.seconds


@dataclass
class BenchContext:
    dsn: str  # an isolated, bootstrapped database for this run
    work_dir: Path  # scratch space, removed afterwards
    options: dict[str, str] = field(default_factory=dict)


Benchmark = Callable[[BenchContext], list[Row]]
BENCHMARKS: list[Benchmark] = []


def benchmark(func: Benchmark) -> Benchmark:
    BENCHMARKS.append(func)
    return func


def format_table(rows: list[Row]) -> str:
    headers = ["benchmark", "rows", "seconds", "rows/s", "ratio", "peak RSS MB", "note"]
    cells = [[r.benchmark, _n(r.rows), _f(r.seconds, 2), _n(r.rows_per_second), _f(r.ratio, 2),
              _f(r.peak_rss_mb, 0), r.note] for r in rows]
    widths = [max(len(h), *(len(c[i]) for c in cells)) if cells else len(h) for i, h in enumerate(headers)]
    line = "  ".join("{:" + ("<" if i in (0, 6) else ">") + f"{w}}}" for i, w in enumerate(widths))
    out = [line.format(*headers), line.format(*("-" * w for w in widths))]
    out += [line.format(*c) for c in cells]
    return "\n".join(out)


def _n(value: float | None) -> str:
    return "" if value is None else f"{value:,.0f}"


def _f(value: float | None, digits: int) -> str:
    return "" if value is None else f"{value:,.{digits}f}"
