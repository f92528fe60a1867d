"""`make demo-dirty`: a publication the quality gate blocks, shown end to end.

Starting from published marts (the clean demo runs first when nothing is published),
it delivers the dirty sample (`ingestion generate --dirty`: known defects of every kind,
refused row by row or file by file into `audit.rejected_rows`) plus one ingredient the
feed contracts cannot see: a well-formed party organisation filed at the wrong level of
the hierarchy (a 党员责任区 directly under a 街道大工委). Rejected rows never reach the
marts, so the rejects alone do not block; that row does — the GX expectation that
hierarchy level equals organisation-type level fails — and the build is blocked.
It prints the failed checks, the rejects, the report page, and proves the marts unchanged.
"""
from __future__ import annotations

import shutil
import tempfile
import time
import uuid
from pathlib import Path

from openpyxl import Workbook
from psycopg import sql

from govctl.demo import run_demo
from infra.local_pg import use_local_unless_configured
from ingestion.generate.dirty import generate_dirty
from ingestion.intake import ingest_pending
from ingestion.registry import feed_ids, get_spec
from warehouse.bootstrap import bootstrap
from warehouse.db import connect
from warehouse.publication import build_and_publish
from warehouse.settings import get_settings

WRONG_LEVEL_ORG = "DEMO-DIRTY-R1"


def run_demo_dirty() -> int:
    dsn = use_local_unless_configured()
    settings = get_settings()
    bootstrap(dsn)
    with connect(dsn) as conn:
        published = conn.execute("select exists (select 1 from audit.publications where outcome = 'published')"
                                 ).fetchone()[0]
    if not published:
        print("==> nothing published yet: the clean demo first", flush=True)
        run_demo()
    before = marts_checksums(dsn)

    t = _step("delivering the dirty sample (known defects, manifest.json) and one mis-filed organisation")
    work = settings.var_dir / "demo-dirty" / uuid.uuid4().hex[:8]
    manifest = generate_dirty(work / "dirty")
    staged = [_deliver(settings.landing_dir, entry["feed"], work / "dirty" / entry["file"])
              for entry in manifest["files"]]
    street = _street_committee(dsn)
    staged.append(_deliver(settings.landing_dir, "party_organizations",
                           write_party_rows(work / "wrong_level.xlsx", [_wrong_level_row(street)])))
    corrected = write_party_rows(work / "corrected" / "party_organizations.xlsx", [_corrected_row(street)])
    print(f"    {len(staged)} files ({len(manifest['defects'])} known defects) ({time.perf_counter() - t:.1f}s)")

    t = _step("ingesting every waiting file")
    for feed in feed_ids():
        for s in ingest_pending(feed):
            print(f"    {feed:28} {s['status']:9} in={s['rows_in']:>6} loaded={s['rows_loaded']:>6} "
                  f"rejected={s['rows_rejected']:>5}  batch {s['batch_id']}")
    print(f"    ({time.perf_counter() - t:.1f}s)")

    t = _step("dbt build → quality gate → publish or block")
    result = build_and_publish(f"demo-dirty-{uuid.uuid4().hex[:8]}")
    print(f"    outcome: {result['outcome']}  ({time.perf_counter() - t:.1f}s)")
    for check in result.get("failed_checks", []):
        print(f"    FAILED {check['source']} {check['name']}: {(check['message'] or '')[:160]}")
    unchanged = marts_checksums(dsn) == before
    print(f"\nmarts unchanged / 数据集市未变: {'yes' if unchanged else 'NO'} ({len(before)} tables compared by content)")
    if result["outcome"] != "nothing_to_do":
        print(f"report / 报告: {result['report_path']}")
        print(f"all reports / 全部报告: {settings.reports_dir / 'index.html'}")
    print(f"\nTo repair: deliver the corrected organisation, then build again:\n"
          f"    .venv/bin/python -m ingestion load party_organizations {corrected}\n"
          f"    .venv/bin/python -m govctl build")
    return 0 if result["outcome"] == "blocked" and unchanged else 1


def marts_checksums(dsn: str) -> dict[str, str]:
    """md5 over every published table's rows: equal before and after means the marts did not change."""
    with connect(dsn) as conn:
        tables = [r[0] for r in conn.execute(
            "select table_name from information_schema.tables where table_schema = 'marts' order by 1")]
        return {table: conn.execute(sql.SQL("select md5(coalesce(string_agg(t::text, '|' order by t::text), '')) "
                                            "from {} as t").format(sql.Identifier("marts", table))).fetchone()[0]
                for table in tables}


def write_party_rows(path: Path, rows: list[list]) -> Path:
    """A party_organizations workbook with the contract's headers."""
    workbook = Workbook()
    workbook.active.append([column.header for column in get_spec("party_organizations").columns])
    for row in rows:
        workbook.active.append(row)
    path.parent.mkdir(parents=True, exist_ok=True)
    workbook.save(path)
    return path


def _street_committee(dsn: str) -> tuple[str, str]:
    with connect(dsn) as conn:
        return conn.execute("select org_code, division_code from marts.dim_party_organizations "
                            "where org_type = '街道大工委' order by org_code limit 1").fetchone()


def _wrong_level_row(street: tuple[str, str]) -> list:
    # org_code, org_name, org_type, parent_org_code, division_code, member_count, founded_date, status
    return [WRONG_LEVEL_ORG, "演示错级责任区", "党员责任区", street[0], street[1], 3, "2021-06-01", "正常"]


def _corrected_row(street: tuple[str, str]) -> list:
    return [WRONG_LEVEL_ORG, "演示错级责任区", "城市社区区域党委", street[0], street[1], 3, "2021-06-01", "正常"]


def _deliver(landing: Path, feed: str, source: Path) -> Path:
    """Into the landing zone the way a department would: a dot name, then an atomic rename."""
    target = landing / feed / f"dirty-{source.name}"
    target.parent.mkdir(parents=True, exist_ok=True)
    with source.open("rb") as data, tempfile.NamedTemporaryFile(dir=target.parent, prefix=".", suffix=".part",
                                                                 delete=False) as tmp:
        shutil.copyfileobj(data, tmp)
    Path(tmp.name).rename(target)
    return target


def _step(message: str) -> float:
    print(f"==> {message}", flush=True)
    return time.perf_counter()
