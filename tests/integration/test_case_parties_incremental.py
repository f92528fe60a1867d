"""fct_mediation_case_parties is incremental by case (issue 11, item 5).

On a published scale-1 sample, mediation cases are delivered again through the whole
pipeline (real ingestion, dbt, GX, PII scan): new cases, published cases with more
parties, with fewer, and with none. Checked from PostgreSQL and dbt's own results:

* the build inserts only the party rows of the delta's cases (dbt's rows affected), and
  the gate checks the parties mart on the delta (PII scan and GX suites in delta mode);
* every case's party rows are exactly those of its latest delivery (a case with fewer
  or no parties loses its old rows);
* the published parties equal a full refresh from raw, also after a rollback and a new delta.
"""
from __future__ import annotations

import json
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from ingestion.load import load_file
from tests.integration.sample_warehouse import published_sample
from warehouse.db import dsn_parts
from warehouse.incremental import incremental_models
from warehouse.publication import build_and_publish
from warehouse.rollback import rollback
from warehouse.settings import get_settings

PARTIES = "fct_mediation_case_parties"


@pytest.fixture(scope="module")
def sample(server_dsn, session_var_dir, tmp_path_factory, sample_template):
    yield from published_sample(server_dsn, session_var_dir, tmp_path_factory.mktemp("parties"), "gov_parties", sample_template)


@pytest.fixture
def conn(sample):
    with psycopg.connect(sample.dsn, autocommit=True) as connection:
        yield connection


def _records(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip()]


def _redelivery(sample, name: str) -> tuple[Path, dict[str, int]]:
    """Published cases again (one more party, one party only, no party) and two new cases; expected party counts."""
    cases = [r for r in _records(sample.files["mediation_cases"]) if len(r.get("parties") or []) >= 2]
    more, fewer, none, *new = cases[5 * len(name):][:5]
    extra = {**more["parties"][0], "role": "第三人"}
    delivered = [{**more, "parties": [*more["parties"], extra]}, {**fewer, "parties": fewer["parties"][:1]},
                 {**none, "parties": []}, *({**r, "case_no": f"{r['case_no']}-{name}"} for r in new)]
    path = sample.work / name / "mediation_cases.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in delivered), encoding="utf-8")
    return path, {r["case_no"]: len(r["parties"]) for r in delivered}


def _party_counts(conn, cases) -> dict[str, int]:
    counts = dict(conn.execute(f"select case_no, count(*) from marts.{PARTIES} where case_no = any(%s) "
                               "group by case_no", (list(cases),)).fetchall())
    return {case: counts.get(case, 0) for case in cases}


def _checksum(conn) -> tuple[int, str]:
    return conn.execute(sql.SQL(
        "select count(*), md5(coalesce(string_agg(t::text, E'\\n' order by t::text), '')) from {} as t"
    ).format(sql.Identifier("marts", PARTIES))).fetchone()


def _rows_inserted(sample) -> int:
    """What dbt's last build wrote into the parties table (its final statement: the insert)."""
    [work] = (get_settings().var_dir / "dbt").glob(f"{dsn_parts(sample.dsn)['dbname']}-*")  # warehouse.build
    results = json.loads((work / "target" / "run_results.json").read_text())["results"]
    [node] = [r for r in results if r["unique_id"] == f"model.governance.{PARTIES}"]
    assert node["status"] == "success", node
    return node["adapter_response"]["rows_affected"]


def _gate_modes(conn, publication_id: int) -> dict[str, str]:
    return dict(conn.execute(
        "select check_name, details ->> 'mode' from audit.check_results where publication_id = %s "
        "and target = %s and check_source in ('gx', 'reconciliation')", (publication_id, PARTIES)).fetchall())


def test_parties_are_an_incremental_mart(sample):
    assert sample.publication["outcome"] == "published", sample.publication["failed_checks"]
    assert PARTIES in incremental_models()  # seeded from the published table; its delta is gated


def test_redelivered_cases_replace_their_parties(sample, conn):
    path, expected = _redelivery(sample, "p1")
    before = _party_counts(conn, expected)
    rows_before = _checksum(conn)[0]
    load_file("mediation_cases", path, dsn=sample.dsn)

    result = build_and_publish("parties-p1", dsn=sample.dsn)

    assert result["outcome"] == "published" and result["build_mode"] == "partial", result["failed_checks"]
    assert PARTIES in result["delta_checked_marts"]
    assert _party_counts(conn, expected) == expected  # more, one, none (old rows gone), new
    assert _rows_inserted(sample) == sum(expected.values())  # the delta's parties only, not the table
    assert _checksum(conn)[0] == rows_before + sum(expected.values()) - sum(before.values())
    modes = _gate_modes(conn, result["publication_id"])  # the PII scan and every GX expectation
    assert f"{PARTIES}_has_no_clear_personal_information" in modes and len(modes) > 1, modes
    assert set(modes.values()) == {"delta"}, modes
    _assert_equal_to_full_refresh(sample, conn)


def test_parties_after_a_rollback_and_a_new_delta_equal_a_full_refresh(sample, conn):
    path, _ = _redelivery(sample, "p22")
    load_file("mediation_cases", path, dsn=sample.dsn)
    assert build_and_publish("parties-p22", dsn=sample.dsn)["outcome"] == "published"
    rolled_back = _checksum(conn)
    rollback("test: parties after a rollback", dsn=sample.dsn)
    assert _checksum(conn) != rolled_back
    path, expected = _redelivery(sample, "p333")
    load_file("mediation_cases", path, dsn=sample.dsn)

    result = build_and_publish("parties-p333", dsn=sample.dsn)

    assert result["outcome"] == "published" and result["build_mode"] == "partial", result["failed_checks"]
    assert _party_counts(conn, expected) == expected
    _assert_equal_to_full_refresh(sample, conn)


def _assert_equal_to_full_refresh(sample, conn) -> None:
    incremental = _checksum(conn)
    full = build_and_publish("parties-full-refresh", dsn=sample.dsn, full_refresh=True)
    assert full["outcome"] == "published", full["failed_checks"]
    assert _checksum(conn) == incremental
