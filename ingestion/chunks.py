"""A UTF-8 CSV's physical lines in blocks of a few MB, split exactly as the text reader splits them.

The vectorised loader (vector.py) checks a whole block of lines at once instead of one
line at a time. For its row numbers and its fallback to the csv parser to match the
line path exactly, lines end where Python's reader in newline="" mode ends them: at
"\\n", "\\r\\n" or a lone "\\r". Blocks end on a line end, so memory stays at a few blocks
however large the file; a quoted field spanning lines is read on with `continuation`.
Decoding stays strict: invalid UTF-8 refuses the file as the text reader would.
"""
from __future__ import annotations

import codecs
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa

from ingestion.errors import FileRejected
from ingestion.read import decode_error
from ingestion.registry import FeedSpec

BLOCK_BYTES = 2 << 20  # measured: 1-2 MB blocks were faster than 8 MB (cache) and keep RSS lower
_LINE_END = re.compile(rb"\r\n|\r|\n")


@dataclass
class Block:
    """Complete lines `first_line`, `first_line + 1`, … as one Arrow string array (line ends included)."""

    first_line: int
    data: bytes
    ends: np.ndarray  # byte offset just after each line (its line end included)
    controls: np.ndarray | None = None  # byte offsets of control characters (None: not yet looked for)

    def __len__(self) -> int:
        return len(self.ends)

    def lines(self) -> pa.LargeStringArray:
        offsets = np.concatenate(([0], self.ends)).astype(np.int64)
        return pa.LargeStringArray.from_buffers(len(self.ends), pa.py_buffer(offsets), pa.py_buffer(self.data))

    def control_lines(self) -> np.ndarray:
        """Lines holding a control character (NUL, tab, …): flagged for the row path.

        No canonical line holds one, and Python's and Rust's regex `\\s` disagree on a few
        of them, so the vector pattern is never asked to judge such a line.
        """
        if self.controls is None:
            self.ends, self.controls = _line_ends(self.data)
        flagged = np.zeros(len(self.ends), dtype=bool)
        flagged[np.searchsorted(self.ends, self.controls, side="right")] = True
        return flagged

    def line(self, index: int) -> str:
        start = int(self.ends[index - 1]) if index else 0
        return self.data[start:int(self.ends[index])].decode("utf-8")


class ChunkedLines:
    """Data lines of a CSV after its header, block by block; one-shot, closes the file at the end."""

    def __init__(self, spec: FeedSpec, path: Path, header_lines: int, block_bytes: int | None = None):
        self.spec = spec
        self.path = path
        self.block_bytes = block_bytes or BLOCK_BYTES
        self._file = path.open("rb")
        self._buffer = b""
        self._pos = 0  # bytes before it are handed out already
        self._eof = False
        self.next_line = 1  # physical number of the next line not yet handed out
        self._fill(len(codecs.BOM_UTF8))
        if self._buffer.startswith(codecs.BOM_UTF8):
            self._pos = len(codecs.BOM_UTF8)
        for _ in range(header_lines):
            self.readline()

    def close(self) -> None:
        self._file.close()

    def _fill(self, wanted: int) -> None:
        """Read until `wanted` bytes are pending or the file ends."""
        if len(self._buffer) - self._pos >= wanted or self._eof:
            return
        parts = [self._buffer[self._pos:]]
        pending = len(parts[0])
        while pending < wanted:
            data = self._file.read(max(self.block_bytes, wanted - pending))
            if not data:
                self._eof = True
                break
            parts.append(data)
            pending += len(data)
        self._buffer, self._pos = b"".join(parts), 0

    def readline(self) -> str:
        """The next physical line with its line end ('' at the end of the file), strictly decoded."""
        while True:
            found = _LINE_END.search(self._buffer, self._pos)
            if found is not None and (found.end() < len(self._buffer) or self._eof or found.group() != b"\r"):
                cut = found.end()
                break
            if self._eof:
                cut = len(self._buffer)
                break
            self._fill(len(self._buffer) - self._pos + self.block_bytes)
        raw = self._buffer[self._pos:cut]
        self._pos = cut
        if raw:
            self.next_line += 1
        return self._decode(raw)

    def _decode(self, raw: bytes) -> str:
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise decode_error(self.spec, exc, self.path) from exc

    def blocks(self) -> Iterator[Block]:
        """Blocks of complete lines; `readline` may be called between blocks (continued records)."""
        try:
            while True:
                self._fill(self.block_bytes)
                if self._pos >= len(self._buffer):
                    return
                cut = self._cut()
                while cut == 0:  # one line longer than a block: read on until it ends
                    self._fill(len(self._buffer) - self._pos + self.block_bytes)
                    cut = self._cut()
                data = self._buffer[self._pos:self._pos + cut]
                self._pos += cut
                ends, controls = _line_ends(data)
                block = Block(self.next_line, data, ends, controls)
                _validate(block, self)
                self.next_line += len(ends)
                yield block
        finally:
            self.close()

    def _cut(self) -> int:
        """Bytes from the position to just after the last certainly complete line end (0: none yet)."""
        if self._eof:
            return len(self._buffer) - self._pos
        # a final lone \r may be the first half of \r\n: it only ends a line once the next byte is known
        last = max(self._buffer.rfind(b"\n", self._pos), self._buffer.rfind(b"\r", self._pos, len(self._buffer) - 1))
        return last + 1 - self._pos if last >= 0 else 0


def _line_ends(data: bytes) -> tuple[np.ndarray, np.ndarray]:
    """(offset just after each line, offsets of the control characters) from one pass over the bytes.

    Every byte below 32 is found at once (line ends are most of them), then classified: \n and
    a \r not followed by \n end a line, any other (and DEL) is a control character.
    """
    raw = np.frombuffer(data, dtype=np.uint8)
    low = np.flatnonzero(raw < 32)
    value = raw[low]
    after = raw[np.minimum(low + 1, len(raw) - 1)]
    cr = value == 13
    ends_line = (value == 10) | (cr & ((after != 10) | (low + 1 == len(raw))))
    ends = low[ends_line] + 1
    controls = low[(value != 10) & ~cr]
    if (raw == 127).any():
        controls = np.union1d(controls, np.flatnonzero(raw == 127))
    if not len(ends) or ends[-1] != len(data):
        ends = np.append(ends, len(data))  # the last line of the file, without a line end
    return ends, controls


def _validate(block: Block, lines: ChunkedLines) -> None:
    try:
        block.lines().validate(full=True)
    except pa.ArrowInvalid:
        try:
            block.data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise decode_error(lines.spec, exc, lines.path) from exc
        raise FileRejected("wrong_encoding", f"the file is not valid UTF-8 near line {block.first_line}",
                           f"文件不是有效的 UTF-8 编码（第 {block.first_line} 行附近）") from None
