"""Duplicate-key candidates from packed hashes: every real duplicate is found, in bounded memory."""
from __future__ import annotations

from ingestion.keys import LOW32, KeyTracker


def test_candidates_include_every_duplicated_key():
    tracker = KeyTracker()
    keys = [f"K{n}" for n in range(5000)] + ["K17", "K4999", "K17"]
    for row, key in enumerate(keys, start=2):
        tracker.packed.append((hash(key) & LOW32) << 32 | row)
    found = set(tracker.candidates())
    assert {19, 5001, 5002, 5003, 5004} <= found  # K17 at rows 19, 5002, 5004; K4999 at 5001 and 5003
    assert len(found) < 20  # a few hash collisions at most


def test_no_candidates_for_unique_or_tiny_inputs():
    tracker = KeyTracker()
    assert tracker.candidates() == []
    tracker.packed.append((hash("a") & LOW32) << 32 | 2)
    assert tracker.candidates() == []
