"""Smoke test of `make bi`: Superset (its own venv, built by infra/bi/install.sh when missing) on a free
port against a warehouse with published marts. Chart data read through the REST API equals the marts;
SQL Lab through the read-only BI login is refused raw.* and audit.* by PostgreSQL itself."""
from __future__ import annotations

import datetime as dt
import json
import socket
import uuid

import psycopg
import pytest
import requests
import yaml
from psycopg import sql

from infra.bi import BI_DIR, start, stop
from tests.conftest import create_database, drop_database


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def bi_var(tmp_path_factory):
    return tmp_path_factory.mktemp("bi_var")


@pytest.fixture(scope="module")
def superset(bi_sample, server_dsn, bi_var):
    """Superset started as `make bi` does, with its own metadata database and logins (unique names:
    roles are cluster-wide and other test sessions may share the server)."""
    tag = uuid.uuid4().hex[:8]
    metadata_dsn = create_database(server_dsn, "bi_meta")
    metadata_db = psycopg.conninfo.conninfo_to_dict(metadata_dsn)["dbname"]
    var_dir = bi_var
    logins = (f"bi_superset_{tag}", f"superset_meta_{tag}")
    try:
        server = start(port=_free_port(), var_dir=var_dir, admin_dsn=bi_sample.dsn, metadata_db=metadata_db,
                       bi_login=logins[0], meta_login=logins[1])
        yield server
    finally:
        stop(var_dir / "bi")
        drop_database(server_dsn, metadata_dsn)
        with psycopg.connect(server_dsn, autocommit=True) as conn:
            for login in logins:
                conn.execute(sql.SQL("drop role if exists {}").format(sql.Identifier(login)))


@pytest.fixture(scope="module")
def api(superset):
    session = requests.Session()
    login = session.post(f"{superset.url}/api/v1/security/login", timeout=30, json={
        "username": "admin", "password": superset.admin_password, "provider": "db", "refresh": False})
    assert login.status_code == 200, login.text
    session.headers["Authorization"] = f"Bearer {login.json()['access_token']}"
    csrf = session.get(f"{superset.url}/api/v1/security/csrf_token/", timeout=30).json()["result"]
    session.headers.update({"X-CSRFToken": csrf, "Referer": superset.url})
    with session:
        yield session


@pytest.fixture(scope="module")
def owner(bi_sample):
    with psycopg.connect(bi_sample.dsn, autocommit=True) as conn:
        yield conn


def _chart_rows(superset, api, chart_file: str) -> list[dict]:
    chart_uuid = yaml.safe_load((BI_DIR / "bundle" / "charts" / chart_file).read_text(encoding="utf-8"))["uuid"]
    query = {"columns": ["id", "uuid"], "filters": [{"col": "uuid", "opr": "eq", "value": chart_uuid}]}
    found = api.get(f"{superset.url}/api/v1/chart/", params={"q": json.dumps(query)}, timeout=30).json()["result"]
    assert len(found) == 1, found
    response = api.get(f"{superset.url}/api/v1/chart/{found[0]['id']}/data/", timeout=60)
    assert response.status_code == 200, response.text[:2000]
    return response.json()["result"][0]["data"]


def _num(value) -> float | None:
    return None if value is None else round(float(value), 4)


def test_chart_data_equals_the_marts(superset, api, owner):
    kpis = _chart_rows(superset, api, "headline_kpis.yaml")
    expected = {code: _num(value) for code, value in owner.execute("select kpi_code, kpi_value from marts.governance_kpis")}
    assert len(kpis) == len(expected) == 28
    assert {row["kpi_code"]: _num(row["kpi_value"]) for row in kpis} == expected

    funding = _chart_rows(superset, api, "funding_by_county_year.yaml")
    expected = {(county, year): (projects, _num(total)) for county, year, projects, total in owner.execute(
        "select county_code, funding_year, sum(purchase_projects), sum(total_amount_wan_yuan) "
        "from marts.funding_by_division_year group by 1, 2")}
    assert {(r["county_code"], r["funding_year"]): (r["purchase_projects"], _num(r["total_amount"]))
            for r in funding} == expected

    coverage = _chart_rows(superset, api, "facility_coverage.yaml")
    expected = {code: (facilities, covered) for code, facilities, covered in owner.execute(
        "select community_code, facilities, is_fully_covered from marts.facility_coverage_by_community")}
    assert len(coverage) == len(expected) == 178
    assert {r["community_code"]: (r["facilities"], r["is_fully_covered"]) for r in coverage} == expected

    cases = _chart_rows(superset, api, "case_resolution.yaml")
    expected = {(code, month): (resolved, _num(rate)) for code, month, resolved, rate in owner.execute(
        "select community_code, case_month, cases_resolved, grid_resolution_rate "
        "from marts.case_resolution_rates_by_community_month")}
    epoch = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    got = {(r["community_code"], (epoch + dt.timedelta(milliseconds=r["case_month"])).date()):
           (r["cases_resolved"], _num(r["grid_resolution_rate"])) for r in cases}
    assert len(cases) == len(expected) > 1000
    assert got == expected


def test_dashboard_and_chinese_labels(superset, api):
    charts = api.get(f"{superset.url}/api/v1/dashboard/governance/charts", timeout=30)
    assert charts.status_code == 200, charts.text
    assert len(charts.json()["result"]) == 4
    query = {"columns": ["id", "table_name"], "filters": [{"col": "table_name", "opr": "eq", "value": "governance_kpis"}]}
    dataset_id = api.get(f"{superset.url}/api/v1/dataset/", params={"q": json.dumps(query)},
                         timeout=30).json()["result"][0]["id"]
    columns = api.get(f"{superset.url}/api/v1/dataset/{dataset_id}", timeout=30).json()["result"]["columns"]
    labels = {c["column_name"]: c["verbose_name"] for c in columns}
    assert labels["kpi_code"] == "指标代码" and labels["kpi_value"] == "指标值"
    assert all(labels.values()), labels


def _sqllab(superset, api, query: str) -> requests.Response:
    database_id = api.get(f"{superset.url}/api/v1/database/", timeout=30).json()["result"][0]["id"]
    return api.post(f"{superset.url}/api/v1/sqllab/execute/", timeout=60,
                    json={"database_id": database_id, "sql": query, "runAsync": False, "schema": "marts"})


def test_sqllab_reads_marts_but_postgresql_refuses_raw_and_audit(superset, api, owner):
    allowed = _sqllab(superset, api, "select count(*) as n from marts.governance_kpis")
    assert allowed.status_code == 200, allowed.text
    assert allowed.json()["data"] == [{"n": 28}]
    for table in ("raw.party_organizations", "audit.ingestion_batches"):
        refused = _sqllab(superset, api, f"select * from {table} limit 1")
        assert refused.status_code >= 400
        assert f"permission denied for schema {table.split('.')[0]}" in refused.text, refused.text
    # The login Superset uses: a plain LOGIN role, member of bi_reader, owning nothing.
    attrs = owner.execute("select rolsuper, rolcreaterole, rolcreatedb, rolbypassrls, pg_has_role(oid, 'bi_reader', "
                          "'member') from pg_roles where rolname = %s", (superset.bi_login,)).fetchone()
    assert attrs == (False, False, False, False, True)
    tables_owned = owner.execute("select count(*) from pg_class where relowner = %s::regrole",
                                 (superset.bi_login,)).fetchone()[0]
    assert tables_owned == 0
    # Its password was sent as a SCRAM verifier (libpq's), not in clear.
    stored = owner.execute("select rolpassword from pg_authid where rolname = %s", (superset.bi_login,)).fetchone()[0]
    assert stored.startswith("SCRAM-SHA-256$4096:")


def test_the_warehouse_connection_keeps_the_bi_login_password(superset, api):
    """Superset must send the BI login's password: the embedded server (the default) refuses a login
    without one, while the CI server's trust authentication would accept it and hide the gap."""
    database_id = api.get(f"{superset.url}/api/v1/database/", timeout=30).json()["result"][0]["id"]
    connection = api.get(f"{superset.url}/api/v1/database/{database_id}/connection", timeout=30)
    assert connection.status_code == 200, connection.text
    uri = connection.json()["result"]["sqlalchemy_uri"]
    assert uri.startswith(f"postgresql+psycopg2://{superset.bi_login}:XXXXXXXXXX@"), uri  # stored, shown masked


def test_secrets_are_private_and_bound_to_localhost(superset, bi_var):
    for name in ("secret_key", "admin.password", "bi_login.password", "metadata.password"):
        assert (bi_var / "bi" / name).stat().st_mode & 0o777 == 0o600, name
    assert superset.url.startswith("http://127.0.0.1:")
    # No phone-home: the content security policy allows nothing outside the server (Scarf pixel).
    policy = requests.get(f"{superset.url}/login/", timeout=30).headers["Content-Security-Policy"]
    assert "scarf" not in policy and "https://" not in policy, policy
