"""`ingestion status` for people and scripts; a file refused whole still counts the rows it had."""
from __future__ import annotations

import json
import subprocess
import sys

from ingestion.load import load_file

HEADER = "拨付编号,资金来源部门,资金用途,社区代码,金额(万元),拨付日期\n"
ROWS = [f"BF{i},市财政局,经费,511402001001,10.00,2021-10-10\n" for i in range(1, 8)]


def _status(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ingestion", "status", *args], capture_output=True, text=True,
                          check=False)


def test_a_file_refused_whole_records_its_data_rows(db, warehouse_dsn, tmp_path):
    # A required column is missing: the file is refused whole, but it had 7 data rows (and a blank line).
    no_amount = tmp_path / "fund_allocations.csv"
    no_amount.write_text(HEADER.replace(",金额(万元)", "") + "".join(r.replace(",10.00", "") for r in ROWS) + "\n",
                         encoding="utf-8")
    summary = load_file("fund_allocations", no_amount)
    assert summary.status == "rejected" and "金额" in summary.message
    assert (summary.rows_in, summary.rows_loaded, summary.rows_rejected) == (7, 0, 7)
    stored = db.execute("select rows_in, rows_loaded, rows_rejected from audit.ingestion_batches where batch_id = %s",
                        (summary.batch_id,)).fetchone()
    assert stored == (7, 0, 7)
    # An empty file had no rows.
    empty = tmp_path / "empty" / "fund_allocations.csv"
    empty.parent.mkdir()
    empty.write_bytes(b"")
    refused = load_file("fund_allocations", empty)
    assert (refused.status, refused.rows_in, refused.rows_rejected) == ("rejected", 0, 0)


def test_status_reads_as_text_and_as_json(db, warehouse_dsn, tmp_path):
    good = tmp_path / "fund_allocations.csv"
    good.write_text(HEADER + "".join(ROWS), encoding="utf-8")
    load_file("fund_allocations", good)
    db.execute("insert into audit.publications (run_id, outcome, message) "
               "values ('r1', 'failed', 'failed: dbt was killed by SIGKILL (killed, or out of memory)')")

    text = _status()
    assert text.returncode == 0, text.stderr
    lines = text.stdout.splitlines()
    assert lines[0].split()[:2] == ["feed", "batches"]
    [fund] = [line for line in lines if line.startswith("fund_allocations")]
    assert fund.split()[1:5] == ["1", "7", "7", "0"]
    assert any(line.startswith("last publication: #") and "FAILED" in line for line in lines)
    assert any("SIGKILL" in line for line in lines)
    assert "marts: nothing published yet" in text.stdout
    assert "{" not in text.stdout, "no dict dumps for people"

    as_json = json.loads(_status("--json").stdout)
    assert as_json["feeds"][0]["rows_loaded"] == 7 and as_json["last_publication"]["outcome"] == "failed"
    assert as_json["last_published"] is None
