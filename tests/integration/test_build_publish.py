"""dbt build → quality gate → atomic publication, on a real warehouse."""
from __future__ import annotations

import threading
import time

import psycopg
import pytest

from ingestion.load import load_file
from tests.fixtures.party_files import GOOD_ROWS, write_party_workbook
from warehouse.publication import build_and_publish


def _kpis(conn) -> dict[str, float]:
    return {code: float(value) for code, value in conn.execute("select kpi_code, kpi_value from marts.governance_kpis")}


def test_publication_reaches_marts_and_readers(db, warehouse_dsn, tmp_path):
    load_file("party_organizations", write_party_workbook(tmp_path / "party_organizations.xlsx", GOOD_ROWS))

    result = build_and_publish("test-publish")

    assert result["outcome"] == "published", result["failed_checks"]
    assert result["checks_failed"] == 0 and result["checks_passed"] == result["checks_total"] > 10
    kpis = _kpis(db)
    assert kpis["street_working_committees"] == 1 and kpis["party_member_responsibility_areas"] == 1
    paths = dict(db.execute("select org_code, hierarchy_path from marts.dim_party_organizations"))
    assert paths["R1"] == "S1/C1/B1/R1"
    sources = {row[0] for row in db.execute(
        "select distinct check_source from audit.check_results where publication_id = %s",
        (result["publication_id"],))}
    assert sources == {"dbt", "gx", "reconciliation"}
    report = tmp_path / "reports" / f"publication_{result['publication_id']:06d}.html"
    assert report.exists() and "published" in report.read_text(encoding="utf-8")
    # Column comments are in the catalog for BI tools, in both languages.
    comment = db.execute("select col_description('marts.dim_party_organizations'::regclass, 1)").fetchone()[0]
    assert "组织编码" in comment
    # bi_reader reads marts, never raw.
    with db.transaction():
        db.execute("set local role bi_reader")
        assert db.execute("select count(*) from marts.governance_kpis").fetchone()[0] >= 4
    with pytest.raises(psycopg.errors.InsufficientPrivilege), db.transaction():
        db.execute("set local role bi_reader")
        db.execute("select count(*) from raw.party_organizations")
    # Nothing new arrived: the next build has nothing to do.
    assert build_and_publish("test-again")["outcome"] == "nothing_to_do"


def test_failed_check_blocks_and_leaves_marts_unchanged(db, warehouse_dsn, tmp_path):
    load_file("party_organizations", write_party_workbook(tmp_path / "party_organizations.xlsx", GOOD_ROWS))
    assert build_and_publish("good")["outcome"] == "published"
    before = db.execute("select * from marts.dim_party_organizations order by org_code").fetchall()
    # A defect the feed contract cannot see: an organisation type outside the list, written straight into raw.
    batch = db.execute("select max(batch_id) from audit.ingestion_batches").fetchone()[0]
    db.execute("insert into raw.party_organizations (org_code, org_name, org_type, division_code, status, "
               "_batch_id, _row_number) values ('X1', 'x', '不存在的类型', '511402001', '正常', %s, 999)", (batch,))

    result = build_and_publish("bad", force=True)

    assert result["outcome"] == "blocked"
    failed = {c["name"] for c in result["failed_checks"]}
    assert any("accepted_values" in name for name in failed), failed
    assert db.execute("select * from marts.dim_party_organizations order by org_code").fetchall() == before
    row = db.execute("select outcome, checks_failed from audit.publications where publication_id = %s",
                     (result["publication_id"],)).fetchone()
    assert row[0] == "blocked" and row[1] >= 1
    stored = db.execute("select count(*) from audit.check_results where publication_id = %s and status <> 'pass'",
                        (result["publication_id"],)).fetchone()[0]
    assert stored >= 1


def test_swap_is_atomic_for_running_readers(db, warehouse_dsn, tmp_path):
    load_file("party_organizations", write_party_workbook(tmp_path / "a" / "party_organizations.xlsx", GOOD_ROWS))
    assert build_and_publish("first")["outcome"] == "published"
    extra = [["R2", "二号责任区", "党员责任区", "B1", "511402001001", 2, None, "正常"]]
    load_file("party_organizations", write_party_workbook(tmp_path / "b" / "party_organizations.xlsx", extra))

    seen: list[int] = []
    errors: list[Exception] = []
    stop = threading.Event()

    def read_continuously() -> None:
        with psycopg.connect(warehouse_dsn, autocommit=True) as reader:
            while not stop.is_set():
                try:
                    seen.append(reader.execute("select count(*) from marts.dim_party_organizations").fetchone()[0])
                except psycopg.Error as exc:  # any error a BI tool would see
                    errors.append(exc)
                time.sleep(0.002)

    thread = threading.Thread(target=read_continuously)
    thread.start()
    try:
        assert build_and_publish("second")["outcome"] == "published"
        time.sleep(0.2)
    finally:
        stop.set()
        thread.join()
    assert errors == []
    assert set(seen) == {4, 5}, set(seen)  # the old marts or the new, never empty
