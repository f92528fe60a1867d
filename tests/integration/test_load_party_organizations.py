"""Loading one xlsx feed into real PostgreSQL: rows, rejects, counts, idempotency."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from ingestion.load import load_file
from tests.fixtures.party_files import BAD_ROWS, GOOD_ROWS, write_party_workbook


def test_valid_rows_load_and_bad_rows_are_rejected_with_originals(db, tmp_path):
    path = write_party_workbook(tmp_path / "party_organizations.xlsx", GOOD_ROWS + [r for r, _, _ in BAD_ROWS])

    summary = load_file("party_organizations", path)

    assert summary.status == "partial"
    assert summary.rows_in == len(GOOD_ROWS) + len(BAD_ROWS)
    assert summary.rows_loaded == len(GOOD_ROWS)
    assert summary.rows_rejected == len(BAD_ROWS)
    loaded = db.execute("select org_code, org_type, member_count, founded_date::text from raw.party_organizations "
                        "order by _row_number").fetchall()
    assert loaded == [
        ("S1", "街道大工委", 30, "2019-03-05"),
        ("C1", "城市社区区域党委", 20, "2019-03-05"),
        ("B1", "小区(片区)党支部", 5, "2017-09-22"),  # Excel serial 43000, full-width brackets normalised
        ("R1", "党员责任区", 3, "2020-01-05"),  # full-width digit, compact date
    ]
    rejected = db.execute("select row_number, column_name, rule, original_values from audit.rejected_rows "
                          "where batch_id = %s order by row_number", (summary.batch_id,)).fetchall()
    first_bad_row = 3 + len(GOOD_ROWS)  # title row, header row, then the good rows
    expected = [(first_bad_row + i, column, rule) for i, (_, column, rule) in enumerate(BAD_ROWS)]
    assert [(r[0], r[1], r[2]) for r in rejected] == expected
    negative = next(r for r in rejected if r[2] == "negative")
    assert negative[3]["党员数"] == -5 and negative[3]["组织编码"] == "B2"  # original values, original headers
    batch = db.execute("select rows_in, rows_loaded, rows_rejected, status from audit.ingestion_batches "
                       "where batch_id = %s", (summary.batch_id,)).fetchone()
    assert batch == (summary.rows_in, summary.rows_loaded, summary.rows_rejected, "partial")


def test_same_file_twice_loads_once(db, tmp_path):
    path = write_party_workbook(tmp_path / "party_organizations.xlsx", GOOD_ROWS)
    first = load_file("party_organizations", path)
    copy = tmp_path / "again" / "party_organizations.xlsx"
    copy.parent.mkdir()
    copy.write_bytes(path.read_bytes())

    second = load_file("party_organizations", copy)

    assert (first.status, second.status) == ("loaded", "duplicate")
    assert second.duplicate_of == first.batch_id
    assert db.execute("select count(*) from raw.party_organizations").fetchone()[0] == len(GOOD_ROWS)


def test_children_of_a_rejected_parent_are_rejected_too(db, tmp_path):
    rows = [GOOD_ROWS[0], ["C1", "坏党委", "城市社区区域党委", "S1", "511402001001", "many", None, "正常"],
            ["B1", "支部", "小区(片区)党支部", "C1", "511402001001", 1, None, "正常"]]
    summary = load_file("party_organizations", write_party_workbook(tmp_path / "party_organizations.xlsx", rows))
    rules = db.execute("select row_number, rule from audit.rejected_rows where batch_id = %s order by row_number",
                       (summary.batch_id,)).fetchall()
    assert rules == [(4, "type"), (5, "unknown_parent")]
    assert summary.rows_loaded == 1


def test_parent_from_an_earlier_batch_is_known(db, tmp_path):
    load_file("party_organizations", write_party_workbook(tmp_path / "a" / "party_organizations.xlsx", GOOD_ROWS))
    later = [["B9", "新支部", "小区(片区)党支部", "C1", "511402001001", 2, None, "正常"]]
    summary = load_file("party_organizations", write_party_workbook(tmp_path / "b" / "party_organizations.xlsx", later))
    assert summary.status == "loaded"


@pytest.mark.parametrize("content, rule", [
    (b"", "empty_file"),
    (b"PK\x03\x04 this is not really a workbook", "corrupt_file"),
    (b"\xe7\xbb\x84\xe7\xbb\x87\xe7\xbc\x96\xe7\xa0\x81,a\n", "wrong_format"),
])
def test_file_level_failures_reject_the_whole_file(db, tmp_path, content, rule):
    path = tmp_path / "party_organizations.xlsx"
    path.write_bytes(content)
    summary = load_file("party_organizations", path)
    assert summary.status == "rejected"
    stored = db.execute("select row_number, rule, reason from audit.rejected_rows where batch_id = %s",
                        (summary.batch_id,)).fetchall()
    assert [(r[0], r[1]) for r in stored] == [(None, rule)]
    assert stored[0][2]


def test_missing_required_column_and_header_only(db, tmp_path):
    from openpyxl import Workbook

    workbook = Workbook()
    workbook.active.append(["组织编码", "组织名称", "上级组织编码"])
    workbook.active.append(["S1", "x", None])
    path = tmp_path / "party_organizations.xlsx"
    workbook.save(path)
    missing = load_file("party_organizations", path)
    assert missing.status == "rejected" and "组织类型" in missing.message

    header_only = write_party_workbook(tmp_path / "h" / "party_organizations.xlsx", [])
    summary = load_file("party_organizations", header_only)
    assert (summary.status, summary.rows_in) == ("rejected", 0)
    assert summary.errors[0]["rule"] == "no_rows"


def test_database_refuses_unbalanced_counts(db):
    import psycopg

    with pytest.raises(psycopg.errors.CheckViolation):
        db.execute("insert into audit.ingestion_batches (feed_id, file_name, sha256, file_bytes, status, rows_in, "
                   "rows_loaded, rows_rejected) values ('x', 'x.csv', repeat('a', 64), 1, 'loaded', 5, 3, 1)")


def test_cli_load_json_and_exit_codes(warehouse_dsn, tmp_path):
    good = write_party_workbook(tmp_path / "party_organizations.xlsx", GOOD_ROWS)
    run = subprocess.run([sys.executable, "-m", "ingestion", "load", "party_organizations", str(good), "--json"],
                         capture_output=True, text=True, check=False)
    assert run.returncode == 0, run.stderr
    summary = json.loads(run.stdout)
    assert {"batch_id", "feed", "file", "sha256", "status", "rows_in", "rows_loaded", "rows_rejected",
            "errors"} <= summary.keys()
    assert (summary["status"], summary["rows_loaded"]) == ("loaded", 4)

    broken = tmp_path / "broken" / "party_organizations.xlsx"
    broken.parent.mkdir()
    broken.write_bytes(b"not a workbook")
    run = subprocess.run([sys.executable, "-m", "ingestion", "load", "party_organizations", str(broken), "--json"],
                         capture_output=True, text=True, check=False)
    assert run.returncode == 1
    assert "party_organizations.xlsx rejected" in run.stderr
    assert json.loads(run.stdout)["status"] == "rejected"
