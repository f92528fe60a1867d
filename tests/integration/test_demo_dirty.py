"""`make demo-dirty` as a user runs it: a publication blocked by the gate, its report, marts unchanged."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import psycopg


def test_demo_dirty_blocks_and_leaves_marts_unchanged(warehouse_dsn, tmp_path):
    run = subprocess.run([sys.executable, "-m", "govctl", "demo", "--dirty"], capture_output=True, text=True,
                         env=dict(os.environ), timeout=1800)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert "outcome: published" in run.stdout  # the clean demo ran first: there were marts to protect
    assert "outcome: blocked" in run.stdout
    assert "marts unchanged / 数据集市未变: yes" in run.stdout
    report = Path(re.search(r"report / 报告: (\S+)", run.stdout).group(1))
    with psycopg.connect(warehouse_dsn) as conn:
        outcome, failed, path = conn.execute(
            "select outcome, checks_failed, report_path from audit.publications order by publication_id desc "
            "limit 1").fetchone()
        failing = [r[0] for r in conn.execute(
            "select check_name from audit.check_results where publication_id = (select max(publication_id) "
            "from audit.publications) and severity = 'critical' and status <> 'pass' order by check_name")]
        messages = conn.execute(
            "select check_name, message from audit.check_results where publication_id = (select max(publication_id) "
            "from audit.publications) and severity = 'critical' and status <> 'pass'").fetchall()
        rejected = conn.execute("select count(*) from audit.rejected_rows").fetchone()[0]
        published = conn.execute("select count(*) from audit.publications where outcome = 'published'").fetchone()[0]
    assert (outcome, Path(path)) == ("blocked", report) and failed >= 1
    # Exactly the mis-filed 党员责任区 the demo adds blocks. The dirty sample also keeps all-digit
    # 统一社会信用代码 with a wrong check character (a warning) that pass Luhn by chance: the columns
    # holding them are organisation codes by contract (dbt meta code_type: uscc), not bank cards.
    misfiled = "dim_party_organizations.critical:expect_column_pair_values_to_be_equal"
    assert failing == [misfiled], messages
    assert rejected > 100 and published == 1
    page = report.read_text(encoding="utf-8")
    assert 'id="decision"' in page and misfiled in page and 'id="rejects"' in page
