"""`dag.test()` of the ingest and build_publish DAGs against a real metadata database.

Each scenario runs in a subprocess with the environment of an isolated Airflow
(tests/airflow/conftest.py), on a fresh bootstrapped warehouse (tests/conftest.py).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import psycopg

from tests.fixtures.party_files import GOOD_ROWS, write_party_workbook

RUNNER = Path(__file__).with_name("dag_test_runner.py")


def run_dags(env: dict[str, str], *dag_ids: str) -> list[dict]:
    """dag.test() each DAG in turn in one subprocess; one result per run, in order."""
    result = subprocess.run(
        [sys.executable, str(RUNNER), *dag_ids], env=env, capture_output=True, text=True, timeout=600
    )
    results = [json.loads(line[len("RESULT ") :]) for line in result.stdout.splitlines() if line.startswith("RESULT ")]
    assert result.returncode == 0 and [r["dag_id"] for r in results] == list(dag_ids), (
        f"dag.test() runner failed (exit {result.returncode}):\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
    )
    for payload in results:
        payload["output"] = result.stdout
        payload["errors"] = "\n".join(line[:3000] for line in result.stdout.splitlines() if "[error" in line)
        print(f"dag.test {payload['dag_id']}: {payload['state']} {payload['tasks']} in {payload['seconds']} s")
    return results


def test_ingest_then_build_publish(warehouse_dsn, make_airflow_env, migrate, tmp_path):
    env = make_airflow_env()
    print(f"airflow db migrate: {migrate(env):.1f} s")
    landing = Path(env["LANDING_URI"]) / "party_organizations"
    dropped = write_party_workbook(landing / ".claimed" / "party_organizations.xlsx", GOOD_ROWS)

    ingest, build, ingest_again = run_dags(
        env, "ingest_party_organizations", "build_publish", "ingest_party_organizations"
    )

    assert ingest["state"] == "success" and ingest["tasks"] == {"ingest": "success"}, ingest["errors"]
    [raw_event] = ingest["events"]
    assert raw_event["asset"] == "raw/party_organizations"
    assert raw_event["extra"]["rows_loaded"] == len(GOOD_ROWS)
    assert ingest_again["tasks"] == {"ingest": "skipped"}, "nothing new: skipped, no raw event"
    assert ingest_again["events"] == []
    assert build["state"] == "success" and build["tasks"] == {"build_and_publish": "success"}, build["errors"]
    [marts_event] = build["events"]
    assert marts_event["asset"] == "marts"
    assert set(marts_event["extra"]) >= {"publication_id", "checks_passed", "report_path"}
    assert not dropped.exists(), "the claimed file was taken and archived"

    with psycopg.connect(warehouse_dsn) as conn:
        batches = conn.execute("select feed_id, status, rows_loaded from audit.ingestion_batches").fetchall()
        assert batches == [("party_organizations", "loaded", len(GOOD_ROWS))]
        outcome, run_id = conn.execute("select outcome, run_id from audit.publications").fetchone()
        assert outcome == "published" and run_id.startswith("manual__")
        assert marts_event["extra"]["publication_id"] is not None


def test_blocked_publication_fails_the_task_after_the_audit_record(warehouse_dsn, make_airflow_env, migrate, tmp_path):
    env = make_airflow_env()
    migrate(env)
    landing = Path(env["LANDING_URI"]) / "party_organizations"
    write_party_workbook(landing / "party_organizations.xlsx", GOOD_ROWS)

    [ingest] = run_dags(env, "ingest_party_organizations")
    assert ingest["tasks"] == {"ingest": "success"}

    # A defect the feed contract cannot see, written straight into raw as a new batch:
    # the gate must block, the audit record must exist, and the task must fail.
    extra_row = [["R2", "二号责任区", "党员责任区", "B1", "511402001001", 2, None, "正常"]]
    write_party_workbook(landing / "party_organizations_2.xlsx", extra_row)
    [ingest] = run_dags(env, "ingest_party_organizations")
    assert ingest["tasks"] == {"ingest": "success"}
    with psycopg.connect(warehouse_dsn, autocommit=True) as conn:
        batch = conn.execute("select max(batch_id) from audit.ingestion_batches").fetchone()[0]
        conn.execute(
            "insert into raw.party_organizations (org_code, org_name, org_type, division_code, status, "
            "_batch_id, _row_number) values ('X1', 'x', '不存在的类型', '511402001', '正常', %s, 999)",
            (batch,),
        )

    [build] = run_dags(env, "build_publish")
    assert build["state"] == "failed" and build["tasks"] == {"build_and_publish": "failed"}
    assert build["events"] == [], "a blocked publication emits no marts event"
    assert "BLOCKED by the quality gate; marts unchanged. Failed checks: dbt:" in build["output"]
    assert "accepted_values" in build["output"] and "GOVERNANCE TASK FAILED dag_id=build_publish" in build["output"]
    with psycopg.connect(warehouse_dsn) as conn:
        outcome, failed = conn.execute("select outcome, checks_failed from audit.publications").fetchone()
    assert outcome == "blocked" and failed >= 1
