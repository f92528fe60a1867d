"""Event facts whose incremental cost follows the delta, not the history (issue 11, item 3).

On a published scale-1 sample, deltas of the three event feeds are published and the
work done is read back from PostgreSQL itself (row versions, `xmin`):

* staging of the event feeds is merged from the new batches only: rows of untouched keys
  are not rewritten, and staging still equals "latest version per key" over all of raw;
* the summary by community and month is recomputed only for the months the delta touches;
* after a blocked build, and after a rollback followed by a new delta, the published facts
  and summary are exactly those of a full refresh from raw;
* a county BI login reads only its county's grid events through the published fact.

* the three facts are partitioned by month (native range partitioning, partitions in the
  never-renamed schema `marts_partitions`) after a full and after an incremental build; a
  delta with a new month creates its partition; no partition outlives its parent across
  swaps and a rollback; BI logins cannot read partitions directly; a one-month query prunes.
"""
from __future__ import annotations

import json
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from ingestion.load import load_file
from tests.integration.sample_warehouse import published_sample
from warehouse.publication import build_and_publish
from warehouse.rollback import rollback
from warehouse.row_security import ensure_scope_roles, load_config

FACTS = ("fct_grid_events", "fct_mediation_cases", "fct_service_transactions")
FACT_MONTH = {"fct_grid_events": ("event_id", "reported_month"), "fct_mediation_cases": ("case_no", "received_month"),
              "fct_service_transactions": ("transaction_no", "accepted_month")}
SUMMARY = "case_resolution_rates_by_community_month"
PARTIES = "fct_mediation_case_parties"
STAGING = {  # staging table -> (raw table, key)
    "stg_grid_center__grid_events": ("grid_events", "event_id"),
    "stg_justice__mediation_cases": ("mediation_cases", "case_no"),
    "stg_gov_services__service_transactions": ("service_transactions", "transaction_no"),
}


@pytest.fixture(scope="module")
def sample(server_dsn, session_var_dir, tmp_path_factory, sample_template):
    yield from published_sample(server_dsn, session_var_dir, tmp_path_factory.mktemp("facts"), "gov_facts", sample_template)


@pytest.fixture
def conn(sample):
    with psycopg.connect(sample.dsn, autocommit=True) as connection:
        yield connection


def _records(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip()]


def _write(path: Path, records: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    return path


def _one_month_delta(sample, name: str, new: int = 6, updated: int = 3) -> tuple[Path, set[str]]:
    """Grid events of one month only: `new` under new keys and `updated` existing ones closed again."""
    records = _records(sample.files["grid_events"])
    month = records[0]["reported_at"][:7]
    in_month = [r for r in records if r["reported_at"][:7] == month]
    delta = [{**r, "event_id": f"{r['event_id']}-{name}"} for r in in_month[:new]]
    delta += [{**r, "status": "已办结", "closed_at": r["closed_at"] or r["reported_at"]}
              for r in in_month[new:new + updated]]
    return _write(sample.work / name / "grid_events.jsonl", delta), {r["event_id"] for r in delta}


def _xmins(conn, table: str, key: str) -> dict[str, int]:
    return dict(conn.execute(sql.SQL("select {}, xmin::text::bigint from {}").format(
        sql.Identifier(key), sql.Identifier("staging", table))).fetchall())


def _checksum(conn, table: str) -> tuple[int, str]:
    return conn.execute(sql.SQL(
        "select count(*), md5(coalesce(string_agg(t::text, E'\\n' order by t::text), '')) from {} as t"
    ).format(sql.Identifier("marts", table))).fetchone()


def _published(conn) -> dict[str, tuple[int, str]]:
    return {table: _checksum(conn, table) for table in (*FACTS, SUMMARY, PARTIES)}


@pytest.fixture(scope="module")
def first_delta(sample):
    """One month's grid events (new and updated), published incrementally; staging row versions before it."""
    assert sample.publication["outcome"] == "published", sample.publication["failed_checks"]
    with psycopg.connect(sample.dsn, autocommit=True) as connection:
        before = _xmins(connection, "stg_grid_center__grid_events", "event_id")
        summary_before = connection.execute(f"select count(*) from marts.{SUMMARY}").fetchone()[0]
    path, keys = _one_month_delta(sample, "d1")
    load_file("grid_events", path, dsn=sample.dsn)
    result = build_and_publish("facts-d1", dsn=sample.dsn)
    assert result["outcome"] == "published", result["failed_checks"]
    return {"result": result, "xmins_before": before, "keys": keys, "summary_before": summary_before}


def test_staging_merges_only_the_new_batches(first_delta, conn):
    after = _xmins(conn, "stg_grid_center__grid_events", "event_id")
    before, keys = first_delta["xmins_before"], first_delta["keys"]
    rewritten = {key for key, xmin in after.items() if before.get(key) != xmin}
    assert rewritten == keys  # the delta's keys, new and updated; no other row was written
    assert len(after) == len(before) + 6


@pytest.mark.parametrize("table", sorted(STAGING))
def test_staging_is_the_latest_version_of_every_key(first_delta, conn, table):
    raw, key = STAGING[table]
    staged = set(conn.execute(sql.SQL("select {}, batch_id from {}").format(
        sql.Identifier(key), sql.Identifier("staging", table))).fetchall())
    latest = set(conn.execute(sql.SQL(
        "select distinct on ({key}) {key}, _batch_id from {raw} order by {key}, _batch_id desc, _row_number desc"
    ).format(key=sql.Identifier(key), raw=sql.Identifier("raw", raw))).fetchall())
    assert staged == latest


def test_summary_rewrites_only_the_touched_month(first_delta, conn):
    """Rows the candidate was seeded with share the copy's transaction; dbt rewrote only the delta's month."""
    rows = conn.execute(f"select case_month, xmin::text::bigint from marts.{SUMMARY}").fetchall()
    by_xmin: dict[int, set] = {}
    for month, xmin in rows:
        by_xmin.setdefault(xmin, set()).add(month)
    touched = conn.execute(
        "select distinct reported_month from marts.fct_grid_events where event_id = any(%s)",
        (list(first_delta["keys"]),)).fetchall()
    assert len(touched) == 1
    assert len(by_xmin) == 2, by_xmin  # the seed copy, and dbt's insert of the recomputed month
    rewritten = min(by_xmin.values(), key=len)
    assert rewritten == {touched[0][0]}
    assert len(rows) == first_delta["summary_before"]


def test_blocked_build_then_fix_publishes_exact_facts(first_delta, sample, conn):
    path, _ = _one_month_delta(sample, "d2")
    load_file("grid_events", path, dsn=sample.dsn)
    bad_batch = conn.execute("select max(batch_id) from audit.ingestion_batches").fetchone()[0]
    # A defect the feed contract cannot see (status outside the list), written straight into raw.
    conn.execute("insert into raw.grid_events (event_id, grid_code, community_code, category, reported_at, "
                 "status, _batch_id, _row_number) select event_id || '-bad', grid_code, community_code, category, "
                 "reported_at, '不存在的状态', _batch_id, 9999 from raw.grid_events where _batch_id = %s limit 1",
                 (bad_batch,))
    published_before = _published(conn)

    blocked = build_and_publish("facts-blocked", dsn=sample.dsn)

    assert blocked["outcome"] == "blocked"
    assert _published(conn) == published_before
    bad_key = conn.execute("select event_id from raw.grid_events where _row_number = 9999").fetchone()[0]
    fixed = _write(sample.work / "d2-fix" / "grid_events.jsonl", [{
        **_records(sample.files["grid_events"])[0], "event_id": bad_key, "status": "办理中", "closed_at": None}])
    load_file("grid_events", fixed, dsn=sample.dsn)
    assert build_and_publish("facts-fixed", dsn=sample.dsn)["outcome"] == "published"
    _assert_equal_to_full_refresh(sample, conn)


def test_rollback_then_delta_publishes_exact_facts(first_delta, sample, conn):
    path, _ = _one_month_delta(sample, "d3")
    load_file("grid_events", path, dsn=sample.dsn)
    assert build_and_publish("facts-d3", dsn=sample.dsn)["outcome"] == "published"
    rollback("test: facts after a rollback", dsn=sample.dsn)
    path, _ = _one_month_delta(sample, "d4", new=4, updated=5)
    load_file("grid_events", path, dsn=sample.dsn)
    load_file("mediation_cases", _fewer_parties(sample, "d4"), dsn=sample.dsn)
    assert build_and_publish("facts-d4", dsn=sample.dsn)["outcome"] == "published"
    _assert_equal_to_full_refresh(sample, conn)


def _fewer_parties(sample, name: str) -> Path:
    """Three published mediation cases again: one loses all its parties, one keeps only the first, one is new."""
    cases = [r for r in _records(sample.files["mediation_cases"]) if len(r.get("parties") or []) >= 2][:3]
    return _write(sample.work / name / "mediation_cases.jsonl", [
        {**cases[0], "parties": []}, {**cases[1], "parties": cases[1]["parties"][:1]},
        {**cases[2], "case_no": f"{cases[2]['case_no']}-{name}"}])


def _assert_equal_to_full_refresh(sample, conn) -> None:
    incremental = _published(conn)
    full = build_and_publish("facts-full-refresh", dsn=sample.dsn, full_refresh=True)
    assert full["outcome"] == "published", full["failed_checks"]
    assert _published(conn) == incremental


def test_county_login_reads_only_its_county_through_the_fact(first_delta, conn):
    county = conn.execute("select county_code from marts.fct_grid_events where event_id = any(%s) limit 1",
                          (list(first_delta["keys"]),)).fetchone()[0]
    scope = conn.execute("select role_name from security.bi_row_scopes where scope = 'county' and county_code = %s",
                         (county,)).fetchone()
    assert scope, f"no BI scope role for county {county}"
    ensure_scope_roles(conn, load_config())  # cluster-wide roles: created by the owner (make bi does it)
    total = conn.execute("select count(*) from marts.fct_grid_events").fetchone()[0]
    with conn.transaction():
        conn.execute(sql.SQL("set local role {}").format(sql.Identifier(scope[0])))
        seen = conn.execute("select count(*), count(*) filter (where county_code <> %s), "
                            "count(*) filter (where event_id = any(%s)) from marts.fct_grid_events",
                            (county, list(first_delta["keys"]))).fetchone()
    assert 0 < seen[0] < total and seen[1] == 0 and seen[2] > 0


def _partitions(conn, schema: str, table: str) -> dict[str, str]:
    """Partition name -> bound expression of `schema`.`table` (all must live in marts_partitions)."""
    rows = conn.execute(
        "select n.nspname, c.relname, pg_get_expr(c.relpartbound, c.oid) from pg_inherits as i "
        "join pg_class as c on c.oid = i.inhrelid join pg_namespace as n on n.oid = c.relnamespace "
        "where i.inhparent = %s::regclass", (f"{schema}.{table}",)).fetchall()
    assert {r[0] for r in rows} == {"marts_partitions"}
    return {r[1]: r[2] for r in rows}


def _assert_partitioned_by_month(conn, schema: str = "marts") -> None:
    for table, (key, month) in FACT_MONTH.items():
        relation = f"{schema}.{table}"
        assert conn.execute("select relkind::text, pg_get_partkeydef(%s::regclass) from pg_class "
                            "where oid = %s::regclass", (relation, relation)).fetchone() == ("p", f"RANGE ({month})")
        oid = conn.execute("select %s::regclass::oid", (relation,)).fetchone()[0]
        partitions = _partitions(conn, schema, table)
        months = {m.strftime("%Y%m") for (m,) in conn.execute(
            sql.SQL("select distinct {} from {}").format(sql.Identifier(month), sql.Identifier(schema, table)))}
        assert set(partitions) == {f"{table}_{m}_{oid}" for m in months} | {f"{table}_default_{oid}"}
        assert partitions[f"{table}_default_{oid}"] == "DEFAULT"
        assert conn.execute(sql.SQL("select count(*) from {}").format(
            sql.Identifier("marts_partitions", f"{table}_default_{oid}"))).fetchone()[0] == 0
        primary_key = conn.execute("select pg_get_constraintdef(oid) from pg_constraint where conrelid = %s::regclass "
                                   "and contype = 'p'", (relation,)).fetchone()[0]
        assert primary_key == f"PRIMARY KEY ({key}, {month})"
        assert conn.execute(sql.SQL("select count(*) = count(distinct {}) from {}").format(
            sql.Identifier(key), sql.Identifier(schema, table))).fetchone()[0]
        indexes = {r[0] for r in conn.execute("select indexrelid::regclass::text from pg_index "
                                              "where indrelid = %s::regclass", (relation,))}
        assert len(indexes) == 4, indexes  # the primary key and the three BI indexes, on the parent


def test_facts_are_partitioned_by_month_after_an_incremental_build(first_delta, conn):
    assert first_delta["result"]["outcome"] == "published"
    _assert_partitioned_by_month(conn)


def test_new_month_delta_creates_its_partition_and_equals_a_full_refresh(first_delta, sample, conn):
    """Three grid events a year later (every timestamp shifted): a month no partition holds yet."""
    records = _records(sample.files["grid_events"])
    month = records[0]["reported_at"][5:7]
    delta = [json.loads(json.dumps({**r, "event_id": f"{r['event_id']}-new-month"}, ensure_ascii=False).replace(
        '"2021-', '"2022-')) for r in records if r["reported_at"][:7] == f"2021-{month}"][:3]
    assert all(r["reported_at"].startswith(f"2022-{month}") for r in delta)
    path = _write(sample.work / "new-month" / "grid_events.jsonl", delta)
    load_file("grid_events", path, dsn=sample.dsn)
    result = build_and_publish("facts-new-month", dsn=sample.dsn)
    assert result["outcome"] == "published", result["failed_checks"]
    oid = conn.execute("select 'marts.fct_grid_events'::regclass::oid").fetchone()[0]
    assert conn.execute(f"select count(*) from marts_partitions.fct_grid_events_2022{month}_{oid}").fetchone()[0] == 3
    _assert_partitioned_by_month(conn)
    _assert_equal_to_full_refresh(sample, conn)
    _assert_partitioned_by_month(conn)  # the full build partitions as well
    _assert_partitioned_by_month(conn, "marts_previous")


def test_no_partition_outlives_its_parent(first_delta, conn):
    """After the swaps and rollback above: every partition belongs to a parent in marts or marts_previous."""
    rows = conn.execute(
        "select c.relname, p.relnamespace::regnamespace::text from pg_class as c "
        "left join pg_inherits as i on i.inhrelid = c.oid left join pg_class as p on p.oid = i.inhparent "
        "where c.relnamespace = 'marts_partitions'::regnamespace and c.relkind = 'r'").fetchall()
    assert rows and {schema for _, schema in rows} <= {"marts", "marts_previous"}, rows
    expected = sum(len(_partitions(conn, schema, table)) for schema in ("marts", "marts_previous") for table in FACTS)
    assert len(rows) == expected


@pytest.mark.parametrize("role", ["bi_reader", "auditor"])
def test_readers_cannot_read_partitions_directly(first_delta, conn, role):
    partition = next(iter(_partitions(conn, "marts", "fct_grid_events")))
    with pytest.raises(psycopg.errors.InsufficientPrivilege), conn.transaction():
        conn.execute(sql.SQL("set local role {}").format(sql.Identifier(role)))
        conn.execute(sql.SQL("select count(*) from {}").format(sql.Identifier("marts_partitions", partition)))


def test_one_month_query_prunes_partitions(first_delta, conn):
    month = conn.execute("select min(reported_month) from marts.fct_grid_events").fetchone()[0]
    oid = conn.execute("select 'marts.fct_grid_events'::regclass::oid").fetchone()[0]
    plan = "\n".join(r[0] for r in conn.execute(sql.SQL(
        "explain select count(*) from marts.fct_grid_events where reported_month = {}").format(sql.Literal(month))))
    scanned = {name for name in _partitions(conn, "marts", "fct_grid_events") if name in plan}
    assert scanned == {f"fct_grid_events_{month:%Y%m}_{oid}"}, plan
