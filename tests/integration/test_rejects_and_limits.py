"""Rejected rows without clear personal information, resource limits per file, and the PII
gate's scan, against real PostgreSQL."""
from __future__ import annotations

import json
import time
import zipfile

import psycopg
import pytest
from openpyxl import Workbook

from ingestion.load import load_file, prepare_warehouse
from warehouse.checks import pii_scan
from warehouse.credentials import login_dsn

WORKER_HEADER = "身份证号,姓名,手机号,职业资格,所属社工站编码,区县代码,入职日期\n"
WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def id_number(body17: str) -> str:
    return body17 + "10X98765432"[sum(int(d) * w for d, w in zip(body17, WEIGHTS, strict=True)) % 11]


def test_rejected_rows_mask_personal_columns_and_keep_clear_values_for_the_steward(db, warehouse_dsn, tmp_path):
    good, bad, dup = id_number("51140219900307123"), id_number("51140219850101456"), id_number("51140219700101789")
    path = tmp_path / "social_workers.csv"
    path.write_text(WORKER_HEADER
                    + f"{good},王小明,13812345678,社会工作师,,511402,2020-01-01\n"
                    + f"{bad},李四光,13912345678,不存在的资格,,511402,2020-01-01\n"  # bad enum: rejected in Python
                    + f"{dup},赵六,13712345678,无,,511402,2020-01-01\n"
                    + f"{dup},赵六,13712345678,无,,511402,2020-01-01\n",  # duplicate key: rejected in SQL
                    encoding="utf-8")
    summary = load_file("social_workers", path)
    assert (summary.rows_loaded, summary.rows_rejected) == (1, 3)
    rows = db.execute("select row_number, rule, original_values from audit.rejected_rows "
                      "where batch_id = %s order by row_number", (summary.batch_id,)).fetchall()
    assert [(r[0], r[1]) for r in rows] == [(3, "enum"), (4, "duplicate_key"), (5, "duplicate_key")]
    audited = json.dumps([r[2] for r in rows], ensure_ascii=False)
    for clear in (bad, dup, "李四光", "赵六", "13912345678", "13712345678"):
        assert clear not in audited
    assert rows[0][2]["身份证号"] == "*" * 16 + bad[-2:] and rows[0][2]["职业资格"] == "不存在的资格"
    clear_rows = db.execute("select row_number, original_values from audit.rejected_values_clear "
                            "where batch_id = %s order by row_number", (summary.batch_id,)).fetchall()
    assert [r[0] for r in clear_rows] == [3, 4, 5]
    assert clear_rows[0][1]["身份证号"] == bad and clear_rows[1][1]["id_number"] == dup

    with psycopg.connect(login_dsn(warehouse_dsn, "auditor")) as auditor:
        assert auditor.execute("select count(*) from audit.rejected_rows").fetchone()[0] == 3
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            auditor.execute("select * from audit.rejected_values_clear")
    with db.transaction():
        db.execute("set local role data_steward")
        assert db.execute("select count(*) from audit.rejected_values_clear").fetchone()[0] == 3


def _bomb(path, size: int) -> None:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/worksheets/sheet1.xml", b"<" * size)


def test_xlsx_zip_bombs_are_refused_before_unpacking(db, tmp_path, monkeypatch):
    path = tmp_path / "party_organizations.xlsx"
    _bomb(path, 50 << 20)
    started = time.perf_counter()
    summary = load_file("party_organizations", path)
    assert summary.status == "rejected" and "MAX_XLSX_COMPRESSION_RATIO" in summary.message
    assert time.perf_counter() - started < 30
    monkeypatch.setenv("MAX_XLSX_UNCOMPRESSED_BYTES", str(1 << 20))
    other = tmp_path / "b" / "party_organizations.xlsx"
    other.parent.mkdir()
    _bomb(other, 2 << 20)
    summary = load_file("party_organizations", other)
    assert summary.status == "rejected" and "MAX_XLSX_UNCOMPRESSED_BYTES" in summary.message


def test_long_cells_reject_their_row_in_xlsx_and_the_file_in_csv(db, tmp_path, monkeypatch):
    monkeypatch.setenv("MAX_CELL_CHARS", "50")
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["组织编码", "组织名称", "组织类型", "上级组织编码", "所在区划代码", "党员数", "成立日期", "状态"])
    sheet.append(["A1", "甲", "街道大工委", None, "511402001", 3, None, "正常"])
    sheet.append(["A2", "乙" * 60, "街道大工委", None, "511402001", 3, None, "正常"])
    path = tmp_path / "party_organizations.xlsx"
    workbook.save(path)
    summary = load_file("party_organizations", path)
    assert (summary.rows_loaded, summary.rows_rejected) == (1, 1)
    assert summary.errors[0]["rule"] == "cell_too_long" and "MAX_CELL_CHARS" in summary.errors[0]["reason"]

    csv_path = tmp_path / "fund_allocations.csv"
    csv_path.write_text("拨付编号,资金来源部门,资金用途,社区代码,金额(万元),拨付日期\n"
                        f"BF1,市财政局,\"{'经费' * 40}\",511402001001,1.50,2021-10-10\n", encoding="utf-8")
    summary = load_file("fund_allocations", csv_path)
    assert summary.status == "rejected" and "MAX_CELL_CHARS" in summary.message


def test_jsonl_with_a_new_key_on_every_line_is_refused_quickly(db, tmp_path):
    path = tmp_path / "grid_events.jsonl"
    with path.open("w", encoding="utf-8") as handle:
        for n in range(100_000):
            handle.write(json.dumps({"event_id": f"E{n}", f"k{n}": n}) + "\n")
    started = time.perf_counter()
    summary = load_file("grid_events", path)
    seconds = time.perf_counter() - started
    assert summary.status == "rejected" and "MAX_JSONL_KEYS" in summary.message
    assert seconds < 20, seconds  # was 146 s before the cap (quadratic in the distinct keys)


def test_jsonl_long_line_rejects_that_line(db, tmp_path, monkeypatch):
    monkeypatch.setenv("MAX_LINE_CHARS", "400")
    record = {"case_no": "C1", "received_at": "2021-03-01T09:00:00+08:00", "dispute_type": "邻里纠纷",
              "mediation_kind": "人民调解", "community_code": "511402001001", "outcome": "调解成功"}
    path = tmp_path / "mediation_cases.jsonl"
    path.write_text(json.dumps(record, ensure_ascii=False) + "\n"
                    + json.dumps({**record, "case_no": "C2", "dispute_type": "x" * 500}) + "\n", encoding="utf-8")
    summary = load_file("mediation_cases", path)
    assert (summary.rows_loaded, summary.rows_rejected) == (1, 1)
    assert summary.errors[0]["rule"] == "line_too_long" and "MAX_LINE_CHARS" in summary.errors[0]["reason"]


def test_pii_scan_finds_clear_values_in_free_text(db):
    person = id_number("11010119900307777")
    db.execute("create schema scan_candidate")
    db.execute("create table scan_candidate.fct_fund_allocations (allocation_code text, purpose text, "
               "person_key text, amount numeric)")
    db.execute("create table scan_candidate.dim_divisions (division_code text, division_name text)")
    db.execute("insert into scan_candidate.fct_fund_allocations values "
               "('BF202100001', '社区公共服务经费', repeat('a1', 32), 1), "
               "('BF202100002', %s, null, 2), ('BF202100003', '卡号 4111111111111111', null, 3), "
               "('BF202100004', '电话 138****5678，统一代码 52511423620162000D', null, 4)",
               (f"联系人张三 13812345678 身份证{person}",))
    db.execute("insert into scan_candidate.dim_divisions values ('511402001001', '东坡区')")
    checks = {c.target: c for c in pii_scan(db, "scan_candidate")}
    assert checks["dim_divisions"].status == "pass" and checks["dim_divisions"].severity == "critical"
    funds = checks["fct_fund_allocations"]
    assert (funds.status, funds.failures) == ("fail", 2)
    assert funds.details["hits"]["purpose"]["kinds"] == ["bank_card", "id_number"]
    assert "13812345678" not in funds.message and person not in funds.message  # never the value itself


def test_raw_rows_of_a_finished_batch_cannot_be_deleted(db, warehouse_dsn, tmp_path):
    path = tmp_path / "fund_allocations.csv"
    path.write_text("拨付编号,资金来源部门,资金用途,社区代码,金额(万元),拨付日期\n"
                    "BF1,市财政局,经费,511402001001,1.50,2021-10-10\n", encoding="utf-8")
    assert load_file("fund_allocations", path).status == "loaded"
    with psycopg.connect(login_dsn(warehouse_dsn, "ingest")) as ingest:
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
            ingest.execute("delete from raw.fund_allocations")
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
        db.execute("delete from raw.fund_allocations")  # not even the owner, by accident
    assert db.execute("select count(*) from raw.fund_allocations").fetchone()[0] == 1


def test_raw_tables_have_a_brin_batch_index_and_no_primary_key_even_after_an_older_schema(db, warehouse_dsn, tmp_path):
    """The loader numbers each batch's rows itself: raw keeps no btree primary key (a third of the
    COPY's server time) but a BRIN index on _batch_id. An older raw table with the primary key is
    migrated; a batch is still found by its BRIN index, and a key repeated in a file still rejected."""
    prepare_warehouse(warehouse_dsn)
    db.execute("alter table raw.social_workers add primary key (_batch_id, _row_number)")  # the older schema
    db.execute("drop index raw.social_workers__batch")
    db.execute("delete from audit.bootstrap_state where unit = 'raw_tables'")
    good, dup = id_number("51140219900307123"), id_number("51140219700101789")
    path = tmp_path / "social_workers.csv"
    path.write_text(WORKER_HEADER + f"{good},王小明,13812345678,社会工作师,,511402,2020-01-01\n"
                    + f"{dup},赵六,13712345678,无,,511402,2020-01-01\n" * 2, encoding="utf-8")
    summary = load_file("social_workers", path)
    assert (summary.rows_loaded, summary.rows_rejected) == (1, 2)
    for feed in ("social_workers", "service_transactions"):
        constraints = db.execute("select contype from pg_constraint where conrelid = %s::regclass",
                                 (f"raw.{feed}",)).fetchall()
        assert ("p",) not in constraints and ("f",) not in constraints
        assert db.execute("select pg_get_indexdef(%s::regclass)", (f"raw.{feed}__batch",)).fetchone()[0] == (
            f"CREATE INDEX {feed}__batch ON raw.{feed} USING brin (_batch_id) WITH (autosummarize='on')")
    with db.transaction():
        db.execute("set local enable_seqscan = off")
        plan = "\n".join(r[0] for r in db.execute(
            "explain select count(*) from raw.social_workers where _batch_id = %s", (summary.batch_id,)))
    assert "social_workers__batch" in plan
