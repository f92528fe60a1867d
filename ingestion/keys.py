"""Duplicate keys within a file, found in bounded memory.

Keeping every key of a ten-million-row file in a Python set costs gigabytes. Instead
each loaded row adds 8 bytes: a 32-bit hash of its key text packed with its row
number. After the COPY the array is sorted in place and scanned in chunks; rows whose
hash occurs more than once are the only candidates, and SQL compares their real keys,
so hash collisions (about n²/2³³ false candidates) cost a little time, never a wrong
reject. 10 million rows: 80 MB, no temporary copies beyond one chunk.
"""
from __future__ import annotations

from array import array

LOW32 = 0xFFFFFFFF
CHUNK = 1 << 20


class KeyTracker:
    def __init__(self) -> None:
        self.packed = array("Q")  # (hash & LOW32) << 32 | row_number

    def candidates(self) -> list[int]:
        """Row numbers whose key hash is shared with another row (ascending)."""
        if len(self.packed) < 2:
            return []
        import numpy as np  # only here: sorting 10M values in Python would cost seconds and gigabytes

        packed = np.frombuffer(self.packed, dtype=np.uint64)
        packed.sort()  # in place
        rows: set[int] = set()
        for start in range(0, len(packed) - 1, CHUNK):
            block = packed[start:start + CHUNK + 1] >> np.uint64(32)
            same = np.nonzero(block[1:] == block[:-1])[0]
            if len(same):
                for index in (same, same + 1):
                    rows.update(int(r) for r in packed[start + index] & np.uint64(LOW32))
        return sorted(rows)
