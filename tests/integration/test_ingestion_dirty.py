"""The dirty sample: every injected defect ends exactly as manifest.json says, nothing more."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from psycopg import sql

from ingestion.generate.dirty import generate_dirty
from ingestion.load import load_file
from ingestion.registry import get_spec


@pytest.fixture(scope="module")
def dirty_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("dirty")
    generate_dirty(out)
    return out


def _expected(manifest: dict, file: str, outcome: str) -> set[tuple]:
    return {(d["row"], d["column"], d["rule"]) for d in manifest["defects"]
            if d["file"] == file and d["outcome"] == outcome}


def test_every_defect_has_its_expected_outcome(db, dirty_dir):
    manifest = json.loads((dirty_dir / "manifest.json").read_text(encoding="utf-8"))
    assert {f["feed"] for f in manifest["files"]} == {s for s in (f["feed"] for f in manifest["files"])}
    for entry in manifest["files"]:
        summary = load_file(entry["feed"], dirty_dir / entry["file"])
        where = f"{entry['file']}: {summary.message} {summary.errors[:3]}"
        assert summary.status == entry["expected_status"], where
        rejected = {tuple(r) for r in db.execute(
            "select row_number, column_name, rule from audit.rejected_rows where batch_id = %s",
            (summary.batch_id,))}
        warnings = {tuple(r) for r in db.execute(
            "select row_number, column_name, rule from audit.ingestion_warnings where batch_id = %s",
            (summary.batch_id,))}
        if entry["file_rule"]:
            assert rejected == {(None, None, entry["file_rule"])}, where
            assert summary.rows_loaded == 0 and summary.rows_rejected == summary.rows_in
            continue
        assert rejected == _expected(manifest, entry["file"], "rejected"), where
        assert warnings == _expected(manifest, entry["file"], "warning"), where
        counts = (summary.rows_in, summary.rows_loaded, summary.rows_rejected)
        assert counts == (entry["rows_in"], entry["rows_loaded"], entry["rows_rejected"]), where
        _check_accepted_values(db, manifest, entry, summary.batch_id)
    unbalanced = db.execute("select count(*) from audit.ingestion_batches "
                            "where rows_in <> rows_loaded + rows_rejected").fetchone()[0]
    assert unbalanced == 0


def _check_accepted_values(db, manifest: dict, entry: dict, batch_id: int) -> None:
    """Values typed the ways people type them are stored as their canonical value."""
    spec = get_spec(entry["feed"])
    for defect in manifest["defects"]:
        if defect["file"] != entry["file"] or defect["outcome"] != "accepted":
            continue
        col = spec.column(defect["column"])
        same = db.execute(sql.SQL("select {col} = %s::{type} from {table} where _batch_id = %s and _row_number = %s")
                          .format(col=sql.Identifier(col.name), type=sql.SQL(col.pg_type),
                                  table=sql.Identifier("raw", spec.feed_id)),
                          (defect["expected_value"], batch_id, defect["row"])).fetchone()
        assert same == (True,), f"{entry['file']} row {defect['row']} {col.name}: expected {defect['expected_value']}"
