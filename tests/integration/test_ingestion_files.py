"""File-level outcomes against real PostgreSQL: encodings, formats, size, empty files."""
from __future__ import annotations

import codecs

import pytest

from ingestion.load import load_file

HEADER = "统一社会信用代码,组织名称,组织类别,孵化平台,登记日期,所在社区代码,状态\n"
ROW = "52511423620162000D,{name},功能服务型,,2020-01-18,511423001004,正常\n"
FUND_HEADER = "拨付编号,资金来源部门,资金用途,社区代码,金额(万元),拨付日期\n"


def _fund_rows(count: int, start: int = 1) -> str:
    return "".join(f"BF{n:08d},市财政局,社区公益创投资金,511402001001,{n % 90}.50,2021-10-10\n"
                   for n in range(start, start + count))


def _rejected(db, summary) -> list[tuple]:
    return db.execute("select row_number, rule from audit.rejected_rows where batch_id = %s",
                      (summary.batch_id,)).fetchall()


@pytest.mark.parametrize("prefix", [b"", codecs.BOM_UTF8])
def test_utf8_with_and_without_bom(db, tmp_path, prefix):
    path = tmp_path / "fund_allocations.csv"
    path.write_bytes(prefix + (FUND_HEADER + _fund_rows(3)).encode("utf-8"))
    summary = load_file("fund_allocations", path)
    assert (summary.status, summary.rows_loaded) == ("loaded", 3)
    assert db.execute("select source_department from raw.fund_allocations limit 1").fetchone()[0] == "市财政局"


def test_gb18030_file_for_a_gb18030_feed(db, tmp_path):
    path = tmp_path / "social_organizations.csv"
    path.write_bytes((HEADER + ROW.format(name="新桥湖社区平安巡逻队")).encode("gb18030"))
    summary = load_file("social_organizations", path)
    assert summary.status == "loaded"
    assert db.execute("select org_name from raw.social_organizations").fetchone()[0] == "新桥湖社区平安巡逻队"


def test_gb18030_file_declared_utf8_fails_loudly(db, tmp_path):
    path = tmp_path / "fund_allocations.csv"
    path.write_bytes((FUND_HEADER + _fund_rows(3)).encode("gb18030"))
    summary = load_file("fund_allocations", path)
    assert summary.status == "rejected" and "GB18030" in summary.message
    assert _rejected(db, summary) == [(None, "wrong_encoding")]


def test_gb18030_bytes_deep_in_a_utf8_file_roll_back_everything(db, tmp_path):
    path = tmp_path / "fund_allocations.csv"
    body = (FUND_HEADER + _fund_rows(30000)).encode("utf-8")
    bad = "BF99999999,市财政局,用途,511402001001,1.00,2021-10-10\n".encode("gb18030")
    path.write_bytes(body + bad + _fund_rows(10, start=40000).encode("utf-8"))
    summary = load_file("fund_allocations", path)
    assert summary.status == "rejected" and summary.rows_loaded == 0
    assert "line 30002" in summary.message
    assert db.execute("select count(*) from raw.fund_allocations").fetchone()[0] == 0


def test_utf8_file_declared_gb18030_fails_loudly_even_after_an_ascii_start(db, tmp_path):
    """Canonical (ASCII) headers and 3,000 ASCII rows, then UTF-8 Chinese: refused, not mojibake."""
    path = tmp_path / "social_organizations.csv"
    header = "uscc,org_name,category,incubator,registered_date,community_code,status\n"
    ascii_rows = "".join(f"52511423620162{n:03d}D,Team {n},其他,,2020-01-18,511423001004,正常\n"
                         for n in range(3000)).replace("其他", "QT").replace("正常", "ZC")
    path.write_bytes((header + ascii_rows + ROW.format(name="新桥湖社区平安巡逻队") * 3).encode("utf-8"))
    assert path.read_bytes()[:65536].isascii()
    summary = load_file("social_organizations", path)
    assert summary.status == "rejected" and "UTF-8" in summary.message
    assert _rejected(db, summary) == [(None, "wrong_encoding")]
    assert db.execute("select count(*) from raw.social_organizations").fetchone()[0] == 0


def test_file_over_the_size_limit(db, tmp_path, monkeypatch):
    monkeypatch.setenv("MAX_FILE_BYTES", "100")
    path = tmp_path / "fund_allocations.csv"
    path.write_text(FUND_HEADER + _fund_rows(5), encoding="utf-8")
    summary = load_file("fund_allocations", path)
    assert summary.status == "rejected" and "MAX_FILE_BYTES" in summary.message
    assert _rejected(db, summary) == [(None, "file_too_large")]


@pytest.mark.parametrize("name, content, rule", [
    ("fund_allocations.csv", b"", "empty_file"),
    ("fund_allocations.csv", FUND_HEADER.encode(), "no_rows"),
    ("fund_allocations.csv", "拨付编号,资金用途\nBF1,x\n".encode(), "missing_column"),
    ("fund_allocations.xlsx", FUND_HEADER.encode(), "wrong_format"),
    ("fund_allocations.csv", b"PK\x03\x04\x00\x00binary", "wrong_format"),
    ("mediation_cases.jsonl", b"case_no,received_at\nA,B\n", "wrong_format"),
    ("mediation_cases.jsonl", b"\n\n", "empty_file"),
])
def test_file_level_failures(db, tmp_path, name, content, rule):
    path = tmp_path / name
    path.write_bytes(content)
    summary = load_file(name.split(".")[0], path)
    assert summary.status == "rejected" and summary.message
    assert _rejected(db, summary) == [(None, rule)]
    batch = db.execute("select status, rows_in, rows_loaded, rows_rejected from audit.ingestion_batches "
                       "where batch_id = %s", (summary.batch_id,)).fetchone()
    assert batch[0] == "rejected" and batch[1] == batch[3] and batch[2] == 0


def test_jsonl_unknown_keys_are_kept_and_reported(db, tmp_path):
    path = tmp_path / "grid_events.jsonl"
    path.write_text(
        '{"event_id": "E1", "grid_code": "G1", "community_code": "511402001001", "category": "x", '
        '"reported_at": "2021-03-05T10:00:00+08:00", "escalations": [], "status": "办理中", "remark": "补录"}\n'
        '{"event_id": "E2", "grid_code": "G1", "community_code": "511402001001", "category": "x", '
        '"reported_at": "2021-03-05 10:00", "status": "办理中"}\n'
        '{"event_id": broken\n', encoding="utf-8")
    summary = load_file("grid_events", path)
    assert (summary.status, summary.rows_loaded, summary.rows_rejected, summary.warnings) == ("partial", 2, 1, 1)
    assert db.execute("select _extra->>'remark' from raw.grid_events where event_id = 'E1'").fetchone()[0] == "补录"
    assert db.execute("select rule, row_number from audit.ingestion_warnings").fetchall() == [("schema_drift", None)]
    assert _rejected(db, summary) == [(3, "json_syntax")]
    assert db.execute("select reported_at = '2021-03-05T10:00:00+08:00' from raw.grid_events "
                      "where event_id = 'E2'").fetchone()[0]
