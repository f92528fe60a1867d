"""A one-line progress report on stderr for large files (no dependency, rate-limited)."""
from __future__ import annotations

import sys
import time
from typing import TextIO

INTERVAL_SECONDS = 0.5


class ProgressLine:
    """Called with the rows read so far; redraws at most twice a second, then `done()` ends the line."""

    def __init__(self, label: str, stream: TextIO | None = None):
        self.label = label
        self.stream = stream or sys.stderr
        self.started = time.perf_counter()
        self.last = 0.0
        self.rows = 0
        self.drawn = False

    def __call__(self, rows: int) -> None:
        self.rows = rows
        now = time.perf_counter()
        if now - self.last >= INTERVAL_SECONDS:
            self.last = now
            self._draw(now)

    def _draw(self, now: float) -> None:
        elapsed = max(now - self.started, 1e-9)
        self.stream.write(f"\r{self.label}: {self.rows:,} rows, {self.rows / elapsed:,.0f} rows/s, {elapsed:.1f}s")
        self.stream.flush()
        self.drawn = True

    def done(self) -> None:
        if self.drawn:
            self._draw(time.perf_counter())
            self.stream.write("\n")
            self.stream.flush()


def wanted(flag: bool, stream: TextIO | None = None) -> bool:
    """Progress when asked for, or when a person is watching (stderr is a terminal)."""
    return flag or (stream or sys.stderr).isatty()
