"""The published marts on the generated sample: contracts, comments, personal information,
incremental builds, lint and docs."""
from __future__ import annotations

import re
import subprocess
import sys

import psycopg
import pytest
from psycopg import sql

from tests.integration.sample_warehouse import PII_TEST_KEY, published_sample
from warehouse.build import run_dbt
from warehouse.credentials import login_dsn
from warehouse.incremental import incremental_models, seed_candidate_from_published
from warehouse.settings import REPO_ROOT

CJK = re.compile(r"[\u4e00-\u9fff]")
# A whole digit run that is an ID number or a mobile number (not part of a longer code).
PERSONAL = r"(^|\D)(\d{17}[\dXx]|1[3-9]\d{9})(\D|$)"
EVENT_FACTS = {"fct_grid_events": "event_id", "fct_mediation_cases": "case_no",
               "fct_service_transactions": "transaction_no"}


@pytest.fixture(scope="module")
def sample(server_dsn, session_var_dir, tmp_path_factory, sample_template):
    yield from published_sample(server_dsn, session_var_dir, tmp_path_factory.mktemp("marts"), "gov_marts", sample_template)


@pytest.fixture
def conn(sample):
    with psycopg.connect(sample.dsn, autocommit=True) as connection:
        yield connection


def _tables(conn, schema: str = "marts") -> list[str]:
    return [r[0] for r in conn.execute(
        "select table_name from information_schema.tables where table_schema = %s and table_type = 'BASE TABLE' "
        "order by table_name", (schema,))]


def test_sample_publishes_every_mart_non_empty(sample, conn):
    assert sample.publication["outcome"] == "published", sample.publication["failed_checks"]
    tables = _tables(conn)
    assert len(tables) >= 20
    counts = {t: conn.execute(sql.SQL("select count(*) from {}").format(sql.Identifier("marts", t))).fetchone()[0]
              for t in tables}
    print("mart row counts:", counts)
    assert all(counts.values()), counts
    assert counts["governance_kpis"] == 28


def test_no_id_numbers_or_phones_in_marts(conn):
    offenders = []
    columns = conn.execute(
        "select table_name, column_name from information_schema.columns "
        "where table_schema = 'marts' and data_type in ('text', 'character varying') order by 1, 2").fetchall()
    assert columns
    for table, column in columns:
        if column == "uscc" or column.endswith("_uscc"):
            continue  # unified social credit codes of organisations: 18 characters, often all digits, not persons
        ident = sql.Identifier(column)
        rel = sql.Identifier("marts", table)
        non_hash = conn.execute(sql.SQL("select count(*) filter (where {c} !~ '^[0-9a-f]{{64}}$'), "
                                        "count({c}) from {t}").format(c=ident, t=rel)).fetchone()
        if non_hash[1] and non_hash[0] == 0:  # a keyed hash column: 64 hex characters, nothing else
            assert column.endswith("person_key"), f"{table}.{column} looks like a hash but is not a person key"
            continue
        hits = conn.execute(sql.SQL("select {c} from {t} where {c} ~ %s limit 3").format(c=ident, t=rel),
                            (PERSONAL,)).fetchall()
        if hits:
            offenders.append((table, column, [h[0] for h in hits]))
    assert offenders == []


def test_masked_values_and_person_keys(conn):
    names = [r[0] for r in conn.execute("select name_masked from marts.fct_mediation_case_parties limit 200")]
    assert names and all("*" in n for n in names if n and len(n) > 1)
    phones = [r[0] for r in conn.execute("select phone_masked from marts.fct_mediation_case_parties "
                                         "where phone_masked is not null limit 200")]
    assert phones and all(re.fullmatch(r"\*{7}\d{4}", p) for p in phones)  # the last 4 digits at most
    # The HMAC key never sits in a stored view definition.
    leaked = conn.execute("select schemaname, viewname from pg_views where definition like %s",
                          (f"%{PII_TEST_KEY}%",)).fetchall()
    assert leaked == []


def test_every_marts_column_has_a_chinese_comment(conn):
    rows = conn.execute("""
        select c.relname, a.attname, col_description(c.oid, a.attnum), obj_description(c.oid, 'pg_class')
        from pg_class as c
        inner join pg_namespace as n on c.relnamespace = n.oid
        inner join pg_attribute as a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
        where n.nspname = 'marts' and c.relkind = 'r'
    """).fetchall()
    assert rows
    missing = [(t, c) for t, c, comment, _ in rows if not comment or not CJK.search(comment)]
    assert missing == []
    assert all(table_comment and "grain" in table_comment for _, _, _, table_comment in rows)


def test_small_case_counts_are_suppressed(conn):
    row = conn.execute("""
        select
            count(*) filter (where cases_resolved < 5 or grid_events < 5),
            count(*) filter (where is_case_count_suppressed and grid_resolution_rate is not null),
            count(*) filter (where not is_case_count_suppressed),
            count(*) filter (where is_case_count_suppressed)
        from marts.case_resolution_rates_by_community_month
    """).fetchone()
    assert row[0] == 0 and row[1] == 0 and row[2] > 0 and row[3] > 0


def test_incremental_build_equals_full_refresh(sample, conn, monkeypatch):
    """Published facts + a new batch merged incrementally == the same facts rebuilt in full."""
    from ingestion.generate import generate_sample
    from ingestion.load import load_file

    monkeypatch.setenv("WAREHOUSE_DSN", sample.dsn)
    monkeypatch.setenv("PII_HMAC_KEY", PII_TEST_KEY)
    incremental_summaries = {"case_resolution_rates_by_community_month"}  # incremental by month over the facts
    by_case = {"fct_mediation_case_parties": "case_no"}  # delete+insert by case
    assert set(incremental_models()) == set(EVENT_FACTS) | incremental_summaries | set(by_case)
    # Another batch of each event feed; its keys overlap the first batch, so rows are superseded too.
    files = generate_sample(sample.work / "second", scale=1, seed=2022, feeds=sorted(
        ["mediation_cases", "grid_events", "service_transactions"]))
    for feed_id, path in files.items():
        assert load_file(feed_id, path, dsn=sample.dsn).rows_loaded > 0
    selector = ["--select", " ".join(f"+{model}" for model in {**EVENT_FACTS, **by_case})]
    for schema in ("marts_incr", "marts_full"):
        conn.execute(sql.SQL("drop schema if exists {} cascade").format(sql.Identifier(schema)))

    # As the pipeline does it: the transform login owns the schemas dbt builds into.
    with psycopg.connect(login_dsn(sample.dsn, "transform"), autocommit=True) as transform:
        copied = seed_candidate_from_published(transform, "marts_incr")
    assert sorted(copied) == sorted([*EVENT_FACTS, *incremental_summaries, *by_case])
    incremental = run_dbt(["run", *selector], sample.dsn, candidate_schema="marts_incr")
    full = run_dbt(["run", "--full-refresh", *selector], sample.dsn, candidate_schema="marts_full")

    assert incremental.ok, incremental.log_tail
    assert full.ok, full.log_tail
    merged = {r["unique_id"].split(".")[-1]: r.get("message") or "" for r in incremental.results}
    assert all("MERGE" in merged[model] for model in EVENT_FACTS), merged
    assert all(merged[model].startswith("INSERT") for model in by_case), merged
    for model in {**EVENT_FACTS, **by_case}:
        a, b = sql.Identifier("marts_incr", model), sql.Identifier("marts_full", model)
        checksum = sql.SQL("select count(*), md5(string_agg(t::text, '|' order by t::text)) from {r} as t")
        incr_sum = conn.execute(checksum.format(r=a)).fetchone()
        full_sum = conn.execute(checksum.format(r=b)).fetchone()
        assert incr_sum == full_sum, model
        published = conn.execute(sql.SQL("select count(*) from {}").format(sql.Identifier("marts", model))).fetchone()
        assert incr_sum[0] >= published[0] or model in by_case  # a case delivered again may have fewer parties
    for schema in ("marts_incr", "marts_full"):
        conn.execute(sql.SQL("drop schema if exists {} cascade").format(sql.Identifier(schema)))


def test_dbt_docs_generate(sample):
    result = run_dbt(["docs", "generate"], sample.dsn)
    assert result.ok, result.log_tail


def test_sqlfluff_lint_models():
    proc = subprocess.run([sys.executable, "-m", "sqlfluff", "lint", "dbt_project/models", "--disable-progress-bar"],
                          cwd=REPO_ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]


def test_person_keys_are_the_keyed_hmac_of_the_id_number(conn):
    """SQL's sha256-based HMAC (no pgcrypto) equals Python's hmac for the same secret."""
    import hashlib
    import hmac

    pairs = conn.execute(
        "select upper(trim(t.applicant_id_number)), m.applicant_person_key "
        "from raw.service_transactions as t "
        "inner join marts.fct_service_transactions as m on m.transaction_no = t.transaction_no "
        "where t.applicant_id_number is not null limit 20").fetchall()
    assert pairs
    for id_number, person_key in pairs:
        assert person_key == hmac.new(PII_TEST_KEY.encode(), id_number.encode(), hashlib.sha256).hexdigest()
        assert id_number not in person_key
