"""Duplicate-key candidates from packed hashes: every real duplicate is found, in bounded memory."""
from __future__ import annotations

import numpy as np

from ingestion.keys import KeyTracker


def test_candidates_include_every_duplicated_key():
    tracker = KeyTracker()
    keys = [f"K{n}" for n in range(5000)] + ["K17", "K4999", "K17"]
    for row, key in enumerate(keys, start=2):
        tracker.add(hash(key), row)
    found = set(tracker.candidates())
    assert {19, 5001, 5002, 5003, 5004} <= found  # K17 at rows 19, 5002, 5004; K4999 at 5001 and 5003
    assert found == {19, 5001, 5002, 5003, 5004}  # 64-bit hashes: no false candidate


def test_no_candidates_for_unique_or_tiny_inputs():
    tracker = KeyTracker()
    assert tracker.candidates() == []
    tracker.add(hash("a"), 2)
    assert tracker.candidates() == []


def test_only_a_shared_whole_hash_is_a_candidate_from_either_path():
    """Rows sharing the low 32 bits of their hash but not the high ones are no candidates (they were,
    ~100 per million rows, each costing a read of the batch back); the vector path's blocks and the
    row path's single rows meet in one tracker."""
    tracker = KeyTracker()
    same_low = [0x0000_0001_1234_5678, 0x0000_0002_1234_5678, 0xFFFF_FFFF_1234_5678]
    tracker.add_many(np.array(same_low, dtype=np.uint64), np.array([2, 3, 4], dtype=np.uint64))
    assert tracker.candidates() == []
    tracker.add(0x0000_0002_1234_5678, 9)  # the row path, the same whole hash as row 3
    tracker.add(-1, 10)  # Python's hash() may be negative: its two's complement bits
    tracker.add_many(np.array([2**64 - 1], dtype=np.uint64), np.array([11], dtype=np.uint64))
    assert tracker.candidates() == [3, 9, 10, 11]


def test_rows_may_arrive_out_of_order():
    """The row path adds a block's flagged rows before its clean ones: the high halves are kept by row number."""
    tracker = KeyTracker()
    tracker.add(0xAAAA_0000_0000_0001, 50)
    tracker.add_many(np.array([0xAAAA_0000_0000_0001, 0xBBBB_0000_0000_0001], dtype=np.uint64),
                     np.array([7, 3], dtype=np.uint64))
    tracker.add_many(np.array([], dtype=np.uint64), np.array([], dtype=np.uint64))
    assert tracker.candidates() == [7, 50]
