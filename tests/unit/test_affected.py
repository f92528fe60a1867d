"""The project fingerprint and the dependency walk behind partial publications."""
from __future__ import annotations

from warehouse.affected import BuildPlan, ProjectGraph, project_files, project_fingerprint


def test_fingerprint_covers_project_suites_vars_and_key():
    names = [name for name, _ in project_files()]
    assert "dbt_project/dbt_project.yml" in names and "dbt_project/profiles.yml" in names
    assert any(n.startswith("dbt_project/models/marts/") for n in names)
    assert any(n.startswith("dbt_project/seeds/") for n in names)
    assert any(n.startswith("expectations/suites/") for n in names)
    assert "warehouse/checks.py" in names and "expectations/gate.py" in names  # the gate's rules too
    base = project_fingerprint({"candidate_schema": "marts_candidate"}, b"k")
    assert base == project_fingerprint({"candidate_schema": "marts_candidate"}, b"k")
    assert base != project_fingerprint({"candidate_schema": "other"}, b"k")
    assert base != project_fingerprint({"candidate_schema": "marts_candidate"}, b"other key")


def test_descendants_and_selection():
    graph = ProjectGraph("f", {"source.governance.raw.a": ["model.s"], "model.s": ["model.m", "test.t"],
                               "model.m": []}, {}, {}, ["source.governance.raw.a"])
    assert graph.descendants(["source.governance.raw.a"]) == {"model.s", "model.m", "test.t"}
    plan = BuildPlan("partial", "", ["a", "b"], ["m"], ["n"], [])
    assert plan.build_selection() == ["--select", "source:*.a+", "source:*.b+"]
    assert plan.snapshot_selection() is None and plan.gx_marts() == {"m"}
    full = BuildPlan("full", "forced")
    assert full.build_selection() == [] and full.snapshot_selection() == [] and full.gx_marts() is None
