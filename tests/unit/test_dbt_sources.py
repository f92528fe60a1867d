"""The feed spec is the single source: dbt sources, staging keys and reconciliation follow it."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from ingestion.dbt_sources import STAGING_DIR, render, stale_files, write
from ingestion.registry import SpecError, load_registry, load_spec

MODELS_DIR = STAGING_DIR.parent
SPEC = """\
feed_id: street_lamps
department: 市城管局
dbt_source: city_management
title: Street lamps / 路灯
format: csv
encoding: utf-8
key: [lamp_code, district_code]
columns:
  - {name: lamp_code, header: 路灯编号, type: text, required: true}
  - {name: district_code, header: 区划代码, type: division_code, required: true}
  - {name: watts, header: 功率, type: decimal, min: 0, description: rated power}
  - {name: keeper_phone, header: 管护人电话, type: phone, pii: true}
"""


def _staging_models(spec) -> list[Path]:
    call = re.compile(rf"latest_source_rows\(\s*'{spec.dbt_source}'\s*,\s*'{spec.feed_id}'\s*[,)]")
    return [p for p in (STAGING_DIR / spec.dbt_source).glob("stg_*.sql") if call.search(p.read_text("utf-8"))]


def _primary_key(model: dict) -> tuple[str, ...]:
    """Columns tested unique + not_null, or the columns of a unique_combination test."""
    for test in model.get("data_tests") or []:
        if isinstance(test, dict) and "unique_combination" in test:
            return tuple(test["unique_combination"]["arguments"]["columns"])
    return tuple(c["name"] for c in model.get("columns", [])
                 if {"unique", "not_null"} <= {t if isinstance(t, str) else next(iter(t)) for t in c.get("data_tests") or []})


def test_committed_sources_files_are_what_the_specs_generate():
    assert stale_files() == [], "run `python -m ingestion dbt-sources` and commit the result"


def test_every_feed_has_one_staging_model_in_its_department_folder_keyed_as_its_spec():
    for spec in load_registry().values():
        models = _staging_models(spec)
        assert len(models) == 1, f"{spec.feed_id}: staging models reading it: {models}"
        model_name = models[0].stem
        assert model_name.startswith(f"stg_{spec.dbt_source}__"), model_name
        documented = yaml.safe_load((STAGING_DIR / spec.dbt_source / f"_{spec.dbt_source}__models.yml").read_text())
        model = next(m for m in documented["models"] if m["name"] == model_name)
        # A key that is personal information reaches staging only as its keyed hash, person_key.
        expected = tuple("person_key" if spec.column(k).pii else k for k in spec.key)
        assert _primary_key(model) == expected, f"{model_name}: tested key differs from {spec.feed_id}.yml key"


def test_reconciliation_marts_exist():
    marts = {p.stem for p in (MODELS_DIR / "marts").rglob("*.sql")}
    for spec in load_registry().values():
        if spec.reconcile:
            assert spec.reconcile.mart in marts, f"{spec.feed_id}.yml reconcile.mart {spec.reconcile.mart!r}"


def test_generator_handles_a_new_spec(tmp_path):
    (tmp_path / "specs").mkdir()
    spec_path = tmp_path / "specs" / "street_lamps.yml"
    spec_path.write_text(SPEC, encoding="utf-8")
    specs = {"street_lamps": load_spec(spec_path)}
    staging = tmp_path / "staging"

    assert [p.relative_to(staging).as_posix() for p in write(staging, specs)] == [
        "city_management/_city_management__sources.yml"]
    assert stale_files(staging, specs) == [] and write(staging, specs) == []
    source = yaml.safe_load(render(specs, staging)[0].text)["sources"][0]
    assert (source["name"], source["schema"], source["config"]) == (
        "city_management", "raw", {"loaded_at_field": "_loaded_at"})
    table = source["tables"][0]
    assert table["config"] == {"freshness": {"warn_after": {"count": 35, "period": "day"}},
                               "meta": {"feed_id": "street_lamps", "department": "市城管局",
                                        "title": "Street lamps / 路灯", "key": ["lamp_code", "district_code"]}}
    assert table["columns"][2] == {"name": "watts", "data_type": "numeric(18,2)",
                                   "description": "watts; 功率 — rated power"}
    assert "个人信息" in table["columns"][3]["description"]
    assert table["columns"][3]["config"] == {"meta": {"pii": True, "headers": ["管护人电话"]}}
    assert all("config" not in column for column in table["columns"][:3])  # only personal fields carry meta

    (staging / "city_management" / "_city_management__sources.yml").write_text("edited by hand\n")
    (staging / "orphan").mkdir()
    (staging / "orphan" / "_orphan__sources.yml").write_text("version: 2\n")
    problems = stale_files(staging, specs)
    assert len(problems) == 2 and "differs from the specs" in problems[0] and "orphan" in problems[1]


def test_a_spec_without_dbt_source_is_named(tmp_path):
    spec_path = tmp_path / "street_lamps.yml"
    spec_path.write_text(SPEC.replace("dbt_source: city_management\n", ""), encoding="utf-8")
    with pytest.raises(SpecError, match=r"street_lamps\.yml: add `dbt_source"):
        render({"street_lamps": load_spec(spec_path)}, tmp_path)
