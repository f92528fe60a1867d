"""The vectorised loader (INGEST_ENGINE=vector) stores exactly what the per-line path stores.

Each file is loaded into two fresh warehouses, once per engine (a third with tiny
blocks, so quoted records and flagged lines cross block boundaries), and everything
a load leaves behind is compared: the summary, every reject (rule, row, column,
messages, original values), every warning, the clear originals and the raw rows.
"""
from __future__ import annotations

import json
from pathlib import Path

from psycopg import sql

import ingestion.chunks
import ingestion.vector
from ingestion.generate import write_service_transactions
from ingestion.generate.dirty import generate_dirty
from ingestion.load import load_file
from ingestion.read import open_source
from ingestion.registry import get_spec
from ingestion.vector import block_check
from warehouse.db import connect

HEADER = "办件编号,事项编码,受理时间,办结时间,承诺时限(工作日),办理渠道,申请人证件号"
GOOD_ID = "511423199401030875"
T1, T2 = "2021-07-27T08:52:46+08:00", "2021-07-27T20:51:05+08:00"

# Every way a line can leave the vector path's canonical shape, mixed with canonical lines.
EDGE_LINES = [
    f"BJ1,MS010-JF-0020,{T1},{T2},5,窗口,{GOOD_ID}\n",
    f"BJ2,MS010-JF-0020,{T1},,10,网办,\r\n",
    f'"BJ3",MS010-JF-0020,{T1},{T2},5,窗口,{GOOD_ID}\n',  # quoted, canonical inside
    f'BJ4,"MS010\nJF,0020",{T1},{T2},5,窗口,{GOOD_ID}\n',  # a quoted field spanning two lines
    "\n",
    ",,,,,,\n",
    f"BJ6,MS010-JF-0020,{T1},{T2},5,窗口,511423199401030876\n",  # wrong check digit
    f"BJ7,MS010\x00JF,{T1},{T2},5,窗口,{GOOD_ID}\n",  # NUL byte
    f"BJ8,MS010\tJF,{T1},{T2},5,窗口,{GOOD_ID}\n",  # tab
    f"BJ9,MS010-JF-0020,{T1},{T2},5,窗口,{GOOD_ID}\r",  # lone carriage return ends the line
    f"BJ1,MS010-JF-0020,{T1},{T2},7,自助,{GOOD_ID}\n",  # duplicate of a canonical line
    f"BJ3,MS010-JF-0020,{T1},{T2},7,自助,{GOOD_ID}\n",  # duplicate of a quoted line
    f"BJ12,MS010-JF-0020,2021/7/27 08:52:46,{T2},5,窗口,{GOOD_ID}\n",  # normalised by the row path
    f"BJ13,MS010-JF-0020,{T1},{T2},5,柜台,{GOOD_ID}\n",  # not in the enum
    f"BJ14,MS010-JF-0020,{T1},{T2},-1,窗口,{GOOD_ID}\n",  # negative
    f"BJ15,\u3000MS010-JF-0020 ,{T1},{T2},5,窗口,{GOOD_ID}\n",  # full-width and ordinary spaces
    f"BJ16,MS010-JF-0020,{T1},{T2},5,窗口,{GOOD_ID},surplus\n",  # shifted
    f"BJ17,MS010-JF-0020,{T1}\n",  # too few fields
    f"BJ18,\x1cMS010,{T1},{T2},5,窗口,{GOOD_ID}\n",  # a control character Python's regex calls whitespace
    f"BJ19,MS010-JF-0020,{T1},{T2},5,窗口,51142319940103087x\n",  # lower-case check letter
    f"BJ20,MS010-JF-0020,{T1},{T2},5,窗口,511423199402300875\n",  # 30 February
    f"BJ21,MS010-JF-0020,{T1},{T2},00005,窗口,{GOOD_ID}\n",
    f"BJ22,MS010-JF-0020,{T1}+,{T2},5,窗口,{GOOD_ID}\n",
    f"BJ23,MS010-JF-0020,{T1},{T2},5,窗口,{GOOD_ID}",  # no line end at the end of the file
]


def _write(path: Path, lines: list[str], *, bom: bool = False) -> Path:
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + (HEADER + "\n" + "".join(lines)).encode("utf-8"))
    return path


def _outcome(dsn: str, feed: str, summary) -> dict:
    """Everything one load left behind, without batch ids and timings."""
    spec = get_spec(feed)
    batch = summary.batch_id
    with connect(dsn) as conn:
        raw = [r[0] for r in conn.execute(sql.SQL(
            "select to_jsonb(t) - '_batch_id' - '_loaded_at' from {} t where _batch_id = %s order by _row_number"
        ).format(sql.Identifier("raw", spec.feed_id)), (batch,))]
        rejects = conn.execute("select row_number, column_name, rule, reason, reason_zh, original_values "
                               "from audit.rejected_rows where batch_id = %s "
                               "order by row_number nulls first, rejection_id", (batch,)).fetchall()
        warnings = conn.execute("select row_number, column_name, rule, reason, reason_zh from audit.ingestion_warnings "
                                "where batch_id = %s order by row_number nulls first, column_name", (batch,)).fetchall()
        clear = conn.execute("select row_number, original_values from audit.rejected_values_clear "
                             "where batch_id = %s order by row_number", (batch,)).fetchall()
    kept = {k: v for k, v in summary.to_dict().items() if k not in ("batch_id", "seconds", "archive_path")}
    return {"summary": kept, "raw": raw, "rejects": rejects, "warnings": warnings, "clear": clear}


def _compare(feed: str, path: Path, fresh_database, monkeypatch, *, tiny_blocks: bool = True) -> dict:
    """Load `path` with each engine into its own warehouse; assert equal outcomes; return the line path's."""
    outcomes = {}
    runs = [("lines", None), ("vector", None)] + ([("vector", 97)] if tiny_blocks else [])
    for engine, block in runs:
        monkeypatch.setenv("INGEST_ENGINE", engine)
        monkeypatch.setattr(ingestion.chunks, "BLOCK_BYTES", block or ingestion.chunks.BLOCK_BYTES)
        dsn = fresh_database()
        outcomes[(engine, block)] = _outcome(dsn, feed, load_file(feed, path, dsn=dsn))
    reference = outcomes[("lines", None)]
    for run, outcome in outcomes.items():
        for part in reference:
            assert outcome[part] == reference[part], f"{path.name}, {run}: {part} differs"
    return reference


def _uses_vector(feed: str, path: Path) -> bool:
    spec = get_spec(feed)
    source = open_source(spec, path)
    try:
        return source.lines is not None and spec.encoding in ("utf-8", "utf-8-sig") \
            and block_check(spec, source.lines.layout) is not None
    finally:
        if source.lines is not None:
            source.lines.close()


def test_edge_lines_load_identically(warehouse_dsn, fresh_database, monkeypatch, tmp_path):
    path = _write(tmp_path / "service_transactions_edges.csv", EDGE_LINES, bom=True)
    assert _uses_vector("service_transactions", path)
    outcome = _compare("service_transactions", path, fresh_database, monkeypatch)
    summary = outcome["summary"]
    assert summary["status"] == "partial", (summary["message"], summary["errors"][:3])
    assert summary["rows_in"] == summary["rows_loaded"] + summary["rows_rejected"]
    rules = {r[2] for r in outcome["rejects"]}
    assert {"id_number", "duplicate_key", "enum", "negative", "shifted_row", "unstorable_value"} <= rules, rules
    assert len(outcome["raw"]) == summary["rows_loaded"] > 5


def test_file_refusals_load_identically(warehouse_dsn, fresh_database, monkeypatch, tmp_path):
    """Invalid UTF-8 after good lines, and a quote left open at the end of the file."""
    bad_bytes = tmp_path / "service_transactions_latin1.csv"
    bad_bytes.write_bytes(_write(tmp_path / "x.csv", EDGE_LINES[:3]).read_bytes() + "BJ9,Müll\n".encode("latin-1"))
    open_quote = _write(tmp_path / "service_transactions_open_quote.csv", EDGE_LINES[:2] + ['BJ5,"MS010\n', "x,y\n"])
    for path, rule in ((bad_bytes, "wrong_encoding"), (open_quote, None)):
        outcome = _compare("service_transactions", path, fresh_database, monkeypatch)
        if rule:
            assert outcome["summary"]["status"] == "rejected" and outcome["rejects"][0][2] == rule


def test_dirty_samples_load_identically(warehouse_dsn, fresh_database, monkeypatch, tmp_path):
    manifest = generate_dirty(tmp_path / "dirty")
    vectorised = 0
    for entry in manifest["files"]:
        path = tmp_path / "dirty" / entry["file"]
        if path.suffix != ".csv" or not path.stat().st_size:
            continue
        try:
            uses = _uses_vector(entry["feed"], path)
        except Exception:  # a file refused before its lines are read: both engines refuse it alike
            uses = False
        if uses:  # the other files take the same path under both engines
            vectorised += 1
            _compare(entry["feed"], path, fresh_database, monkeypatch, tiny_blocks=False)
    assert vectorised >= 3, "the dirty sample should exercise the vector path"


def test_benchmark_file_loads_identically(warehouse_dsn, fresh_database, monkeypatch, tmp_path):
    """The default engine is the vector one, and it stores the generated file as the line path does."""
    used = []
    copy_blocks = ingestion.vector.copy_blocks
    monkeypatch.setattr(ingestion.vector, "copy_blocks", lambda *args: used.append(1) or copy_blocks(*args))
    monkeypatch.delenv("INGEST_ENGINE", raising=False)
    path = write_service_transactions(tmp_path / "service_transactions.csv", 3000, 7)
    assert load_file("service_transactions", path, dsn=fresh_database()).rows_loaded == 3000
    assert used == [1]
    outcome = _compare("service_transactions", path, fresh_database, monkeypatch, tiny_blocks=False)
    assert outcome["summary"]["rows_loaded"] == 3000
    assert json.dumps(outcome["raw"][0], ensure_ascii=False).count("_row_number") == 1


# Canonical field texts (what the contract pattern lets through) at the edges of each binary encoding.
BINARY_CASES = {
    "text": ["BJ1", "窗口", "a b", "MS010-JF-0020", "🙂x", "", "x", "0"],
    "integer": ["0", "7", "00005", "999999999999999999", "123456789012345678", "", "10000", "1"],
    "decimal": ["0", "0.5", "12.3", "12.34", "9999999999999999.99", "", "10000.01", "0.05"],
    "date": ["1900-01-01", "1900-03-01", "2000-02-29", "2024-02-29", "2099-12-31", "", "1999-12-31", "2000-01-01"],
    "timestamp": ["2021-07-27T08:52:46+08:00", "1900-01-01 00:00:00Z", "2099-12-31T23:59:59.999999-14:59",
                  "2000-01-01T00:00:00.5+00:00", "2024-02-29T12:00:00.123456+14:00", "",
                  "2021-01-01T00:30:00-05:30", "2021-01-01T00:00:00.1234Z"],  # 25 bytes, not the usual shape
}


def test_binary_copy_stores_what_text_copy_stores(warehouse_dsn):
    """Every binary encoding of a canonical value against the server's own parse of its text."""
    from types import SimpleNamespace

    import numpy as np
    import polars as pl

    from ingestion.binarycopy import SIGNATURE, TRAILER, binary_encoder
    from ingestion.registry import PG_TYPES

    types = list(BINARY_CASES)
    spec = SimpleNamespace(columns=[SimpleNamespace(type=t) for t in types])
    encode = binary_encoder(spec)
    assert encode is not None
    rows = len(BINARY_CASES["text"])
    # each column's values rotated so nulls and edges meet every other column's
    fields = [pl.Series([BINARY_CASES[t][(r + i) % rows] for r in range(rows)], dtype=pl.String)
              for i, t in enumerate(types)]
    columns = ", ".join(f"c{i} {PG_TYPES[t]}" for i, t in enumerate(types))
    with connect(warehouse_dsn) as conn:
        conn.execute(f"create temp table bin ({columns}, _extra jsonb, _batch_id bigint, _row_number integer)")
        conn.execute("create temp table txt (like bin)")
        with conn.cursor() as cur:
            with cur.copy("copy bin from stdin (format binary)") as copy:
                copy.write(SIGNATURE)
                copy.write(encode(fields, np.arange(1, rows + 1), 42))
                copy.write(TRAILER)
            with cur.copy("copy txt from stdin") as copy:
                for r in range(rows):
                    texts = [f[r] or "\\N" for f in fields]
                    copy.write("\t".join([*texts, "\\N", "42", str(r + 1)]) + "\n")
        assert conn.execute("select count(*) from bin").fetchone()[0] == rows
        differing = conn.execute("(select * from bin except select * from txt) union all "
                                 "(select * from txt except select * from bin)").fetchall()
        assert differing == []
        # numeric keeps its scale: 0.5 is stored as 0.50 either way
        assert conn.execute("select count(*) from bin b join txt t using (_row_number) "
                            "where b.c2::text is distinct from t.c2::text").fetchone()[0] == 0
