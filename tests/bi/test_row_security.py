"""Row-level security by county: a county login sees only its county's rows in every mart that has a
division, the city login sees all, counts add up; applied before the swap, so `marts` always has it."""
from __future__ import annotations

import uuid

import psycopg
import pytest
from psycopg import sql

from warehouse.row_security import apply_row_security, install_scopes, load_config, plan_policies

COUNTY = "511402"  # 东坡区


@pytest.fixture(scope="module")
def logins(bi_sample):
    """Login roles (cluster-wide, unique names): one per scope role of the reference data, plus a
    bi_reader member without a scope and an auditor; dropped afterwards."""
    config = load_config()
    tag = uuid.uuid4().hex[:8]
    made = {s.role_name: f"rls_{tag}_{s.role_name}" for s in config.scopes}
    made["bi_reader"] = f"rls_{tag}_unscoped"
    made["auditor"] = f"rls_{tag}_auditor"
    with psycopg.connect(bi_sample.dsn, autocommit=True) as conn:
        for group, login in made.items():
            conn.execute(sql.SQL("create role {} login in role {}").format(sql.Identifier(login), sql.Identifier(group)))
    yield made
    with psycopg.connect(bi_sample.dsn, autocommit=True) as conn:
        for login in made.values():
            conn.execute(sql.SQL("drop role if exists {}").format(sql.Identifier(login)))


@pytest.fixture(scope="module")
def owner(bi_sample):
    with psycopg.connect(bi_sample.dsn, autocommit=True) as conn:
        yield conn


def _count_as(dsn: str, login: str, table: str) -> int:
    """Row count seen by `login` (SET ROLE from the owner's session: independent of the server's auth)."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("set role {}").format(sql.Identifier(login)))
        return conn.execute(sql.SQL("select count(*) from {}").format(sql.Identifier("marts", table))).fetchone()[0]


def _rows_per_county(owner, policy) -> dict[str | None, int]:
    """As the owner (no RLS): rows per county, the county derived the way the policy derives it."""
    table = sql.Identifier("marts", policy.table)
    if policy.mode == "county":
        query = sql.SQL("select {}, count(*) from {} group by 1").format(sql.Identifier(policy.column), table)
    elif policy.mode == "division":
        query = sql.SQL("select d.county_code, count(*) from {} as t left join {} as d on d.division_code = t.{} "
                        "group by 1").format(table, sql.Identifier("marts", policy.parent), sql.Identifier(policy.column))
    else:
        query = sql.SQL("select p.county_code, count(*) from {} as t left join {} as p on p.{} = t.{} group by 1").format(
            table, sql.Identifier("marts", policy.parent), sql.Identifier(policy.column), sql.Identifier(policy.column))
    return dict(owner.execute(query).fetchall())


def test_policies_cover_the_division_bearing_marts(owner):
    policies = {p.table: p for p in plan_policies(owner, "marts", load_config())}
    assert {"funding_by_division_year", "facility_coverage_by_community", "case_resolution_rates_by_community_month",
            "dim_divisions", "fct_grid_events", "fct_mediation_cases", "social_workforce_by_county"} <= set(policies)
    assert policies["dim_party_organizations"].mode == "division"
    assert policies["fct_mediation_case_parties"].mode == "parent"
    assert "governance_kpis" not in policies and "dim_service_items" not in policies
    secured = {r[0] for r in owner.execute(
        "select c.relname from pg_class as c where c.relnamespace = 'marts'::regnamespace and c.relrowsecurity")}
    assert secured == set(policies)
    named = owner.execute("select count(*) from pg_policies where schemaname = 'marts'").fetchone()[0]
    assert named == 2 * len(policies)


def test_county_login_sees_only_its_county_and_counts_add_up(bi_sample, owner, logins):
    from warehouse.publish import person_level_tables

    config = load_config()
    counties = [s.county_code for s in config.scopes if s.scope == "county"]
    person_level = set(person_level_tables(owner, "marts"))
    for policy in plan_policies(owner, "marts", config):
        per_county = _rows_per_county(owner, policy)
        total = sum(per_county.values())
        assert _count_as(bi_sample.dsn, logins["auditor"], policy.table) == total, policy
        if policy.table in person_level:  # row-level facts about residents: no BI login reads them at all
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                _count_as(bi_sample.dsn, logins["bi_city"], policy.table)
            continue
        assert _count_as(bi_sample.dsn, logins["bi_city"], policy.table) == total, policy
        assert _count_as(bi_sample.dsn, logins["bi_reader"], policy.table) == 0, policy
        seen = {}
        for code in counties:
            seen[code] = _count_as(bi_sample.dsn, logins[f"bi_county_{code}"], policy.table)
            assert seen[code] == per_county.get(code, 0), (policy, code)
        assert seen[COUNTY] > 0, policy
        # Every row is seen by exactly one county login, or (city-level, outside any county) by the city only.
        outside = sum(n for code, n in per_county.items() if code not in counties)
        assert sum(seen.values()) + outside == total, policy


def test_county_login_rows_are_its_county(bi_sample, logins):
    with psycopg.connect(bi_sample.dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("set role {}").format(sql.Identifier(logins[f"bi_county_{COUNTY}"])))
        assert conn.execute("select array_agg(distinct county_code) from marts.funding_by_division_year"
                            ).fetchone()[0] == [COUNTY]
        assert conn.execute("select count(*) from marts.dim_party_organizations as o left join marts.dim_divisions "
                            "as d on d.division_code = o.division_code where d.county_code is distinct from %s",
                            (COUNTY,)).fetchone()[0] == 0
        # Marts without a division are not filtered.
        assert conn.execute("select count(*) from marts.governance_kpis").fetchone()[0] == 28


def test_policies_are_on_the_candidate_before_the_swap(fresh_database):
    """Bootstrap installs the scopes as the owner; apply_row_security works on the candidate schema as the
    build role; the renamed tables carry their policies."""
    from warehouse.bootstrap import bootstrap
    from warehouse.publish import swap_in

    dsn = fresh_database()
    bootstrap(dsn)
    with psycopg.connect(dsn, autocommit=True) as conn:
        assert conn.execute("select count(*) from security.bi_row_scopes").fetchone()[0] > 0  # by bootstrap
        assert install_scopes(conn) is False  # unchanged: no DDL, no writes
        conn.execute("create schema marts_candidate authorization gov_transform")
        conn.execute("set role gov_transform")  # not a superuser: owns the candidate tables, nothing more
        conn.execute("create table marts_candidate.t (id int, county_code text)")
        conn.execute("insert into marts_candidate.t values (1, '511402'), (2, '511403'), (3, null)")
        apply_row_security(conn, "marts_candidate")
        conn.execute("reset role")
        assert conn.execute("select count(*) from pg_policies where schemaname = 'marts_candidate'").fetchone()[0] == 2
        swap_in(conn, "marts_candidate")
        assert conn.execute("select relrowsecurity from pg_class where oid = 'marts.t'::regclass").fetchone()[0]
        conn.execute("set role bi_county_511402")
        assert conn.execute("select id from marts.t").fetchall() == [(1,)]
        conn.execute("reset role")
        conn.execute("set role bi_city")
        assert conn.execute("select count(*) from marts.t").fetchone()[0] == 3
