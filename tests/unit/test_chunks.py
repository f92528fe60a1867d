"""Blocks of lines split exactly as Python's text reader splits them, at any block size."""
from __future__ import annotations

import random

import pytest

from ingestion.chunks import ChunkedLines, _line_ends
from ingestion.errors import FileRejected
from ingestion.registry import get_spec

SPEC = get_spec("service_transactions")
CONTENT = ("header,a\r\nh2\n" + "x,1\n" + "y,2\r\n" + "中文,3\r" + "\r\n" + "\n" + "z,\"q\nr\",4\r\r" + "last,5")


def _reference(path, skip: int) -> list[str]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return list(handle)[skip:]


def _read(path, skip: int, block_bytes: int | None, pull_every: int = 0) -> list[tuple[int, str]]:
    """Every line with its number, mixing blocks with single lines read in between (as continuations are)."""
    lines = ChunkedLines(SPEC, path, skip, block_bytes)
    out = []
    for count, block in enumerate(lines.blocks(), start=1):
        out += [(block.first_line + i, block.line(i)) for i in range(len(block))]
        if pull_every and count % pull_every == 0:
            number = lines.next_line
            line = lines.readline()
            if line:
                out.append((number, line))
    return out


@pytest.mark.parametrize("block_bytes", [1, 2, 3, 5, 8, 13, None])
@pytest.mark.parametrize("bom", [b"", b"\xef\xbb\xbf"])
def test_lines_and_numbers_match_the_text_reader(tmp_path, block_bytes, bom):
    path = tmp_path / "f.csv"
    path.write_bytes(bom + CONTENT.encode("utf-8"))
    expected = _reference(path, 2)
    for pull_every in (0, 1, 2):
        got = _read(path, 2, block_bytes, pull_every)
        assert [line for _, line in got] == expected, (block_bytes, pull_every)
        assert [number for number, _ in got] == list(range(3, 3 + len(expected)))


def test_control_characters_flag_their_lines(tmp_path):
    path = tmp_path / "f.csv"
    path.write_bytes(b"h\na\x00b\nok\nt\tab\nfine\r\n")
    block = next(ChunkedLines(SPEC, path, 1).blocks())
    assert block.control_lines().tolist() == [True, False, True, False]


def test_invalid_utf8_refuses_the_file(tmp_path):
    path = tmp_path / "f.csv"
    path.write_bytes(b"h\nok\n" + "Müll\n".encode("latin-1"))
    with pytest.raises(FileRejected) as refused:
        list(ChunkedLines(SPEC, path, 1, 4).blocks())
    assert refused.value.rule == "wrong_encoding" and "line 3" in refused.value.reason


def test_line_ends_and_control_characters_match_a_byte_by_byte_reading():
    """One pass finds both (chunks._line_ends); checked against the plain definition on random bytes."""
    rng = random.Random(7)
    alphabet = [b"a", b",", b"\n", b"\r", b"\r\n", b"\t", b"\x00", b"\x7f", b"\x1f", "é".encode()]
    for _ in range(500):
        data = b"".join(rng.choice(alphabet) for _ in range(rng.randint(1, 40)))
        ends, controls = _line_ends(data)
        expected_ends = [i + 1 for i, byte in enumerate(data)
                         if byte == 10 or (byte == 13 and data[i + 1:i + 2] != b"\n")]
        if not expected_ends or expected_ends[-1] != len(data):
            expected_ends.append(len(data))
        assert ends.tolist() == expected_ends, data
        assert controls.tolist() == [i for i, byte in enumerate(data) if (byte < 32 and byte not in (10, 13))
                                     or byte == 127], data
