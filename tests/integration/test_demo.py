"""`make demo`'s job, run as a user runs it: the sample through every stage to published marts."""
from __future__ import annotations

import os
import subprocess
import sys

import psycopg

PARTY_KPIS = {
    "street_working_committees": 13,
    "community_regional_party_committees": 123,
    "compound_party_branches": 1391,
    "party_member_responsibility_areas": 4284,
}


def test_demo_publishes_the_reports_party_figures(warehouse_dsn, session_var_dir):
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
