"""`make demo` and `make demo-dirty`, run as a user runs them, on one warehouse: the sample through
every stage to published marts, then a publication blocked by the gate, its report, marts unchanged."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from tests.conftest import create_database, drop_database

PARTY_KPIS = {
    "street_working_committees": 13,
    "community_regional_party_committees": 123,
    "compound_party_branches": 1391,
    "party_member_responsibility_areas": 4284,
}


@pytest.fixture(scope="module")
def demo_warehouse(server_dsn, session_var_dir, tmp_path_factory):
    """One warehouse for the module (as `warehouse_dsn`, module-wide): the dirty demo protects the clean one's marts."""
    from warehouse.bootstrap import bootstrap

    work = tmp_path_factory.mktemp("demo")
    dsn = create_database(server_dsn)
    with pytest.MonkeyPatch.context() as env:
        env.setenv("WAREHOUSE_DSN", dsn)
        env.setenv("GOV_VAR_DIR", str(session_var_dir))
        for name, folder in (("LANDING_URI", "landing"), ("ARCHIVE_DIR", "archive"), ("REPORTS_DIR", "reports")):
            env.setenv(name, str(work / folder))
        env.setenv("PII_HMAC_KEY", "test-key-not-secret")
        bootstrap(dsn)
        try:
            yield dsn
        finally:
            drop_database(server_dsn, dsn)


def test_demo_publishes_the_reports_party_figures(demo_warehouse):
    warehouse_dsn = demo_warehouse
    run = subprocess.run([sys.executable, "-m", "govctl", "demo"], capture_output=True, text=True,
                         env=dict(os.environ), timeout=600)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert "outcome: published" in run.stdout
    assert warehouse_dsn in run.stdout  # the DSN is printed for the user
    with psycopg.connect(warehouse_dsn) as conn:
        kpis = {code: int(value) for code, value in conn.execute(
            "select kpi_code, kpi_value from marts.governance_kpis where kpi_code = any(%s)", (list(PARTY_KPIS),))}
        balance = conn.execute("select count(*) from audit.ingestion_batches "
                               "where rows_in <> rows_loaded + rows_rejected").fetchone()[0]
    assert kpis == PARTY_KPIS
    assert balance == 0
    for code, value in PARTY_KPIS.items():
        assert f"{code}" in run.stdout and str(value) in run.stdout

    again = subprocess.run([sys.executable, "-m", "govctl", "demo"], capture_output=True, text=True,
                           env=dict(os.environ), timeout=600)
    assert again.returncode == 0, again.stdout[-3000:]
    assert "duplicate" in again.stdout and "nothing_to_do" in again.stdout


def test_demo_dirty_blocks_and_leaves_marts_unchanged(demo_warehouse):
    """After the clean demo of this module (run alone, `demo --dirty` runs the clean demo first)."""
    warehouse_dsn = demo_warehouse
    run = subprocess.run([sys.executable, "-m", "govctl", "demo", "--dirty"], capture_output=True, text=True,
                         env=dict(os.environ), timeout=1800)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
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
