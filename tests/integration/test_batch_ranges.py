"""A load reads only its own batch's pages, however much history raw.<feed> holds.

The count check at commit counts the batch's rows through the BRIN index on _batch_id;
that reads few pages only once earlier batches' ranges are summarized, which PostgreSQL
does by itself only where autovacuum runs (the CI server has it off). Each load therefore
summarizes the earlier batches first (ingestion/batch_ranges.py), and the check never
plans a scan of the whole table (a fresh raw table has no statistics; the planner chose one).
"""
from __future__ import annotations

from ingestion.generate import write_service_transactions
from ingestion.load import load_file

ROWS = 40_000  # ~5 BRIN ranges (128 pages each) per batch


def test_a_batch_is_counted_from_its_own_pages(warehouse_dsn, db, tmp_path):
    batches = []
    for seed in (1, 2, 3, 4):
        path = write_service_transactions(tmp_path / f"service_transactions_{seed}.csv", ROWS, seed)
        summary = load_file("service_transactions", path)
        assert summary.status == "loaded" and summary.rows_loaded == ROWS, summary
        batches.append(summary.batch_id)

    # Counting the first batch reads its page ranges and the last batch's (not summarized until the
    # next load), not the history in between.
    total_pages = db.execute("select pg_relation_size('raw.service_transactions') / 8192").fetchone()[0]
    pages = dict(db.execute("select _batch_id, count(distinct (ctid::text::point)[0]) from raw.service_transactions "
                            "group by _batch_id").fetchall())
    with db.transaction():
        db.execute("set local enable_seqscan = off")
        db.execute("set local max_parallel_workers_per_gather = 0")  # a parallel plan reports the leader's blocks only
        plan = db.execute("explain (analyze, format json) select count(*) from raw.service_transactions "
                          "where _batch_id = %s", (batches[0],)).fetchone()[0][0]["Plan"]
    scanned = _heap_blocks(plan)
    expected = pages[batches[0]] + pages[batches[-1]]
    assert pages[batches[0]] <= scanned <= expected + 2 * 128 < total_pages, (scanned, pages, total_pages)


def test_the_count_check_never_plans_a_scan_of_the_table(db):
    config = db.execute("select proconfig from pg_proc where oid = 'audit.check_batch_counts'::regproc").fetchone()[0]
    assert "enable_seqscan=off" in config


def test_summaries_are_made_as_the_owner_for_the_ingest_login_only(db):
    owner, definer = db.execute("select pg_get_userbyid(proowner), prosecdef from pg_proc "
                                "where oid = 'audit.summarize_raw_batches'::regproc").fetchone()
    assert definer
    grantees = {row[0] for row in db.execute(
        "select grantee::regrole::text from pg_proc, aclexplode(proacl) "
        "where oid = 'audit.summarize_raw_batches'::regproc and privilege_type = 'EXECUTE'")}
    assert grantees == {owner, "gov_ingest"}
    assert db.execute("select audit.summarize_raw_batches('no_such_feed')").fetchone()[0] == 0


def _heap_blocks(plan: dict) -> int:
    """Heap blocks read by the bitmap heap scans of a JSON plan (BRIN bitmaps are lossy)."""
    return (plan.get("Lossy Heap Blocks", 0) + plan.get("Exact Heap Blocks", 0)
            + sum(_heap_blocks(child) for child in plan.get("Plans", [])))
