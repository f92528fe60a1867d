"""Duplicate keys within a file, found in bounded memory.

Keeping every key of a ten-million-row file in a Python set costs gigabytes. Instead
each loaded row adds 12 bytes: the low 32 bits of its 64-bit key hash packed with its
row number, and the high 32 bits alongside. Rows whose whole 64-bit hash occurs more
than once are the only candidates, and SQL compares their real keys, so a hash
collision (about n²/2⁶⁵: none in practice) costs a query, never a wrong reject. A file
without duplicates has no candidate, and needs no query (with 32 bits alone a 1M-row
file had ~100 false candidates, and their query read the whole batch back).
10 million rows: 120 MB, and 80 MB more for a moment at the end.
"""
from __future__ import annotations

from array import array

LOW32 = 0xFFFFFFFF


class KeyTracker:
    def __init__(self) -> None:
        self.packed = array("Q")  # (hash & LOW32) << 32 | row_number
        self.high = array("I")  # hash >> 32 & LOW32, in the same order

    def add(self, key_hash: int, row_number: int) -> None:
        self.packed.append((key_hash & LOW32) << 32 | row_number)
        self.high.append(key_hash >> 32 & LOW32)

    def add_many(self, hashes, row_numbers) -> None:
        """Whole blocks (numpy uint64 arrays): the vector path's keys."""
        import numpy as np

        hashes = np.asarray(hashes, dtype=np.uint64)
        packed = (hashes & np.uint64(LOW32)) << np.uint64(32) | np.asarray(row_numbers, dtype=np.uint64)
        self.packed.frombytes(packed.tobytes())
        self.high.frombytes((hashes >> np.uint64(32)).astype(np.uint32).tobytes())

    def candidates(self) -> list[int]:
        """Row numbers whose 64-bit key hash is shared with another row (ascending)."""
        if len(self.packed) < 2:
            return []
        import numpy as np  # only here: sorting 10M values in Python would cost seconds and gigabytes

        packed = np.frombuffer(self.packed, dtype=np.uint64)
        low = (packed >> np.uint64(32)).astype(np.uint32)
        ordered = np.sort(low)
        repeated = np.unique(ordered[1:][ordered[1:] == ordered[:-1]])
        del ordered
        if not len(repeated):
            return []
        at = np.flatnonzero(np.isin(low, repeated))  # the few rows sharing the low half
        whole = low[at].astype(np.uint64) | np.frombuffer(self.high, dtype=np.uint32)[at].astype(np.uint64) << np.uint64(32)
        values, counts = np.unique(whole, return_counts=True)
        shared = np.isin(whole, values[counts > 1])
        return sorted(int(row) for row in packed[at[shared]] & np.uint64(LOW32))
