"""Every committed GX suite resolves: no expectation is dropped silently by GX.

GX 1.24 logs and drops an expectation with an unknown type or refused kwargs; the gate
turns that into an error (expectations/gate.py `load_expectations`), and this test keeps
the committed suites free of it.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from expectations.gate import SuiteError, load_expectations, suite_files


@pytest.mark.parametrize("path", suite_files(), ids=lambda p: p.name)
def test_every_committed_expectation_resolves_to_a_gx_class(path: Path):
    name, expectations, errors = load_expectations(path)
    assert errors == []
    committed = json.loads(path.read_text(encoding="utf-8"))["expectations"]
    assert [e.expectation_type for e in expectations] == [e["type"] for e in committed]
    assert name == path.name.removesuffix(".json")


def _suite(tmp_path: Path, *expectations: dict, name: str = "dim_x.critical") -> Path:
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps({"name": name, "expectations": list(expectations)}), encoding="utf-8")
    return path


GOOD = {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "x_id"}}


@pytest.mark.parametrize("bad, says", [
    ({"type": "expect_column_values_to_not_be_nul", "kwargs": {"column": "x_id"}}, "expect_column_values_to_not_be_nul"),
    ({"type": "expect_column_values_to_not_be_null", "kwargs": {"colum": "x_id"}}, "colum"),
    ({"type": "expect_column_values_to_be_in_set", "kwargs": {"column": "x_id"}}, "value_set"),
])
def test_a_bad_expectation_is_reported_with_file_and_type(tmp_path, bad, says):
    _, expectations, errors = load_expectations(_suite(tmp_path, GOOD, bad))
    assert len(expectations) == 1 and len(errors) == 1
    message = str(errors[0])
    assert "dim_x.critical.json" in message and "#2" in message and bad["type"] in message and says in message


def test_a_suite_name_that_does_not_match_its_file_is_an_error(tmp_path):
    path = _suite(tmp_path, GOOD, name="dim_x.critical")
    path = path.rename(tmp_path / "dim_y.critical.json")
    with pytest.raises(SuiteError, match="dim_y.critical.json"):
        load_expectations(path)
