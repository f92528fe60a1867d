"""Rollback: the kept previous version republished atomically, recorded, and the next build skips nothing."""
from __future__ import annotations

import psycopg
import pytest

from ingestion.generate import generate_sample
from ingestion.load import load_file
from tests.fixtures.party_files import BAD_ROWS, GOOD_ROWS, write_party_workbook
from warehouse.publication import build_and_publish
from warehouse.rollback import NothingToRollBack, rollback


def split_jsonl(path, parts: int, out_dir) -> list:
    """The generated grid-event feed cut into consecutive deliveries (each a new batch)."""
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    size = len(lines) // parts
    files = []
    for index in range(parts):
        chunk = lines[index * size:(index + 1) * size if index < parts - 1 else None]
        target = out_dir / f"part{index + 1}" / "grid_events.jsonl"
        target.parent.mkdir(parents=True)
        target.write_text("".join(chunk), encoding="utf-8")
        files.append(target)
    return files


def events(conn, schema: str = "marts") -> int:
    return conn.execute(f"select count(*) from {schema}.fct_grid_events").fetchone()[0]


def test_rollback_republishes_previous_and_next_build_skips_no_batch(db, warehouse_dsn, tmp_path):
    sample = generate_sample(tmp_path / "sample", feeds=["grid_events"])["grid_events"]
    part1, part2, part3 = split_jsonl(sample, 3, tmp_path)
    load_file("party_organizations", write_party_workbook(tmp_path / "party_organizations.xlsx",
                                                          GOOD_ROWS + [row for row, _, _ in BAD_ROWS]))
    load_file("grid_events", part1)
    first = build_and_publish("first")
    assert first["outcome"] == "published", first["failed_checks"]
    after_first = events(db)
    load_file("grid_events", part2)
    second = build_and_publish("second")
    assert second["outcome"] == "published", second["failed_checks"]
    after_second = events(db)
    assert after_second > after_first > 0
    # The version replaced is kept, readable by auditors, not by BI.
    assert events(db, "marts_previous") == after_first
    with pytest.raises(psycopg.errors.InsufficientPrivilege), db.transaction():
        db.execute("set local role bi_reader")
        db.execute("select count(*) from marts_previous.fct_grid_events")

    with pytest.raises(ValueError, match="reason"):
        rollback("  ")
    result = rollback("grid events of batch 2 were double-counted")

    assert result["restores_publication"] == first["publication_id"]
    assert result["replaced_publication"] == second["publication_id"]
    assert events(db) == after_first and events(db, "marts_previous") == after_second
    row = db.execute("select outcome, build_mode, restores_publication, requested_by, requested_by_os, reason, "
                     "source_batches, project_fingerprint from audit.publications where publication_id = %s",
                     (result["publication_id"],)).fetchone()
    restored = db.execute("select source_batches, project_fingerprint from audit.publications "
                          "where publication_id = %s", (first["publication_id"],)).fetchone()
    current_user = db.execute("select current_user").fetchone()[0]
    assert row[:4] == ("published", "rollback", first["publication_id"], current_user)
    assert row[4] and row[5] == "grid events of batch 2 were double-counted"
    assert (row[6], row[7]) == restored
    # No earlier row was changed: the rolled-back publication still says published.
    assert db.execute("select outcome from audit.publications where publication_id = %s",
                      (second["publication_id"],)).fetchone()[0] == "published"
    with db.transaction():
        db.execute("set local role bi_city")  # a BI login with the city-wide row scope
        assert db.execute("select count(*) from marts.fct_grid_events").fetchone()[0] == after_first

    # Nothing new arrived: the rolled-back batches are not republished behind the operator's back.
    assert build_and_publish("after-rollback")["outcome"] == "nothing_to_do"
    # The next delivery rebuilds from the restored version: batch 2 is read again, not skipped.
    load_file("grid_events", part3)
    third = build_and_publish("third")
    assert third["outcome"] == "published", third["failed_checks"]
    total = sum(1 for path in (part1, part2, part3) for line in path.read_text(encoding="utf-8").splitlines() if line)
    assert events(db) == total
    batches = {r[0] for r in db.execute("select distinct source_batch_id from marts.fct_grid_events")}
    assert len(batches) == 3


def test_rollback_without_a_kept_version_is_refused(db, warehouse_dsn, tmp_path):
    with pytest.raises(NothingToRollBack):
        rollback("nothing published yet")
    load_file("party_organizations", write_party_workbook(tmp_path / "party_organizations.xlsx", GOOD_ROWS))
    assert build_and_publish("only")["outcome"] == "published"
    with pytest.raises(NothingToRollBack, match="marts_previous"):
        rollback("only one version so far")
    assert db.execute("select count(*) from audit.publications").fetchone()[0] == 1
