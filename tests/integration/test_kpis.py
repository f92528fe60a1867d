"""The published headline KPIs reproduce the report's figures from the generated sample."""
from __future__ import annotations

import csv
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest

from tests.integration.sample_warehouse import published_sample

# DOMAIN.md, "Headline figures the published marts must reproduce".
EXPECTED = {
    "street_working_committees": Decimal("13"),
    "community_regional_party_committees": Decimal("123"),
    "compound_party_branches": Decimal("1391"),
    "party_member_responsibility_areas": Decimal("4284"),
    "compounds_covered_by_party_org": Decimal("3315"),
    "municipal_incubation_bases": Decimal("1"),
    "county_incubation_centers": Decimal("7"),
    "incubated_service_orgs": Decimal("100"),
    "incubated_interest_volunteer_orgs": Decimal("100"),
    "social_workers": Decimal("3253"),
    "purchase_pilot_townships_municipal": Decimal("27"),
    "purchase_catalog_items": Decimal("29"),
    "purchase_funds_2021_wan_yuan": Decimal("7093.2"),
    "purchase_projects_2021": Decimal("206"),
    "elderly_care_facilities": Decimal("823"),
    "child_care_facilities": Decimal("304"),
    "party_mass_centers_renovation": Decimal("121"),
    "old_compounds_renovated": Decimal("786"),
    "old_compound_investment_yi_yuan": Decimal("17.7"),
    "community_duty_items": Decimal("29"),
    "community_assistance_items": Decimal("50"),
    "community_negative_items": Decimal("7"),
    "service_hall_departments": Decimal("29"),
    "government_service_items": Decimal("1570"),
    "cross_city_items": Decimal("55"),
    "sichuan_chongqing_items": Decimal("210"),
    "cross_province_items": Decimal("132"),
    "neighborhood_center_companies": Decimal("3"),
}
FACILITY_HEADERS = ["设施编码", "设施名称", "设施类型", "社区代码", "开放时段", "建筑面积(平方米)", "启用日期",
                    "改造状态", "运营主体统一社会信用代码"]


@pytest.fixture(scope="module")
def sample(server_dsn, session_var_dir, tmp_path_factory, sample_template):
    yield from published_sample(server_dsn, session_var_dir, tmp_path_factory.mktemp("kpis"), "gov_kpis", sample_template)


def _kpis(dsn: str) -> dict[str, Decimal]:
    with psycopg.connect(dsn) as conn:
        return dict(conn.execute("select kpi_code, kpi_value from marts.governance_kpis where period_year = 2021"))


def test_sample_is_published(sample):
    assert sample.publication["outcome"] == "published", sample.publication["failed_checks"]
    assert sample.publication["checks_failed"] == 0


def test_all_28_headline_figures_match_the_report(sample):
    kpis = _kpis(sample.dsn)
    assert set(kpis) == set(EXPECTED)
    assert {code: value for code, value in kpis.items() if value != EXPECTED[code]} == {}


def test_definition_order_and_units(sample):
    with psycopg.connect(sample.dsn) as conn:
        rows = conn.execute("select kpi_code, unit from marts.governance_kpis order by sort_order").fetchall()
    assert [code for code, _ in rows] == list(EXPECTED)
    units = dict(rows)
    assert units["purchase_funds_2021_wan_yuan"] == "万元" and units["old_compound_investment_yi_yuan"] == "亿元"


def test_five_more_elderly_care_facilities_move_the_kpi_by_five(sample, tmp_path: Path, monkeypatch):
    """A new GB18030 community_facilities file with five more 社区养老服务设施 → +5 after publication."""
    from ingestion.load import load_file
    from warehouse.publication import build_and_publish

    monkeypatch.setenv("WAREHOUSE_DSN", sample.dsn)
    monkeypatch.setenv("REPORTS_DIR", str(tmp_path / "reports"))
    before = _kpis(sample.dsn)
    with psycopg.connect(sample.dsn) as conn:
        community = conn.execute(
            "select division_code from marts.dim_divisions where division_level = 'community' "
            "order by division_code limit 1").fetchone()[0]
    path = tmp_path / "community_facilities_extra.csv"
    with path.open("w", encoding="gb18030", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(FACILITY_HEADERS)
        for n in range(1, 6):
            writer.writerow([f"YLTEST{n:04d}", f"测试养老服务点{n}", "社区养老服务设施", community,
                             "周一至周日 08:00-20:00", "120.5", "2021-06-01", "未纳入", ""])
    summary = load_file("community_facilities", path, dsn=sample.dsn)
    assert summary.rows_loaded == 5, summary.to_dict()

    result = build_and_publish("kpis-extra-facilities", dsn=sample.dsn)

    assert result["outcome"] == "published", result["failed_checks"]
    after = _kpis(sample.dsn)
    assert after["elderly_care_facilities"] - before["elderly_care_facilities"] == 5
    assert {code: value for code, value in after.items() if code != "elderly_care_facilities"} == {
        code: value for code, value in before.items() if code != "elderly_care_facilities"}
