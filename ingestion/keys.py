"""Duplicate keys within a file, found in bounded memory.

Keeping every key of a ten-million-row file in a Python set costs gigabytes. Instead
each loaded row adds 12 bytes: the low 32 bits of its 64-bit key hash packed with its row
number (8 bytes), and the high 32 bits stored at the row number's index (4 bytes). After
the COPY the packed array is sorted in place and scanned in chunks: rows sharing the low
half (about n²/2³³ of them) are looked up in the high half, and only rows whose whole
64-bit hash repeats are candidates. SQL compares their real keys, so a hash collision
(about n²/2⁶⁵: none in practice) costs a query, never a wrong reject; a file without
duplicates has no candidate and needs no query (with 32 bits alone a 1M-row file had ~100
false candidates, and their query read the whole batch back). 10 million rows: 120 MB, no
temporary copies beyond one chunk.
"""
from __future__ import annotations

from array import array

LOW32 = 0xFFFFFFFF
CHUNK = 1 << 20


class KeyTracker:
    def __init__(self) -> None:
        self.packed = array("Q")  # (hash & LOW32) << 32 | row_number
        self.high = array("I")  # hash >> 32 at index row_number (0 where no row was loaded)

    def add(self, key_hash: int, row_number: int) -> None:
        self.packed.append((key_hash & LOW32) << 32 | row_number)
        self._reserve(row_number)
        self.high[row_number] = key_hash >> 32 & LOW32

    def add_many(self, hashes, row_numbers) -> None:
        """Whole blocks (numpy arrays of uint64 hashes and row numbers): the vector path's keys."""
        import numpy as np

        if not len(row_numbers):
            return
        hashes = np.asarray(hashes, dtype=np.uint64)
        rows = np.asarray(row_numbers, dtype=np.uint64)
        self.packed.frombytes(((hashes & np.uint64(LOW32)) << np.uint64(32) | rows).tobytes())
        self._reserve(int(rows.max()))
        high = np.frombuffer(self.high, dtype=np.uint32)
        high[rows.astype(np.int64)] = (hashes >> np.uint64(32)).astype(np.uint32)
        del high  # the array may grow again only once no view of it is left

    def _reserve(self, row_number: int) -> None:
        if row_number >= len(self.high):
            self.high.frombytes(bytes(4 * (row_number + 1 - len(self.high))))

    def candidates(self) -> list[int]:
        """Row numbers whose 64-bit key hash is shared with another row (ascending)."""
        if len(self.packed) < 2:
            return []
        import numpy as np  # only here: sorting 10M values in Python would cost seconds and gigabytes

        packed = np.frombuffer(self.packed, dtype=np.uint64)
        packed.sort()  # in place
        shared_low = []
        for start in range(0, len(packed) - 1, CHUNK):
            block = packed[start:start + CHUNK + 1] >> np.uint64(32)
            same = np.flatnonzero(block[1:] == block[:-1])
            if len(same):
                shared_low.append(packed[start + np.concatenate((same, same + 1))])
        if not shared_low:
            return []
        entries = np.unique(np.concatenate(shared_low))  # the few rows sharing the low half, as packed
        rows = (entries & np.uint64(LOW32)).astype(np.int64)
        whole = entries >> np.uint64(32) | np.frombuffer(self.high, dtype=np.uint32)[rows].astype(np.uint64) << np.uint64(32)
        values, counts = np.unique(whole, return_counts=True)
        return sorted(int(row) for row in rows[np.isin(whole, values[counts > 1])])
