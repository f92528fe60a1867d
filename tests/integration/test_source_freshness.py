"""A stale feed is a warning in the publication, never a block (dbt source freshness)."""
from __future__ import annotations

from ingestion.load import load_file
from tests.fixtures.party_files import GOOD_ROWS, write_party_workbook
from warehouse.publication import build_and_publish


def test_stale_feed_is_reported_as_a_warning_and_still_published(db, warehouse_dsn, tmp_path):
    load_file("party_organizations", write_party_workbook(tmp_path / "party_organizations.xlsx", GOOD_ROWS))
    fresh = build_and_publish("fresh")
    assert fresh["outcome"] == "published", fresh["failed_checks"]
    checks = dict(db.execute("select check_name, status from audit.check_results where publication_id = %s "
                             "and details->>'resource' = 'source_freshness'", (fresh["publication_id"],)).fetchall())
    # Only feeds that were ever loaded are checked: a feed without a raw table is not stale, it is absent.
    assert checks == {"freshness source.governance.org_dept.party_organizations": "pass"}

    # The spec says 35 days; the last batch is now 40 days old.
    db.execute("update raw.party_organizations set _loaded_at = _loaded_at - interval '40 days'")
    stale = build_and_publish("stale", force=True)

    assert stale["outcome"] == "published", stale["failed_checks"]
    row = db.execute("select severity, status, message from audit.check_results where publication_id = %s "
                     "and check_name = 'freshness source.governance.org_dept.party_organizations'",
                     (stale["publication_id"],)).fetchone()
    assert row[0:2] == ("warning", "fail") and "stale after 35 day" in row[2], row
    report = (tmp_path / "reports" / f"publication_{stale['publication_id']:06d}.html").read_text(encoding="utf-8")
    assert "party_organizations" in report and "stale after 35 day" in report
