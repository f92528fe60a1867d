"""Vectorised CSV loading: whole blocks of lines checked and turned into COPY text by polars.

The per-line fast path (fastrow.py) costs Python work for every line: the regex, the
ID check digit, the COPY text. Here the same contract pattern and the same column
checks run on a block of ~20,000 lines (2 MB) at once, in polars (Rust, several threads,
no Python per line). Polars was chosen over pyarrow.compute by measuring both on the
1M-row benchmark file (docs in README, "Ingestion"). A line the vector check cannot
prove canonical is only *flagged*: it takes exactly the path copy_lines gives it
(csv parser, RowCopier.row: normalise, reject, warn), so every reject, warning and
stored value is the same as on the line path. Clean lines become COPY text in bulk
(commas to tabs, empty fields to \\N, batch id and row number appended) and go to the
same COPY stream; their key hashes go to the same duplicate tracker.

The checks come from the type rules (`TypeRule.line` for the pattern, `TypeRule.vector`
for what a pattern cannot check), never from per-feed code.
"""
from __future__ import annotations

import collections
import concurrent.futures
import csv
import itertools
import re
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import polars as pl

from ingestion.chunks import Block, ChunkedLines
from ingestion.coltypes import RULES
from ingestion.copyrows import RowCopier
from ingestion.encode import NULL
from ingestion.read import Layout, csv_error
from ingestion.registry import FeedSpec

KEY_SEPARATOR = "\x1f"  # joins the texts of a composite key before hashing
HASH_SEED = 0
_PY_UNICODE_ESCAPE = re.compile(r"\\u([0-9a-fA-F]{4})")

BlockCheck = Callable[[Block], tuple[pl.DataFrame, np.ndarray]]


def block_check(spec: FeedSpec, layout: Layout, *, fields: bool = False) -> BlockCheck | None:
    """The vector check of this file's lines, or None when the layout or a column type rules it out.

    Same conditions as fastrow.row_matcher: the header is the contract's columns in
    contract order, and every column type has a whole-line pattern. With `fields` the
    result also holds every field's text (columns f0, f1, …) for the binary COPY.
    """
    width = len(spec.columns)
    if layout.extra or layout.positions != tuple(range(width)) or layout.width != width:
        return None
    parts: list[str] = []
    checks: list[tuple[int, Callable[[pl.Series], np.ndarray]]] = []
    for index, col in enumerate(spec.columns):
        rule = RULES[col.type]
        fragment = rule.line(col)
        if fragment is None:
            return None
        pattern, check = fragment
        parts.append(f"(?:{pattern})" if col.required else f"(?:{pattern})?")
        if check is not None:
            checks.append((index, rule.vector(col) or _per_value(check)))
    pattern = _PY_UNICODE_ESCAPE.sub(r"\\x{\1}", "^" + ",".join(parts) + "$")
    key_index = [[c.name for c in spec.columns].index(k) for k in spec.key]

    def run(block: Block) -> tuple[pl.DataFrame, np.ndarray]:
        """(body and key of every line, numpy mask of the lines proved canonical).

        Eager steps, each done once: a lazy query of the same expressions measured 2x the CPU
        (its plan per block, and the line ends stripped three times and split twice).
        """
        body = pl.Series("body", pl.from_arrow(block.lines())).str.strip_chars_end("\r\n")
        ok = body.str.contains(pattern).fill_null(False).to_numpy() & ~block.control_lines()
        # One split into all fields, read only where the line matches: there commas are exactly the separators.
        split = body.str.split_exact(",", width - 1).struct.unnest()
        for index, check in checks:
            values = split[f"field_{index}"]
            ok &= (values == "").fill_null(False).to_numpy() | check(values)
        keys = [pl.when(pl.col(f"field_{i}") == "").then(pl.lit(NULL)).otherwise(pl.col(f"field_{i}"))
                for i in key_index]  # an empty key part as the COPY text has it
        key = split.select((keys[0] if len(keys) == 1 else pl.concat_str(keys, separator=KEY_SEPARATOR))
                           .alias("key")).to_series()
        if fields:
            return split.rename({f"field_{i}": f"f{i}" for i in range(width)}).insert_column(0, key), ok
        return pl.DataFrame([body, key]), ok

    return run


def _per_value(check: Callable[[str], bool]) -> Callable[[pl.Series], np.ndarray]:
    """A type without a vector form of its check: the line check per value (correct, slower)."""
    return lambda values: np.fromiter((bool(v) and check(v) for v in values), dtype=bool, count=len(values))


def key_hash(key: str | tuple[str, ...]) -> int:
    """The hash of one row's key text as the vector path computes it, for rows loaded by RowCopier.row."""
    text = key if isinstance(key, str) else KEY_SEPARATOR.join(key)
    return int(pl.Series([text], dtype=pl.String).hash(seed=HASH_SEED)[0])


def copy_blocks(copier: RowCopier, lines: ChunkedLines, check: BlockCheck, layout: Layout,
                binary: BinaryOut | None = None) -> None:
    """Load every data line: clean lines in bulk per block, flagged ones through the row path.

    With `binary` (a binary COPY and its encoder) clean lines go there as binary tuples,
    while copier.copy (then a spill of text COPY lines) takes the rows of the row path.
    """
    copier.key_hash = key_hash
    tail = f"\t{NULL}\t{copier.batch_id}\t"
    with _EncodeThread(binary) as encoder:
        for block in lines.blocks():
            checked, take = check(block)
            _flagged_rows(copier, lines, block, np.flatnonzero(~take), take, layout)
            clean = checked if take.all() else checked.filter(pl.Series(take))
            if clean.height:
                numbers = pl.Series("n", block.first_line + np.flatnonzero(take), dtype=pl.UInt64)
                if binary is None:
                    _write_clean(copier, clean, numbers, tail)
                else:
                    encoder.submit(clean, numbers.to_numpy(), copier.batch_id)
                    _add_keys(copier, clean, numbers)
            copier.flush()


def _flagged_rows(copier: RowCopier, lines: ChunkedLines, block: Block, flagged: np.ndarray, take: np.ndarray,
                  layout: Layout) -> None:
    """Each flagged line as copy_lines treats it; lines a quoted field spans are not rows of their own."""
    next_free = 0
    for index in flagged.tolist():
        if index < next_free:
            continue
        line_number = block.first_line + index
        more = _Continuation(block, index + 1, lines)
        try:
            cells = next(csv.reader(itertools.chain((block.line(index),), more)), [])
        except csv.Error as exc:
            raise csv_error(line_number, exc) from exc
        take[index + 1:index + 1 + more.in_block] = False
        next_free = index + 1 + more.in_block
        if cells and not (not cells[0].strip() and all(not c.strip() for c in cells)):
            copier.row(line_number, cells, layout)
        if more.beyond:  # the record ran past this block: the rest of it is consumed
            take[next_free:] = False
            break


class _Continuation:
    """Lines after a flagged one, for a quoted field spanning lines: the block's, then the file's."""

    def __init__(self, block: Block, start: int, lines: ChunkedLines):
        self.block = block
        self.start = start
        self.lines = lines
        self.in_block = 0
        self.beyond = 0

    def __iter__(self) -> Iterator[str]:
        return self

    def __next__(self) -> str:
        index = self.start + self.in_block
        if index < len(self.block):
            self.in_block += 1
            return self.block.line(index)
        line = self.lines.readline()
        if not line:
            raise StopIteration
        self.beyond += 1
        return line


class BinaryOut:
    """A binary COPY (its signature already sent) and the encoder of clean rows into its tuples."""

    def __init__(self, copy: Any, encode: Callable[[list[pl.Series], np.ndarray, int], memoryview], width: int):
        self.copy = copy
        self.encode = encode
        self.width = width


class _EncodeThread:
    """Encodes and sends the binary tuples of block N on one thread while block N+1 is checked.

    Both sides are polars/numpy/pyarrow work that releases the GIL, so on two cores the
    check and the encoding overlap (measured: the encoding is ~40% of the client's time).
    One thread keeps the tuples in file order; at most `AHEAD` blocks wait, so memory stays
    at a few blocks. The first error is raised in the loading thread, at the next submit
    or at the end; leaving the block early (an error) waits for the thread, never leaving
    it writing into a COPY that is being closed.
    """

    AHEAD = 2

    def __init__(self, binary: BinaryOut | None):
        self.binary = binary
        self.pending: collections.deque[concurrent.futures.Future] = collections.deque()
        self.pool: concurrent.futures.ThreadPoolExecutor | None = None
        self.failed = False

    def __enter__(self) -> _EncodeThread:
        if self.binary is not None:
            self.pool = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="binary-copy")
        return self

    def submit(self, clean: pl.DataFrame, rows: np.ndarray, batch_id: int) -> None:
        while len(self.pending) >= self.AHEAD:
            self.pending.popleft().result()
        fields = [clean[f"f{i}"] for i in range(self.binary.width)]
        self.pending.append(self.pool.submit(self._send, fields, rows, batch_id))

    def _send(self, fields: list[pl.Series], rows: np.ndarray, batch_id: int) -> None:
        if self.failed:  # a block after a failed one is never written: the stream stays a prefix of the file
            return
        try:
            self.binary.copy.write(self.binary.encode(fields, rows, batch_id))
        except BaseException:
            self.failed = True
            raise

    def __exit__(self, kind, *exc) -> None:
        if self.pool is None:
            return
        try:
            while kind is None and self.pending:
                self.pending.popleft().result()
        finally:  # on an error: blocks not started are dropped, the one being sent is waited for
            self.pool.shutdown(wait=True, cancel_futures=True)


def _add_keys(copier: RowCopier, clean: pl.DataFrame, numbers: pl.Series) -> None:
    copier.keys.add_many(clean["key"].hash(seed=HASH_SEED).to_numpy(), numbers.to_numpy())
    copier.rows_in += clean.height
    copier.loaded += clean.height


def _write_clean(copier: RowCopier, clean: pl.DataFrame, numbers: pl.Series, tail: str) -> None:
    """COPY text of canonical lines (as copy_lines writes it) and their key hashes, for a whole block."""
    body = pl.col("body")
    text = ((pl.lit(",") + body + pl.lit(",")).str.replace_all(",,", f",{NULL},", literal=True)
            .str.replace_all(",,", f",{NULL},", literal=True)
            .str.strip_prefix(",").str.strip_suffix(",").str.replace_all(",", "\t", literal=True))
    rows = clean.with_columns(numbers)
    payload = rows.lazy().select(pl.concat_str([text, pl.lit(tail), pl.col("n").cast(pl.String), pl.lit("\n")])
                                 .str.join("")).collect().to_series().to_arrow(compat_level=pl.CompatLevel.oldest())
    offsets, data = payload.buffers()[1:3]
    start, end = np.frombuffer(offsets, dtype=np.int64)[payload.offset:payload.offset + 2]
    copier.copy.write(memoryview(data)[start:end])
    copier.keys.add_many(clean["key"].hash(seed=HASH_SEED).to_numpy(), numbers.to_numpy())
    copier.rows_in += clean.height
    copier.loaded += clean.height
