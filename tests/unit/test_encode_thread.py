"""The binary COPY's encoding thread: file order kept, errors raised in the loading thread, no write after exit."""
from __future__ import annotations

import threading
import time

import numpy as np
import polars as pl
import pytest

from ingestion.vector import BinaryOut, _EncodeThread


class _Recorder:
    """Stands in for the COPY stream: records what was written and from which thread."""

    def __init__(self) -> None:
        self.written: list[bytes] = []
        self.threads: set[str] = set()

    def write(self, data: bytes) -> None:
        self.threads.add(threading.current_thread().name)
        self.written.append(bytes(data))


def _block(first: int, n: int) -> pl.DataFrame:
    return pl.DataFrame({"f0": [str(first + i) for i in range(n)]})


def _slow_encode(fields, rows, batch_id):
    time.sleep(0.01 * (len(rows) % 3))  # later blocks may finish sooner if order were not kept
    return memoryview(",".join(fields[0].to_list()).encode() + b";")


def test_blocks_are_sent_in_file_order_from_one_other_thread():
    copy = _Recorder()
    with _EncodeThread(BinaryOut(copy, _slow_encode, 1)) as encoder:
        for first in range(0, 50, 5):
            n = 1 + first % 4
            encoder.submit(_block(first, n), np.arange(n), 7)
    assert copy.written == [(",".join(str(f + i) for i in range(1 + f % 4)) + ";").encode()
                            for f in range(0, 50, 5)]
    assert len(copy.threads) == 1 and threading.current_thread().name not in copy.threads


def test_an_encoding_error_reaches_the_loading_thread():
    def failing(fields, rows, batch_id):
        if fields[0][0] == "10":
            raise ValueError("cannot encode block 10")
        return memoryview(b"ok")

    copy = _Recorder()
    with pytest.raises(ValueError, match="block 10"), _EncodeThread(BinaryOut(copy, failing, 1)) as encoder:
        for first in range(0, 100, 10):
            encoder.submit(_block(first, 2), np.arange(2), 1)
    assert copy.written == [b"ok"]  # nothing after the failed block


def test_leaving_on_an_error_waits_for_the_block_being_sent():
    started = threading.Event()

    def slow(fields, rows, batch_id):
        started.set()
        time.sleep(0.2)
        return memoryview(b"late")

    copy = _Recorder()
    with pytest.raises(RuntimeError, match="main"), _EncodeThread(BinaryOut(copy, slow, 1)) as encoder:
        encoder.submit(_block(0, 1), np.arange(1), 1)
        started.wait(5)
        raise RuntimeError("main thread failed")
    written = len(copy.written)
    time.sleep(0.3)
    assert len(copy.written) == written  # no write into the COPY after the block was left


def test_text_copy_needs_no_thread():
    with _EncodeThread(None) as encoder:
        assert encoder.pool is None
