"""dbt-project-evaluator's rule families that the project keeps, checked on the parsed manifest.

dbt Labs' evaluator package cannot be installed here (no hub access), so CI checks the
families the project was measured against itself: sources in their department's
folder, freshness on every source, model names by layer (or a documented exception),
a primary-key test on every model, at most seven parents per model, and KPI
definitions only in the seed.
"""
from __future__ import annotations

import csv
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from warehouse.build import DBT_PROJECT

MAX_PARENTS = 7  # the evaluator's too_many_joins_threshold
PREFIXES = {"staging": ("stg_",), "intermediate": ("int_",), "marts": ("dim_", "fct_")}


@pytest.fixture(scope="module")
def manifest(tmp_path_factory) -> dict:
    target = tmp_path_factory.mktemp("dbt_parse")
    env = {**os.environ, "DBT_PG_HOST": "127.0.0.1", "DBT_PG_PORT": "5432", "DBT_PG_USER": "parse_only",
           "DBT_PG_DBNAME": "parse_only", "DBT_SEND_ANONYMOUS_USAGE_STATS": "false", "DO_NOT_TRACK": "1",
           "PII_HMAC_IPAD": "00", "PII_HMAC_OPAD": "00"}
    dbt = Path(sys.executable).with_name("dbt")
    proc = subprocess.run([str(dbt), "parse", "--profiles-dir", str(DBT_PROJECT), "--target-path", str(target),
                           "--log-path", str(target), "--no-partial-parse", "--no-use-colors"],
                          cwd=DBT_PROJECT, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return json.loads((target / "manifest.json").read_text())


def _models(manifest: dict) -> dict[str, dict]:
    return {uid: node for uid, node in manifest["nodes"].items()
            if node["resource_type"] == "model" and node["package_name"] == "governance"}


def _layer(node: dict) -> str:
    return Path(node["original_file_path"]).parts[1]  # models/<layer>/...


def test_one_source_per_department_in_its_staging_folder(manifest):
    sources = [s for s in manifest["sources"].values() if s["package_name"] == "governance"]
    assert sources
    for source in sources:
        name = source["source_name"]
        assert source["original_file_path"] == f"models/staging/{name}/_{name}__sources.yml", source["unique_id"]
    for uid, node in _models(manifest).items():
        for parent in node["depends_on"]["nodes"]:
            if parent.startswith("source."):
                department = parent.split(".")[2]
                assert _layer(node) == "staging" and Path(node["original_file_path"]).parts[2] == department, uid


def test_every_source_has_freshness(manifest):
    for source in manifest["sources"].values():
        assert source["loaded_at_field"] == "_loaded_at", source["unique_id"]
        assert (source["freshness"] or {}).get("warn_after", {}).get("count"), source["unique_id"]


def test_model_names_follow_their_layer_or_document_the_exception(manifest):
    wrong = []
    for node in _models(manifest).values():
        layer = _layer(node)
        if node["name"].startswith(PREFIXES[layer]):
            continue
        if layer == "marts" and node["config"]["meta"].get("naming_exception"):
            continue
        wrong.append(f"{node['name']} ({layer})")
    assert wrong == [], "name it by its layer or give config.meta.naming_exception a reason"


def _primary_key_tested(manifest: dict, model_uid: str) -> bool:
    unique, not_null = set(), set()
    for node in manifest["nodes"].values():
        if node["resource_type"] != "test" or node.get("attached_node") != model_uid:
            continue
        name = node["test_metadata"]["name"] if node.get("test_metadata") else None
        if name == "unique_combination":
            return True
        if name == "unique":
            unique.add(node["column_name"])
        elif name == "not_null":
            not_null.add(node["column_name"])
    return bool(unique & not_null)


def test_every_model_has_a_primary_key_test(manifest):
    missing = [node["name"] for uid, node in _models(manifest).items() if not _primary_key_tested(manifest, uid)]
    assert missing == [], "test unique + not_null on the key, or unique_combination for a composite key"


def test_no_model_joins_more_than_seven_parents(manifest):
    wide = {node["name"]: len(set(node["depends_on"]["nodes"])) for node in _models(manifest).values()
            if len(set(node["depends_on"]["nodes"])) > MAX_PARENTS}
    assert wide == {}, "split the model into smaller ones"


def test_kpi_definitions_live_only_in_the_seed(manifest):
    with (DBT_PROJECT / "seeds" / "ref_kpi_definitions.csv").open(encoding="utf-8") as handle:
        definitions = list(csv.DictReader(handle))
    assert len(definitions) == 28
    typed = re.compile(r"('[^']*'|\b[0-9]+)\s+as\s+(kpi_name_zh|kpi_name_en|kpi_area|unit|scope|sort_order)\b", re.I)
    for node in _models(manifest).values():
        sql = node["raw_code"]
        assert not typed.search(sql), f"{node['name']} types a KPI definition in: {typed.search(sql).group(0)}"
        assert not re.search(r"\(\s*values\b", sql, re.IGNORECASE), f"{node['name']}: a VALUES list in a model"
    kpis = next(node for node in _models(manifest).values() if node["name"] == "governance_kpis")
    assert "seed.governance.ref_kpi_definitions" in kpis["depends_on"]["nodes"]
    # The value each definition reports is the report's own (DOMAIN.md), and the
    # mislabelled single-district figure is labelled by what it counts: the whole city.
    assert all(d["scope"] == "city" for d in definitions)
    assert not any("东坡区" in d["kpi_name_zh"] for d in definitions)
    computed = "\n".join(node["raw_code"] for node in _models(manifest).values() if node["name"].endswith("_kpis_computed"))
    for definition in definitions:
        code = definition["kpi_code"].replace("{year}", '{{ var("kpi_period_year") }}')
        assert f"'{code}'" in computed, f"no model computes {definition['kpi_code']}"
