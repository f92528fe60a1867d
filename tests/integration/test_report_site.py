"""The auditors' report site, rendered by headless Chromium: every figure shown equals `audit`."""
from __future__ import annotations

import json
import stat

import pytest

from ingestion.generate.dirty import generate_dirty
from ingestion.load import load_file
from tests.fixtures.party_files import BAD_ROWS, GOOD_ROWS, write_party_workbook
from tests.integration.chromium import parse, render
from warehouse.auditsite import build_site
from warehouse.publication import build_and_publish
from warehouse.rollback import rollback

# Well-formed, but a 党员责任区 directly under the street committee: levels disagree (GX blocks).
WRONG_LEVEL = [["RX", "错级责任区", "党员责任区", "S1", "511402001", 3, None, "正常"]]


@pytest.fixture
def history(db, warehouse_dsn, tmp_path):
    """Published, published, blocked, rolled back — with rejects, PII in rejected rows, and lineage."""
    dirty = tmp_path / "dirty"
    manifest = generate_dirty(dirty, feeds=["social_workers"])
    load_file("party_organizations", write_party_workbook(tmp_path / "a" / "party_organizations.xlsx",
                                                          GOOD_ROWS + [row for row, _, _ in BAD_ROWS]))
    for entry in manifest["files"]:
        load_file("social_workers", dirty / entry["file"])
    ids = [build_and_publish("first")]
    load_file("party_organizations", write_party_workbook(
        tmp_path / "b" / "party_organizations.xlsx", [["R2", "二号责任区", "党员责任区", "B1", "511402001001", 2,
                                                       None, "正常"]]))
    ids.append(build_and_publish("second"))
    load_file("party_organizations", write_party_workbook(tmp_path / "c" / "party_organizations.xlsx", WRONG_LEVEL))
    ids.append(build_and_publish("blocked"))
    ids.append(rollback("second publication withdrawn for review"))
    assert [r["outcome"] for r in ids] == ["published", "published", "blocked", "published"], ids[2]
    return [r["publication_id"] for r in ids]


def _audit_rows(db) -> dict[int, tuple]:
    return {r[0]: r[1:] for r in db.execute(
        "select publication_id, outcome, checks_passed, checks_failed, checks_total, build_mode "
        "from audit.publications")}


def test_report_site_shows_what_audit_holds(db, warehouse_dsn, tmp_path, history):
    """One history, three readings (builds are the slow part): the index, a publication, blocked and rollback."""
    _index_equals_audit(db, tmp_path, history)
    _publication_page_equals_audit(db, tmp_path, history)
    _blocked_and_rollback_pages_say_why(db, tmp_path, history)


def _index_equals_audit(db, tmp_path, history):
    first, second, blocked, rolled_back = history
    index_path = build_site()
    assert index_path == tmp_path / "reports" / "index.html"
    # Auditors' pages hold masked values only: group-readable at most, never others' (created so).
    assert stat.S_IMODE((tmp_path / "reports").stat().st_mode) & 0o027 == 0
    assert {p.name: stat.S_IMODE(p.stat().st_mode) & 0o137 for p in (tmp_path / "reports").iterdir()} == \
        {p.name: 0 for p in (tmp_path / "reports").iterdir()}
    index = parse(render(index_path, screenshot=tmp_path / "index.png"))
    assert (tmp_path / "index.png").stat().st_size > 10_000

    # Index: one row per publication, figures equal audit.publications.
    audit = _audit_rows(db)
    rows = {int(tr.attrs["data-publication"]): tr for tr in index.find_all(**{"data-publication": None})}
    assert set(rows) == set(audit)
    for pid, tr in rows.items():
        outcome, passed, failed, total, mode = audit[pid]
        shown = tr.find_all(**{"data-field": "outcome"})[0].attrs["data-outcome"]
        assert (shown, tr.field("build_mode")) == (outcome, mode)
        assert [tr.field(f) for f in ("checks_passed", "checks_failed", "checks_total")] == \
               ["" if v is None else str(v) for v in (passed, failed, total)]
    assert index.field("current-version") == str(first) and index.field("previous-version") == str(second)
    # The pass-rate chart plots exactly passed/total of each attempt that ran checks.
    points = {int(c.attrs["data-x"]): float(c.attrs["data-y"])
              for c in index.find_all(**{"data-series": "pass rate %"})}
    assert points == {pid: round(100 * a[1] / a[3], 2) for pid, a in audit.items() if a[3]}
    # The rejects chart: rows rejected per feed, received before each attempt.
    rejects = {(c.attrs["data-series"], int(c.attrs["data-x"])): float(c.attrs["data-y"])
               for c in index.find_all(**{"data-series": None}) if c.attrs["data-series"] != "pass rate %"}
    expected = dict(db.execute("select feed_id, sum(rows_rejected) from audit.ingestion_batches where received_at "
                               "<= (select started_at from audit.publications where publication_id = %s) "
                               "group by feed_id", (first,)).fetchall())
    assert {feed: rejects[(feed, first)] for feed in expected} == {f: float(n) for f, n in expected.items()}
    assert rejects[("party_organizations", blocked)] == 0
    # Rows per mart of the published versions.
    marts = {tr.attrs["data-mart"]: tr.field("rows") for tr in index.find_all(**{"data-mart": None})}
    assert marts["dim_party_organizations"] == "4"  # the latest published version: the first, restored


def _publication_page_equals_audit(db, tmp_path, history):
    first, second, blocked, rolled_back = history
    page = parse(render(tmp_path / "reports" / f"publication_{first:06d}.html"))

    # Batches received: file, sha256, department, rows in/loaded/rejected, exactly as recorded.
    shown = {int(tr.attrs["data-batch"]): tuple(tr.field(f) for f in (
        "feed", "department", "file_name", "sha256", "rows_in", "rows_loaded", "rows_rejected"))
        for tr in page.find_all(id="batches")[0].find_all(**{"data-batch": None})}
    recorded = {r[0]: tuple(str(v) for v in r[1:]) for r in db.execute(
        "select batch_id, feed_id, case feed_id when 'party_organizations' then '市委组织部' else '市民政局' end, "
        "file_name, sha256, rows_in, rows_loaded, rows_rejected from audit.ingestion_batches "
        "where received_at <= (select started_at from audit.publications where publication_id = %s)", (first,))}
    assert shown == recorded
    # Rejects per feed and rule: distinct rows and findings equal audit.rejected_rows.
    table = page.find_all(id="rejects")[0]
    shown_rejects = {(tr.attrs["data-feed"], tr.attrs["data-rule"]): (tr.field("rows"), tr.field("findings"))
                     for tr in table.find_all(**{"data-rule": None})}
    expected = {(f, r): (str(rows), str(findings)) for f, r, rows, findings in db.execute(
        "select b.feed_id, r.rule, count(distinct (r.batch_id, r.row_number)), count(*) from audit.rejected_rows r "
        "join audit.ingestion_batches b using (batch_id) group by 1, 2")}
    assert shown_rejects == expected
    assert ("party_organizations", "unknown_parent") in shown_rejects
    # Personal information in rejected rows is never printed.
    dom_text = page.text
    for values, in db.execute("select original_values from audit.rejected_rows r join audit.ingestion_batches b "
                              "using (batch_id) where b.feed_id = 'social_workers' and original_values is not null"):
        for header in ("身份证号", "姓名", "手机号"):
            value = str(values.get(header) or "")
            if len(value) >= 2:
                assert value not in dom_text, (header, value)
    # Checks grouped by mart and severity, counts equal audit.check_results.
    checks = {(tr.attrs["data-target"], tr.attrs["data-severity"]): int(tr.field("pass"))
              for tr in page.find_all(id="checks")[0].find_all(**{"data-target": None})}
    expected_checks = {(t or "(project)", s): n for t, s, n in db.execute(
        "select target, severity, count(*) filter (where status = 'pass') from audit.check_results "
        "where publication_id = %s group by 1, 2", (first,))}
    assert checks == expected_checks
    # Lineage: mart → feed → batches and files, and what built it.
    lineage = {tr.attrs["data-mart"]: tr for tr in page.find_all(id="lineage")[0].find_all(**{"data-mart": None})}
    party = lineage["dim_party_organizations"]
    assert [s.attrs["data-feed"] for s in party.find_all(**{"data-feed": None})] == ["party_organizations"]
    party_batches = {int(li.attrs["data-batch"]) for li in party.find_all(**{"data-batch": None})}
    assert party_batches == {r[0] for r in db.execute(
        "select batch_id from audit.ingestion_batches where feed_id = 'party_organizations' and batch_id in "
        "(select unnest(source_batches) from audit.publications where publication_id = %s)", (first,))}
    assert party.field("rows") == "4"
    lineage_row = db.execute("select git_commit, versions from audit.publication_lineage where publication_id = %s",
                             (first,)).fetchone()
    assert lineage_row[1]["dbt-core"] and lineage_row[1]["great-expectations"] and lineage_row[1]["apache-airflow"]
    assert page.field("dbt-core") == lineage_row[1]["dbt-core"]
    assert page.field("git_commit") == (lineage_row[0] or "not a git checkout / 非 git 目录")


def _blocked_and_rollback_pages_say_why(db, tmp_path, history):
    first, second, blocked, rolled_back = history
    page = parse(render(tmp_path / "reports" / f"publication_{blocked:06d}.html"))
    decision = page.find_all(id="decision")[0]
    failing = {r[0] for r in db.execute("select check_name from audit.check_results where publication_id = %s "
                                        "and severity = 'critical' and status <> 'pass'", (blocked,))}
    assert failing and {li.attrs["data-check"] for li in decision.find_all(**{"data-check": None})} == failing
    assert any("org_type_level" in name or "dim_party_organizations" in name for name in failing), failing
    # The blocked candidate's rows were recorded (the marts were not touched).
    assert db.execute("select row_count from audit.publication_mart_rows where publication_id = %s "
                      "and mart = 'dim_party_organizations'", (blocked,)).fetchone()[0] == 6

    page = parse(render(tmp_path / "reports" / f"publication_{rolled_back:06d}.html"))
    row = db.execute("select requested_by, requested_by_os, reason, restores_publication from audit.publications "
                     "where publication_id = %s", (rolled_back,)).fetchone()
    assert (page.field("requested_by"), page.field("requested_by_os"), page.field("reason")) == row[:3]
    assert page.field("restores") == f"#{row[3]}" and row[3] == first
    report = json.loads((tmp_path / "reports" / f"publication_{first:06d}.json").read_text(encoding="utf-8"))
    assert report["outcome"] == "published"
