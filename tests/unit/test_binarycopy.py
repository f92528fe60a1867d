"""Binary COPY values of canonical fields against Python's own reading of the same text.

(The server's reading is compared in tests/integration/test_ingestion_vector.py.)
"""
from __future__ import annotations

import datetime as dt
import random
import struct
from types import SimpleNamespace

import numpy as np
import polars as pl

from ingestion.binarycopy import _days_from_civil, _timestamp, binary_encoder
from ingestion.coltypes.dates import parse_timestamp

PG_EPOCH = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)


def _values(pieces) -> list[bytes]:
    """The binary values of one encoded column (length prefix included) per row."""
    from ingestion.binarycopy import _merged

    (array,) = _merged(pieces, len(pieces[0].matrix))
    return array.to_pylist()


def test_every_day_of_the_contract_range():
    days = [dt.date(1900, 1, 1) + dt.timedelta(days=i) for i in range((dt.date(2099, 12, 31) - dt.date(1900, 1, 1)).days + 1)]
    got = _days_from_civil(np.array([d.year for d in days]), np.array([d.month for d in days]),
                           np.array([d.day for d in days]))
    assert got.tolist() == [(d - dt.date(2000, 1, 1)).days for d in days]


def test_timestamps_as_python_reads_them():
    rng = random.Random(11)
    texts = []
    for _ in range(3000):
        stamp = dt.datetime(1900, 1, 1) + dt.timedelta(seconds=rng.randrange(200 * 365 * 86400))
        text = stamp.strftime("%Y-%m-%d") + rng.choice("T ") + stamp.strftime("%H:%M:%S")
        if rng.random() < 0.3:
            text += "." + str(rng.randrange(10**6)).zfill(6)[: rng.randint(1, 6)]
        zone = rng.choice(["Z", "+08:00", "-05:30", "+14:00", "-14:59", "+00:00"])
        texts.append(text + zone)
    texts += ["", "2021-07-27T08:52:46+08:00", ""]
    encoded = _values(_timestamp(pl.Series(texts, dtype=pl.String)))
    for text, value in zip(texts, encoded, strict=True):
        if not text:
            assert value == b"\xff\xff\xff\xff"
            continue
        expected = (parse_timestamp(text) - PG_EPOCH) // dt.timedelta(microseconds=1)
        assert value[:4] == b"\x00\x00\x00\x08" and struct.unpack(">q", value[4:])[0] == expected, text


def test_tuples_hold_every_column_and_the_row_number():
    spec = SimpleNamespace(columns=[SimpleNamespace(type="text"), SimpleNamespace(type="integer")])
    encode = binary_encoder(spec)
    data = bytes(encode([pl.Series(["ab", ""]), pl.Series(["", "42"])], np.array([2, 3]), 9))
    first = (struct.pack(">h", 5) + struct.pack(">i", 2) + b"ab" + b"\xff\xff\xff\xff" + b"\xff\xff\xff\xff"
             + struct.pack(">iq", 8, 9) + struct.pack(">ii", 4, 2))
    second = (struct.pack(">h", 5) + b"\xff\xff\xff\xff" + struct.pack(">iq", 8, 42) + b"\xff\xff\xff\xff"
              + struct.pack(">iq", 8, 9) + struct.pack(">ii", 4, 3))
    assert data == first + second


def test_types_without_a_binary_form_keep_text_copy():
    assert binary_encoder(SimpleNamespace(columns=[SimpleNamespace(type="json")])) is None
    assert binary_encoder(SimpleNamespace(columns=[SimpleNamespace(type="boolean")])) is None


def test_the_vector_engine_never_imports_pandas(tmp_path):
    """pa.array()/pa.scalar() of Python values import pandas (~0.4 s per fresh process and its teardown):
    checking and encoding a real block, with the warm-up, must not."""
    import subprocess
    import sys
    from pathlib import Path

    from ingestion.generate import write_service_transactions

    path = tmp_path / "service_transactions.csv"
    write_service_transactions(path, 500, 7)
    script = (
        "import sys\n"
        "from pathlib import Path\n"
        "import numpy as np\n"
        "from ingestion.binarycopy import binary_encoder, warm_up\n"
        "from ingestion.chunks import ChunkedLines\n"
        "from ingestion.read import open_source\n"
        "from ingestion.registry import get_spec\n"
        "from ingestion.vector import block_check\n"
        "spec = get_spec('service_transactions')\n"
        f"path = Path({str(path)!r})\n"
        "source = open_source(spec, path); source.lines.close()\n"
        "check, encode = block_check(spec, source.lines.layout, fields=True), binary_encoder(spec)\n"
        "warm_up()\n"
        "encoded = 0\n"
        "for block in ChunkedLines(spec, path, source.lines.line_number).blocks():\n"
        "    checked, ok = check(block)\n"
        "    clean = checked.filter(ok)\n"
        "    encoded += len(encode([clean[f'f{i}'] for i in range(len(spec.columns))], "
        "np.flatnonzero(ok) + block.first_line, 1))\n"
        "print(encoded > 0, 'pandas' in sys.modules)\n")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True,
                            cwd=Path(__file__).resolve().parents[2])
    assert result.stdout.split() == ["True", "False"], result.stdout + result.stderr
