"""Event facts applied in place (issue 11, item 5): a partial publication does not copy the
published facts; the swap applies the delta to the published table in its one transaction.

Read back from PostgreSQL itself on a published scale-1 sample:

* the swap writes exactly the delta: the rows of the fact whose row version (`xmin`) is new
  are the delta's keys, no other row is rewritten, the row count grows by the new keys;
* the published table object (oid) is the same before and after; its partitions stay its own;
* `marts_previous` keeps the previous version (a view over the table, the replaced rows and
  the inserted ones) equal to the fact as it was before;
* a reader polling the fact and the summary built from it during a publication sees the old
  state or the new one, never a mix;
* a blocked build leaves the published fact untouched (no row version changes);
* a rollback restores the previous rows exactly, a second rollback the applied ones again,
  and a full build after partial publications still works and gives the same facts.
"""
from __future__ import annotations

import threading

import psycopg
import pytest
from psycopg import sql

from ingestion.load import load_file
from tests.integration.sample_warehouse import published_sample
from tests.integration.test_event_partitions import _one_month_delta, _records, _write
from warehouse.publication import build_and_publish
from warehouse.rollback import rollback

FACT = "fct_grid_events"
SUMMARY = "case_resolution_rates_by_community_month"


@pytest.fixture(scope="module")
def sample(server_dsn, session_var_dir, tmp_path_factory, sample_template):
    yield from published_sample(server_dsn, session_var_dir, tmp_path_factory.mktemp("inplace"), "gov_inplace", sample_template)


@pytest.fixture
def conn(sample):
    with psycopg.connect(sample.dsn, autocommit=True) as connection:
        yield connection


def _xmins(conn, schema: str = "marts") -> dict[str, int]:
    return dict(conn.execute(sql.SQL("select event_id, xmin::text::bigint from {}").format(
        sql.Identifier(schema, FACT))).fetchall())


def _checksum(conn, relation: str) -> tuple[int, str]:
    schema, table = relation.split(".")
    return conn.execute(sql.SQL(
        "select count(*), md5(coalesce(string_agg(t::text, E'\\n' order by t::text), '')) from {} as t"
    ).format(sql.Identifier(schema, table))).fetchone()


def _oid(conn, relation: str = f"marts.{FACT}") -> int:
    return conn.execute("select %s::regclass::oid::bigint", (relation,)).fetchone()[0]


STATE = (f"select (select count(*) from marts.{FACT}), "
         f"(select count(*) from marts.{FACT} where is_closed), "
         f"(select coalesce(sum(grid_events), 0) from marts.{SUMMARY} where not is_event_count_suppressed)")
# The same, naming the summary (swapped by schema rename) before the fact (changed in place).
STATE_SUMMARY_FIRST = (
    f"select s.events, f.total, f.closed from (select coalesce(sum(grid_events), 0) as events from marts.{SUMMARY} "
    f"where not is_event_count_suppressed) as s, (select count(*) as total, count(*) filter (where is_closed) "
    f"as closed from marts.{FACT}) as f")


@pytest.fixture(scope="module")
def applied(sample):
    """One month of grid events (new and updated keys) published in place, with a reader polling meanwhile."""
    assert sample.publication["outcome"] == "published", sample.publication["failed_checks"]
    with psycopg.connect(sample.dsn, autocommit=True) as conn:
        before = {"xmins": _xmins(conn), "oid": _oid(conn), "fact": _checksum(conn, f"marts.{FACT}"),
                  "state": conn.execute(STATE).fetchone()}
    path, keys = _one_month_delta(sample, "ip1", new=6, updated=3)
    load_file("grid_events", path, dsn=sample.dsn)
    seen: set[tuple] = set()
    stop = threading.Event()

    def read() -> None:
        with psycopg.connect(sample.dsn, autocommit=True) as reader:
            while not stop.is_set():
                seen.add(tuple(reader.execute(STATE).fetchone()))
                events, total, closed = reader.execute(STATE_SUMMARY_FIRST).fetchone()
                seen.add((total, closed, events))

    thread = threading.Thread(target=read, daemon=True)
    thread.start()
    try:
        result = build_and_publish("inplace-1", dsn=sample.dsn)
    finally:
        stop.set()
        thread.join(30)
    assert result["outcome"] == "published", result["failed_checks"]
    with psycopg.connect(sample.dsn, autocommit=True) as conn:
        after = {"xmins": _xmins(conn), "oid": _oid(conn), "fact": _checksum(conn, f"marts.{FACT}"),
                 "state": conn.execute(STATE).fetchone()}
    return {"result": result, "keys": keys, "before": before, "after": after, "seen": seen}


def test_partial_publication_applies_the_fact_in_place(applied, conn):
    result = applied["result"]
    assert result["build_mode"] == "partial", result["build_mode_reason"]
    assert FACT in result["applied_in_place"]
    row = conn.execute("select key_column, month_column, delta_rows, replaced_rows, applied_at is not null "
                       "from audit.publication_in_place where publication_id = %s and mart = %s",
                       (result["publication_id"], FACT)).fetchone()
    assert row == ("event_id", "reported_month", 9, 3, True)
    checks = {r[0]: r[1] for r in conn.execute(
        "select check_name, details->>'mode' from audit.check_results where publication_id = %s",
        (result["publication_id"],))}
    assert checks["grid_events_keys_reach_fct_grid_events"] == "in_place"
    assert checks[f"{FACT}_has_no_clear_personal_information"] == "delta"
    # The candidate's delta table was not copied to a scratch schema, nor is the candidate left behind.
    assert conn.execute("select to_regnamespace('marts_candidate_delta') is null "
                        "and to_regnamespace('marts_candidate') is null").fetchone()[0]


def test_the_published_table_object_is_kept(applied, conn):
    assert applied["after"]["oid"] == applied["before"]["oid"]
    partitions = {r[0] for r in conn.execute(
        "select c.relname from pg_inherits i join pg_class c on c.oid = i.inhrelid where i.inhparent = %s::oid",
        (applied["after"]["oid"],))}
    assert partitions and all(name.endswith(f"_{applied['after']['oid']}") for name in partitions)
    assert conn.execute("select relrowsecurity from pg_class where oid = %s::oid",
                        (applied["after"]["oid"],)).fetchone()[0]


def test_the_swap_writes_exactly_the_delta(applied):
    before, after = applied["before"]["xmins"], applied["after"]["xmins"]
    rewritten = {key for key, xmin in after.items() if before.get(key) != xmin}
    assert rewritten == applied["keys"]
    assert len(after) == len(before) + 6  # six new keys, three replaced
    assert len({after[key] for key in rewritten}) == 1  # one transaction: the swap's


def test_readers_see_old_or_new_never_a_mix(applied):
    states = {tuple(applied["before"]["state"]), tuple(applied["after"]["state"])}
    assert applied["before"]["state"] != applied["after"]["state"]
    assert applied["seen"], "the reader read nothing"
    assert applied["seen"] <= states, applied["seen"] - states


def test_previous_version_is_readable_by_auditors(applied, conn):
    assert conn.execute("select relkind from pg_class where oid = 'marts_previous.fct_grid_events'::regclass"
                        ).fetchone()[0] == "v"
    assert _checksum(conn, f"marts_previous.{FACT}") == applied["before"]["fact"]
    with conn.transaction():
        conn.execute("set local role auditor")
        assert conn.execute(f"select count(*) from marts_previous.{FACT}").fetchone()[0] == len(
            applied["before"]["xmins"])
    with pytest.raises(psycopg.errors.InsufficientPrivilege), conn.transaction():
        conn.execute("set local role bi_reader")
        conn.execute(f"select count(*) from marts_previous.{FACT}")


def test_blocked_build_leaves_the_fact_untouched(applied, sample, conn):
    path, _ = _one_month_delta(sample, "ip-bad")
    load_file("grid_events", path, dsn=sample.dsn)
    bad_batch = conn.execute("select max(batch_id) from audit.ingestion_batches").fetchone()[0]
    conn.execute("insert into raw.grid_events (event_id, grid_code, community_code, category, reported_at, "
                 "status, _batch_id, _row_number) select event_id || '-bad', grid_code, community_code, category, "
                 "reported_at, '不存在的状态', _batch_id, 9999 from raw.grid_events where _batch_id = %s limit 1",
                 (bad_batch,))
    xmins, fact, previous = _xmins(conn), _checksum(conn, f"marts.{FACT}"), _checksum(conn, f"marts_previous.{FACT}")

    blocked = build_and_publish("inplace-blocked", dsn=sample.dsn)

    assert blocked["outcome"] == "blocked"
    assert blocked["applied_in_place"] == []
    assert _xmins(conn) == xmins and _checksum(conn, f"marts.{FACT}") == fact
    assert _checksum(conn, f"marts_previous.{FACT}") == previous
    assert conn.execute("select applied_at from audit.publication_in_place where publication_id = %s and mart = %s",
                        (blocked["publication_id"], FACT)).fetchone() == (None,)
    bad_key = conn.execute("select event_id from raw.grid_events where _row_number = 9999").fetchone()[0]
    fixed = _write(sample.work / "ip-fix" / "grid_events.jsonl", [{
        **_records(sample.files["grid_events"])[0], "event_id": bad_key, "status": "办理中", "closed_at": None}])
    load_file("grid_events", fixed, dsn=sample.dsn)
    fixed_result = build_and_publish("inplace-fixed", dsn=sample.dsn)
    assert fixed_result["outcome"] == "published", fixed_result["failed_checks"]
    assert FACT in fixed_result["applied_in_place"]


def test_rollback_restores_the_previous_rows_exactly(applied, sample, conn):
    path, _ = _one_month_delta(sample, "ip2", new=4, updated=5)
    load_file("grid_events", path, dsn=sample.dsn)
    before = {"fact": _checksum(conn, f"marts.{FACT}"), "summary": _checksum(conn, f"marts.{SUMMARY}"),
              "oid": _oid(conn)}
    published = build_and_publish("inplace-2", dsn=sample.dsn)
    assert published["outcome"] == "published" and FACT in published["applied_in_place"]
    after = {"fact": _checksum(conn, f"marts.{FACT}"), "summary": _checksum(conn, f"marts.{SUMMARY}")}
    assert after["fact"] != before["fact"]

    rollback("test: in-place rollback", dsn=sample.dsn)
    assert _checksum(conn, f"marts.{FACT}") == before["fact"]
    assert _checksum(conn, f"marts.{SUMMARY}") == before["summary"]
    assert _checksum(conn, f"marts_previous.{FACT}") == after["fact"]
    assert _oid(conn) == before["oid"]

    rollback("test: undo the rollback", dsn=sample.dsn)
    assert _checksum(conn, f"marts.{FACT}") == after["fact"]
    assert _checksum(conn, f"marts_previous.{FACT}") == before["fact"]
    rollback("test: back to the version before", dsn=sample.dsn)
    assert _checksum(conn, f"marts.{FACT}") == before["fact"]

    # The next delta builds on the restored table: a full refresh from raw gives the same facts.
    path, _ = _one_month_delta(sample, "ip3", new=2, updated=2)
    load_file("grid_events", path, dsn=sample.dsn)
    again = build_and_publish("inplace-3", dsn=sample.dsn)
    assert again["outcome"] == "published" and FACT in again["applied_in_place"], again["failed_checks"]
    incremental = {t: _checksum(conn, f"marts.{t}") for t in (FACT, SUMMARY)}
    full = build_and_publish("inplace-full-refresh", dsn=sample.dsn, full_refresh=True)
    assert full["outcome"] == "published", full["failed_checks"]
    assert {t: _checksum(conn, f"marts.{t}") for t in (FACT, SUMMARY)} == incremental


def test_full_build_after_partial_ones(applied, sample, conn):
    path, _ = _one_month_delta(sample, "ip4", new=3, updated=1)
    load_file("grid_events", path, dsn=sample.dsn)
    assert FACT in build_and_publish("inplace-4", dsn=sample.dsn)["applied_in_place"]
    incremental = {t: _checksum(conn, f"marts.{t}") for t in (FACT, SUMMARY)}
    forced = build_and_publish("inplace-forced", dsn=sample.dsn, force=True)
    assert forced["outcome"] == "published" and forced["build_mode"] == "full", forced["failed_checks"]
    assert forced["applied_in_place"] == []
    assert {t: _checksum(conn, f"marts.{t}") for t in (FACT, SUMMARY)} == incremental
    assert conn.execute("select relkind from pg_class where oid = 'marts_previous.fct_grid_events'::regclass"
                        ).fetchone()[0] == "p"  # a full build swaps schemas as before
    rollback("test: roll back a full build after in-place ones", dsn=sample.dsn)
    assert {t: _checksum(conn, f"marts.{t}") for t in (FACT, SUMMARY)} == incremental


def test_a_reader_holding_one_mart_and_asking_for_another_never_deadlocks_with_the_swap(applied, sample, conn):
    """A BI query holds marts.governance_kpis and then asks for marts.dim_divisions, which the swap (locking
    every mart in name order before applying a fact in place) already holds while it waits for the first.
    PostgreSQL would cancel one of the two as a deadlock after 1 s; the swap steps back (LOCK_WAIT 0.5 s)
    and tries again once the reader is done: both succeed."""
    path, _ = _one_month_delta(sample, "ip5", new=2, updated=1)
    load_file("grid_events", path, dsn=sample.dsn)
    held = _oid(conn, "marts.governance_kpis")
    outcome: dict = {}

    def publish() -> None:
        try:
            outcome["result"] = build_and_publish("inplace-reader", dsn=sample.dsn)
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            outcome["error"] = exc

    with psycopg.connect(sample.dsn) as reader:  # one transaction, as a BI tool's report would hold it
        reader.execute("select count(*) from marts.governance_kpis").fetchone()
        thread = threading.Thread(target=publish, daemon=True)
        thread.start()
        waited = 0
        while not conn.execute("select exists (select from pg_locks where relation = %s and mode = "
                               "'AccessExclusiveLock' and not granted)", (held,)).fetchone()[0]:
            assert thread.is_alive() and waited < 1200, outcome  # the swap must come to wait for the held mart
            threading.Event().wait(0.1)
            waited += 1
        divisions = reader.execute("select count(*) from marts.dim_divisions").fetchone()[0]
        reader.commit()
    thread.join(300)
    assert divisions > 0
    assert "error" not in outcome, outcome
    result = outcome["result"]
    assert result["outcome"] == "published" and FACT in result["applied_in_place"], result["failed_checks"]
