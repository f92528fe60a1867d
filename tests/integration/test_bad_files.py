"""Bad files never block a feed: a file that cannot be loaded is recorded as rejected with
a clear message and the next file loads; an unstorable cell rejects its row, not the file."""
from __future__ import annotations

import json

from ingestion.intake import ingest_pending
from ingestion.load import load_file

FUND_HEADER = "拨付编号,资金来源部门,资金用途,社区代码,金额(万元),拨付日期\n"


def _fund_row(n: int, purpose: str = "社区公益创投资金") -> str:
    return f"BF{n:08d},市财政局,{purpose},511402001001,{n % 90}.50,2021-10-10\n"


def _rejects(db, batch_id: int) -> list[tuple]:
    return db.execute("select row_number, column_name, rule, reason, original_values from audit.rejected_rows "
                      "where batch_id = %s order by row_number", (batch_id,)).fetchall()


def test_nul_byte_in_one_cell_rejects_that_row_only(db, tmp_path):
    path = tmp_path / "fund_allocations.csv"
    path.write_text(FUND_HEADER + _fund_row(1) + _fund_row(2, "社区\x00经费") + _fund_row(3), encoding="utf-8")
    summary = load_file("fund_allocations", path)
    assert (summary.status, summary.rows_in, summary.rows_loaded, summary.rows_rejected) == ("partial", 3, 2, 1)
    [(row, column, rule, reason, original)] = _rejects(db, summary.batch_id)
    assert (row, column, rule) == (3, "purpose", "unstorable_value")
    assert "NUL" in reason and original["资金用途"] == "社区\\x00经费"


def test_shifted_row_is_rejected_not_kept_in_extra(db, tmp_path):
    path = tmp_path / "fund_allocations.csv"
    path.write_text(FUND_HEADER + _fund_row(1) + "BF00000002,市财政局,社区,经费,511402001001,1.50,2021-10-10\n",
                    encoding="utf-8")
    summary = load_file("fund_allocations", path)
    assert (summary.rows_loaded, summary.rows_rejected) == (1, 1)
    [(row, column, rule, reason, _)] = _rejects(db, summary.batch_id)
    assert (row, rule) == (3, "shifted_row") and "7 fields but the header has 6" in reason
    assert db.execute("select count(*) from raw.fund_allocations where _extra is not null").fetchone()[0] == 0


def test_unstorable_json_values_reject_their_rows(db, tmp_path):
    good = {"case_no": "C1", "received_at": "2021-03-01T09:00:00+08:00", "dispute_type": "邻里纠纷",
            "mediation_kind": "人民调解", "community_code": "511402001001", "outcome": "调解成功"}
    lines = [json.dumps(good, ensure_ascii=False),
             json.dumps({**good, "case_no": "C2", "dispute_type": "邻里\u0000纠纷"}),
             json.dumps({**good, "case_no": "C3"}, ensure_ascii=False).replace("邻里纠纷", "\\ud800"),  # a lone surrogate escape
             "{\"case_no\": \"C4\x00\"}",  # a raw NUL byte: not even JSON
             json.dumps({**good, "case_no": "C5"}, ensure_ascii=False)]
    path = tmp_path / "mediation_cases.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    summary = load_file("mediation_cases", path)
    assert (summary.rows_in, summary.rows_loaded, summary.rows_rejected) == (5, 2, 3)
    rules = {row: rule for row, _, rule, _, _ in _rejects(db, summary.batch_id)}
    assert rules == {2: "unstorable_value", 3: "unstorable_value", 4: "json_syntax"}


def test_a_file_that_cannot_be_loaded_does_not_block_the_next(db, tmp_path, monkeypatch):
    landing = tmp_path / "landing" / "fund_allocations"
    landing.mkdir(parents=True)
    long_name = "a." + "x" * 240  # fine on disk, too long once archived under its content hash
    (landing / long_name).write_text(FUND_HEADER + _fund_row(1), encoding="utf-8")
    (landing / "b_undecodable.csv").write_bytes(FUND_HEADER.encode() + b"BF1,\xff\xfe,x,511402001001,1,2021-10-10\n")
    (landing / "c_good.csv").write_text(FUND_HEADER + _fund_row(7), encoding="utf-8")
    summaries = ingest_pending("fund_allocations")
    outcome = {s["file"][:12]: (s["status"], s["message"]) for s in summaries}
    assert outcome["a.xxxxxxxxxx"][0] == "rejected" and "archived" in outcome["a.xxxxxxxxxx"][1]
    assert outcome["b_undecodabl"][0] == "rejected" and "not valid utf-8" in outcome["b_undecodabl"][1]
    assert outcome["c_good.csv"] == ("loaded", None)
    assert db.execute("select count(*) from raw.fund_allocations").fetchone()[0] == 1
    assert list(landing.iterdir()) == []  # every file taken, none left to block the feed


def test_file_names_are_stored_escaped(db, tmp_path):
    path = tmp_path / "fund\x1b[31m\nallocations.csv"
    path.write_text(FUND_HEADER + _fund_row(1), encoding="utf-8")
    summary = load_file("fund_allocations", path)
    assert summary.file == "fund\\x1b[31m\\nallocations.csv"
    stored = db.execute("select file_name from audit.ingestion_batches where batch_id = %s",
                        (summary.batch_id,)).fetchone()[0]
    assert "\x1b" not in stored and "\n" not in stored
