"""The gate on real GX and PostgreSQL: a misspelled expectation is a blocking error, not a lost check."""
from __future__ import annotations

import json

from expectations.gate import run_suites


def test_a_misspelled_expectation_blocks_and_the_good_ones_still_run(db, warehouse_dsn, tmp_path):
    db.execute("create table public.dim_x (x_id integer)")
    db.execute("insert into public.dim_x values (1), (null)")
    (tmp_path / "dim_x.warning.json").write_text(json.dumps({"name": "dim_x.warning", "expectations": [
        {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "x_id"}},
        {"type": "expect_column_values_to_not_be_nul", "kwargs": {"column": "x_id"}},
    ]}), encoding="utf-8")

    checks = run_suites(warehouse_dsn, "public", suites_dir=tmp_path)

    by_name = {check.name: check for check in checks}
    invalid = by_name["dim_x.warning:invalid_expectation"]
    assert (invalid.severity, invalid.status, invalid.blocks) == ("critical", "error", True)
    assert "dim_x.warning.json" in invalid.message and "expect_column_values_to_not_be_nul" in invalid.message
    ran = by_name["dim_x.warning:expect_column_values_to_not_be_null:x_id"]
    assert (ran.status, ran.failures, ran.blocks) == ("fail", 1, False)
    assert len(checks) == 2
