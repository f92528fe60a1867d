"""Reconciliation pairs come from the specs (via the dbt sources); freshness results become warnings."""
from __future__ import annotations

from warehouse.checks import _freshness_status, freshness_sources, from_freshness, reconciliation_pairs
from warehouse.report import format_phases


def test_reconciliation_pairs_come_from_source_meta():
    manifest = {"sources": {
        "source.governance.org_dept.party_organizations": {
            "name": "party_organizations", "meta": {"key": ["org_code"], "reconcile_mart": "dim_party_organizations"}},
        "source.governance.civil_affairs.social_workers": {"name": "social_workers", "meta": {"key": ["id_number"]}},
    }}
    assert reconciliation_pairs(manifest) == [("party_organizations", ("org_code",), "dim_party_organizations")]
    assert reconciliation_pairs({}) == []


def test_freshness_results_are_warnings():
    criteria = {"warn_after": {"count": 35, "period": "day"}, "error_after": {"count": None, "period": None}}
    sources = {"results": [
        {"unique_id": "source.governance.org_dept.party_organizations", "status": "pass",
         "max_loaded_at_time_ago_in_s": 3600.0, "criteria": criteria},
        {"unique_id": "source.governance.housing.residential_compounds", "status": "warn",
         "max_loaded_at_time_ago_in_s": 40 * 86400.0, "criteria": criteria},
        {"unique_id": "source.governance.justice.mediation_cases", "status": "runtime error",
         "error": "relation does not exist"},
    ]}
    checks = from_freshness(sources)
    assert [(c.target, c.severity, c.status, c.blocks) for c in checks] == [
        ("party_organizations", "warning", "pass", False),
        ("residential_compounds", "warning", "fail", False),
        ("mediation_cases", "warning", "error", False),
    ]
    assert checks[1].message == "last batch loaded 960.0 h ago; stale after 35 day(s)"
    assert checks[2].message == "relation does not exist"
    failed_run = from_freshness(None, "dbt could not connect")
    assert [(c.severity, c.status, c.message) for c in failed_run] == [("warning", "error", "dbt could not connect")]


def test_freshness_criteria_come_from_the_manifest_and_follow_dbt():
    criteria = {"warn_after": {"count": 35, "period": "day"}, "error_after": {"count": None, "period": None}}
    manifest = {"sources": {
        "source.governance.org_dept.party_organizations": {
            "name": "party_organizations", "loaded_at_field": "_loaded_at", "freshness": criteria, "meta": {}},
        "source.governance.x.no_freshness": {"name": "no_freshness", "config": {"freshness": None}, "meta": {}},
    }}
    assert freshness_sources(manifest) == {"party_organizations": {
        "unique_id": "source.governance.org_dept.party_organizations", "loaded_at_field": "_loaded_at",
        "criteria": criteria}}
    assert _freshness_status(34 * 86400.0, criteria) == "pass"
    assert _freshness_status(36 * 86400.0, criteria) == "warn"
    assert _freshness_status(2 * 3600.0, {**criteria, "error_after": {"count": 1, "period": "hour"}}) == "error"
    assert _freshness_status(None, criteria) == "error"


def test_phase_times_read_as_one_line():
    line = format_phases({"prepare_candidate": 0.31, "dbt_build": 9.12, "dbt_startup_parse": 4.2, "gx": 1.0})
    assert line == "prepare_candidate 0.3s · dbt_build 9.1s (start-up+parse 4.2s) · gx 1.0s"
    assert format_phases(None) == ""
