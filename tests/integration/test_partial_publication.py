"""Affected-subgraph publications: after a delta, only the marts downstream of the changed
feeds are rebuilt, and the published marts equal those of a full rebuild."""
from __future__ import annotations

import csv
import json
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from ingestion.load import load_file
from ingestion.registry import get_spec
from tests.fixtures.party_files import write_party_workbook
from tests.integration.sample_warehouse import published_sample
from warehouse.publication import build_and_publish

SNAPSHOT_CHECK = "dbt snapshot (history of published dimensions)"


@pytest.fixture(scope="module")
def sample(server_dsn, session_var_dir, tmp_path_factory, sample_template):
    yield from published_sample(server_dsn, session_var_dir, tmp_path_factory.mktemp("partial"), "gov_partial", sample_template)


@pytest.fixture
def conn(sample):
    with psycopg.connect(sample.dsn, autocommit=True) as connection:
        yield connection


@pytest.fixture(scope="module")
def partial(sample):
    """A delta of two event feeds and one facility, published: result, checksums and comments of its marts."""
    assert sample.publication["outcome"] == "published", sample.publication["failed_checks"]
    for feed, rows in (("grid_events", 20), ("service_transactions", 20), ("community_facilities", 1)):
        load_file(feed, _delta_file(sample.files[feed], sample.work / "delta1", feed, rows), dsn=sample.dsn)
    result = build_and_publish("partial-1", dsn=sample.dsn)
    with psycopg.connect(sample.dsn, autocommit=True) as connection:
        return {"result": result, "checksums": _checksums(connection), "comments": _comments(connection)}


def _delta_file(source: Path, out_dir: Path, feed: str, rows: int) -> Path:
    """The first `rows` records of a sample file under new keys (`<key>-D`)."""
    spec = get_spec(feed)
    key = spec.column(spec.key[0]).header
    target = out_dir / source.name
    target.parent.mkdir(parents=True, exist_ok=True)
    if source.suffix == ".csv":
        with source.open(encoding=spec.encoding, newline="") as handle:
            records = list(csv.DictReader(handle))[:rows]
        with target.open("w", encoding=spec.encoding, newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(records[0]))
            writer.writeheader()
            writer.writerows({**r, key: f"{r[key]}-D"} for r in records)
    else:
        records = [json.loads(line) for line in source.read_text("utf-8").splitlines() if line.strip()][:rows]
        target.write_text("".join(json.dumps({**r, key: f"{r[key]}-D"}, ensure_ascii=False) + "\n" for r in records),
                          encoding="utf-8")
    return target


def _tables(conn) -> list[str]:
    return [r[0] for r in conn.execute(
        "select table_name from information_schema.tables where table_schema = 'marts' and table_type = 'BASE TABLE' "
        "order by table_name")]


def _checksums(conn) -> dict[str, tuple[int, str]]:
    """Row count and md5 of every marts table, rows ordered by all their columns as text."""
    out = {}
    for table in _tables(conn):
        rel = sql.Identifier("marts", table)
        out[table] = conn.execute(sql.SQL(
            "select count(*), md5(coalesce(string_agg(t::text, E'\\n' order by t::text), '')) from {} as t"
        ).format(rel)).fetchone()
    return out


def _comments(conn) -> dict[tuple[str, str], str | None]:
    return dict(((t, c), comment) for t, c, comment in conn.execute("""
        select cl.relname, a.attname, col_description(cl.oid, a.attnum)
        from pg_class cl join pg_namespace n on n.oid = cl.relnamespace
        join pg_attribute a on a.attrelid = cl.oid and a.attnum > 0 and not a.attisdropped
        where n.nspname = 'marts' and cl.relkind = 'r'"""))


def _check_names(conn, publication_id: int) -> set[str]:
    return {r[0] for r in conn.execute("select check_name from audit.check_results where publication_id = %s",
                                       (publication_id,))}


def test_delta_publishes_partially(partial, conn):
    result = partial["result"]
    assert result["outcome"] == "published", result["failed_checks"]
    assert result["build_mode"] == "partial", result["build_mode_reason"]
    assert result["changed_feeds"] == ["community_facilities", "grid_events", "service_transactions"]
    carried = set(result["carried_over_marts"])
    assert {"dim_party_organizations", "fct_mediation_cases", "fct_fund_allocations"} <= carried
    assert not carried & {"fct_grid_events", "fct_service_transactions", "dim_facilities", "governance_kpis"}
    mode, fingerprint = conn.execute("select build_mode, project_fingerprint from audit.publications "
                                     "where publication_id = %s", (result["publication_id"],)).fetchone()
    assert mode == "partial" and len(fingerprint) == 64
    names = _check_names(conn, result["publication_id"])
    assert SNAPSHOT_CHECK not in names  # no organisation feed changed
    assert not any(n.startswith("dim_party_organizations.critical") for n in names)  # its GX suite not rerun
    assert any(n.startswith("fct_grid_events.critical") for n in names)
    assert any(n.endswith("_does_not_shrink") for n in names) and any("_keys_reach_" in n for n in names)
    report = Path(result["report_path"]).read_text("utf-8")
    assert "partial" in report and "dim_party_organizations" in report


def test_carried_over_marts_keep_column_comments(partial):
    carried = set(partial["result"]["carried_over_marts"])
    comments = {key: value for key, value in partial["comments"].items() if key[0] in carried}
    assert comments and all(comments.values()), [k for k, v in comments.items() if not v]


def test_partial_marts_equal_a_full_rebuild(partial, sample, conn):
    full = build_and_publish("full-after-partial", dsn=sample.dsn, force=True)
    assert full["outcome"] == "published" and full["build_mode"] == "full", full["failed_checks"]
    assert set(partial["checksums"]) == set(_checksums(conn))
    assert _checksums(conn) == partial["checksums"]
    assert _comments(conn) == partial["comments"]


def test_party_organizations_change_runs_its_snapshot(sample, conn):
    row = conn.execute(
        "select org_code, org_name, org_type, parent_org_code, division_code, member_count, founded_date, status "
        "from raw.party_organizations where org_type = '党员责任区' order by org_code limit 1").fetchone()
    renamed = [row[0], row[1] + "（更名）", *row[2:6], row[6].isoformat() if row[6] else None, row[7]]
    load_file("party_organizations", write_party_workbook(sample.work / "delta2" / "party_organizations.xlsx",
                                                          [renamed]), dsn=sample.dsn)

    result = build_and_publish("partial-party", dsn=sample.dsn)

    assert result["outcome"] == "published" and result["build_mode"] == "partial", result["failed_checks"]
    assert result["changed_feeds"] == ["party_organizations"]
    assert "fct_grid_events" in result["carried_over_marts"]
    assert SNAPSHOT_CHECK in _check_names(conn, result["publication_id"])
    history = conn.execute("select org_name from snapshots.snap_party_organizations where org_code = %s "
                           "order by dbt_valid_from", (row[0],)).fetchall()
    assert [h[0] for h in history] == [row[1], renamed[1]]


def test_changed_fingerprint_forces_a_full_build(sample, conn, monkeypatch):
    load_file("grid_events", _delta_file(sample.files["grid_events"], sample.work / "delta3", "grid_events", 5),
              dsn=sample.dsn)
    monkeypatch.setattr("warehouse.publication.project_fingerprint", lambda *args: "0" * 64)

    result = build_and_publish("changed-project", dsn=sample.dsn)

    assert result["outcome"] == "published" and result["build_mode"] == "full", result["failed_checks"]
    assert result["build_mode_reason"] == "project changed since the last publication"
    assert SNAPSHOT_CHECK in _check_names(conn, result["publication_id"])
