"""Archive, re-deliveries, corrections, replays, the landing folder's edge, the database's own checks."""
from __future__ import annotations

import psycopg
import pytest

from ingestion.intake import ingest_file, ingest_pending
from ingestion.load import load_file, replay_batch
from warehouse.settings import get_settings

HEADER = "拨付编号,资金来源部门,资金用途,社区代码,金额(万元),拨付日期\n"
FIRST = HEADER + "BF1,市财政局,社区公益创投资金,511402001001,10.00,2021-10-10\nBF2,市财政局,经费,511402001002,5.00,2021-10-11\n"
CORRECTED = FIRST.replace("10.00", "12.50")


def _write(folder, text: str):
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "fund_allocations.csv"
    path.write_text(text, encoding="utf-8")
    return path


def test_corrected_file_with_the_same_name_is_a_new_batch_and_raw_keeps_both(db, tmp_path):
    first = load_file("fund_allocations", _write(tmp_path / "a", FIRST))
    again = load_file("fund_allocations", _write(tmp_path / "b", FIRST))
    corrected = load_file("fund_allocations", _write(tmp_path / "c", CORRECTED))

    assert (first.status, again.status, corrected.status) == ("loaded", "duplicate", "loaded")
    assert again.duplicate_of == first.batch_id and corrected.batch_id != first.batch_id
    versions = db.execute("select _batch_id, amount_wan_yuan::text from raw.fund_allocations "
                          "where allocation_code = 'BF1' order by _batch_id").fetchall()
    assert versions == [(first.batch_id, "10.00"), (corrected.batch_id, "12.50")]
    archived = sorted(p.name for p in (get_settings().archive_dir / "fund_allocations").rglob("*.csv"))
    assert archived == sorted({f"{first.sha256}.csv", f"{corrected.sha256}.csv"})


def test_replay_loads_again_and_a_later_redelivery_is_still_a_duplicate(db, tmp_path):
    first = load_file("fund_allocations", _write(tmp_path / "a", FIRST))
    replay = replay_batch(first.batch_id)
    assert (replay.status, replay.replay_of, replay.rows_loaded) == ("loaded", first.batch_id, 2)
    assert replay.file == "fund_allocations.csv"
    redelivered = load_file("fund_allocations", _write(tmp_path / "b", FIRST))
    assert (redelivered.status, redelivered.duplicate_of) == ("duplicate", first.batch_id)
    assert replay_batch(redelivered.batch_id).replay_of == first.batch_id
    with pytest.raises(LookupError):
        replay_batch(999_999)


def test_database_refuses_counts_that_do_not_match_the_stored_rows(db, tmp_path):
    batch = load_file("fund_allocations", _write(tmp_path / "a", FIRST)).batch_id
    with pytest.raises(psycopg.errors.IntegrityConstraintViolation, match="rows_loaded"):
        db.execute("update audit.ingestion_batches set rows_loaded = 1, rows_rejected = 1 where batch_id = %s",
                   (batch,))
    with pytest.raises(psycopg.errors.IntegrityConstraintViolation, match="rows_rejected"):
        db.execute("update audit.ingestion_batches set rows_in = 3, rows_rejected = 1 where batch_id = %s", (batch,))
    with db.transaction():  # deferred: inside a transaction the check waits for the commit
        db.execute("update audit.ingestion_batches set rows_loaded = 0, rows_rejected = 2 where batch_id = %s",
                   (batch,))
        db.execute("update audit.ingestion_batches set rows_loaded = 2, rows_rejected = 0 where batch_id = %s",
                   (batch,))
    assert db.execute("select count(*) from raw.fund_allocations where _batch_id = %s", (batch,)).fetchone()[0] == 2


def test_names_escaping_the_landing_folder_are_refused_unread(db, tmp_path):
    landing = get_settings().landing_dir / "fund_allocations"
    landing.mkdir(parents=True)
    secret = _write(tmp_path / "outside", FIRST)
    (landing / "link.csv").symlink_to(secret)
    good = _write(landing, FIRST)

    summaries = {s["file"]: s for s in ingest_pending("fund_allocations")}
    assert summaries["link.csv"]["status"] == "rejected" and "outside" in summaries["link.csv"]["message"]
    assert summaries[good.name]["status"] == "loaded"
    escaped = ingest_file("fund_allocations", "../x.csv")
    assert escaped["status"] == "rejected"
    rules = db.execute("select b.file_name, r.rule from audit.rejected_rows r join audit.ingestion_batches b "
                       "using (batch_id) order by r.rejection_id").fetchall()
    assert rules == [("link.csv", "path_escape"), ("x.csv", "path_escape")]
    assert secret.exists() and not (landing / "link.csv").exists()
    assert ingest_file("fund_allocations", "../x.csv")["status"] == "duplicate"
