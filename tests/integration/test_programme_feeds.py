"""The report's remaining programmes as feeds: 综合行政执法, 三张清单, 便民代办, 红黑榜/积分制.

Each new feed loads its sample whole and sends a bad row to the rejects with its row and
column; each new mart, published from the whole sample, holds exactly what a recount of
the generated files gives (with the thresholds and suppression of dbt_project.yml), and
no clear identity.
"""
from __future__ import annotations

import csv
import datetime as dt
import hashlib
import hmac
import json
from collections import defaultdict
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import psycopg
import pytest
import yaml
from openpyxl import load_workbook

from ingestion.generate import FEEDS, generate_sample, write_feed
from ingestion.generate.specs import load_layout
from ingestion.generate.targets import TARGETS
from ingestion.generate.world import World
from ingestion.load import load_file
from ingestion.registry import get_spec
from tests.integration.sample_warehouse import PII_TEST_KEY, published_sample
from warehouse.settings import REPO_ROOT

NEW_FEEDS = ["enforcement_cases", "community_needs", "proxy_service_requests", "resident_points"]
NEW_MARTS = ["fct_enforcement_cases", "enforcement_closure_by_township_month", "need_match_rates_by_community",
             "proxy_service_performance_by_station", "red_black_lists_by_community_month"]
LOCAL = dt.timezone(dt.timedelta(hours=8))  # var('local_timezone'): Asia/Shanghai, no DST since 1991
DBT_VARS = yaml.safe_load((REPO_ROOT / "dbt_project" / "dbt_project.yml").read_text(encoding="utf-8"))["vars"]
# One bad value per feed: (data row index, header, value, column, rule).
BAD_ROWS = {
    "enforcement_cases": (4, "案件来源", "上级督办", "case_source", "enum"),
    "community_needs": (6, "社区代码", "511402999999", "community_code", "division_code"),
    "proxy_service_requests": (2, "申请人身份证号", "511402195001010010", "applicant_id_number", "id_number"),
    "resident_points": (9, "分值", "80", "points", "range"),
}


# --------------------------------------------------------------------------- loading
def test_each_new_feed_loads_its_sample_whole(db, tmp_path):
    files = generate_sample(tmp_path, feeds=NEW_FEEDS)
    for feed_id, path in files.items():
        summary = load_file(feed_id, path)
        assert summary.status == "loaded", (feed_id, summary.message, summary.errors[:3])
        assert summary.rows_in == summary.rows_loaded > 0 and summary.rows_rejected == 0, feed_id
    stored = dict(db.execute("select feed_id, sum(rows_loaded) from audit.ingestion_batches group by feed_id"))
    assert stored["enforcement_cases"] == TARGETS.enforcement_cases
    assert stored["proxy_service_requests"] == TARGETS.proxy_service_requests


@pytest.mark.parametrize("feed_id", NEW_FEEDS)
def test_a_bad_row_goes_to_rejects_with_row_and_column(db, tmp_path, feed_id):
    index, header, value, column, rule = BAD_ROWS[feed_id]
    world = World(2021)
    layout = load_layout(feed_id)
    rows = [list(r) for r in FEEDS[feed_id](world, 1)]
    rows[index][layout.headers.index(header)] = value
    path = write_feed(layout, tmp_path / f"{feed_id}.{layout.extension}", rows, world)
    summary = load_file(feed_id, path)
    assert summary.status == "partial", summary.message
    assert (summary.rows_in, summary.rows_loaded, summary.rows_rejected) == (len(rows), len(rows) - 1, 1)
    # The row number a person sees: after the header (and the title row of a titled workbook).
    offset = {"jsonl": 1, "csv": 2}.get(layout.format) or _first_data_row(path)
    rejected = db.execute("select row_number, column_name, rule, reason_zh, original_values "
                          "from audit.rejected_rows where batch_id = %s", (summary.batch_id,)).fetchall()
    assert [(r[0], r[1], r[2]) for r in rejected] == [(index + offset, column, rule)]
    shown = json.dumps(rejected[0][4], ensure_ascii=False)
    if any(c.pii for c in get_spec(feed_id).columns if c.name == column):
        # Personal values are masked for the auditor; the clear row is kept for the data steward only.
        assert rejected[0][3] and value not in shown
        clear = db.execute("select original_values from audit.rejected_values_clear where batch_id = %s",
                           (summary.batch_id,)).fetchone()[0]
        assert value in json.dumps(clear, ensure_ascii=False)
    else:
        assert rejected[0][3] and value in shown
    key = get_spec(feed_id).key[0]
    loaded = db.execute(f"select count(*) from raw.{feed_id} where {key} = %s", (rows[index][0],)).fetchone()[0]
    assert loaded == 0


def _first_data_row(path: Path) -> int:
    """1-based sheet row of the first data row (below the header row) of a generated workbook."""
    wb = load_workbook(path, read_only=True)
    for number, row in enumerate(wb.active.iter_rows(values_only=True), start=1):
        if row and row[0] == "需求编号":
            wb.close()
            return number + 1
    raise AssertionError("header row not found")


# --------------------------------------------------------------------------- marts
@pytest.fixture(scope="module")
def sample(server_dsn, session_var_dir, tmp_path_factory, sample_template):
    yield from published_sample(server_dsn, session_var_dir, tmp_path_factory.mktemp("programmes"), "gov_prog", sample_template)


@pytest.fixture
def conn(sample):
    with psycopg.connect(sample.dsn, autocommit=True) as connection:
        yield connection


def _rows(path: Path) -> list[dict]:
    if path.suffix == ".jsonl":
        return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    if path.suffix == ".csv":
        encoding = get_spec(path.stem).encoding
        with path.open(encoding=encoding, newline="") as handle:
            return [{k: (v or None) for k, v in r.items()} for r in csv.DictReader(handle)]
    values = list(load_workbook(path, read_only=True).active.iter_rows(values_only=True))
    header = next(i for i, r in enumerate(values) if r and r[0] == get_spec(path.stem).columns[0].header)
    return [dict(zip(values[header], r, strict=True)) for r in values[header + 1:]]


def _mart(conn, table: str, key: tuple[str, ...]) -> dict[tuple, dict]:
    cursor = conn.execute(f"select * from marts.{table}")
    names = [c.name for c in cursor.description]
    rows = [dict(zip(names, r, strict=True)) for r in cursor.fetchall()]
    return {tuple(str(r[k]) for k in key): r for r in rows}


def _ratio(numerator: int, denominator: int, places: str = "0.0001") -> Decimal | None:
    if not denominator:
        return None
    return (Decimal(numerator) / Decimal(denominator)).quantize(Decimal(places), rounding=ROUND_HALF_UP)


def _local(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value).astimezone(LOCAL)


def _working_days(start: dt.date, end: dt.date) -> int:
    return sum(1 for n in range(1, (end - start).days + 1) if (start + dt.timedelta(days=n)).weekday() < 5)


def test_new_marts_are_published_non_empty(sample, conn):
    assert sample.publication["outcome"] == "published", sample.publication["failed_checks"]
    for mart in NEW_MARTS:
        assert conn.execute(f"select count(*) from marts.{mart}").fetchone()[0] > 0, mart
    checks = {r[0] for r in conn.execute("select distinct target from audit.check_results where check_source = 'gx'")}
    assert set(NEW_MARTS) <= checks  # every new mart has a critical GX suite that ran


def test_enforcement_marts(sample, conn):
    cases = _rows(sample.files["enforcement_cases"])
    assert len(cases) == TARGETS.enforcement_cases
    facts = _mart(conn, "fct_enforcement_cases", ("case_no",))
    assert set(facts) == {(c["案件编号"],) for c in cases}
    expected: dict[tuple, dict] = defaultdict(lambda: {"n": 0, "grid": 0, "closed": 0, "days": [], "fines": 0})
    for c in cases:
        registered = _local(c["立案时间"])
        fact = facts[(c["案件编号"],)]
        days = (_local(c["结案时间"]).date() - registered.date()).days if c["结案时间"] else None
        assert fact["days_to_close"] == days and fact["is_closed"] == (c["结案时间"] is not None)
        assert fact["case_source"] == c["案件来源"] and fact["legal_basis"] == c["执法依据"]
        if c["当事人身份证号"]:
            assert fact["party_person_key"] == hmac.new(PII_TEST_KEY.encode(), c["当事人身份证号"].encode(),
                                                        hashlib.sha256).hexdigest()
        else:
            assert fact["party_person_key"] is None
        cell = expected[(c["镇街代码"], registered.date().replace(day=1).isoformat())]
        cell["n"] += 1
        cell["grid"] += c["案件来源"] == "网格事件"
        cell["closed"] += days is not None
        cell["days"] += [days] if days is not None else []
        cell["fines"] += Decimal(c["罚款金额(元)"] or 0)
    summary = _mart(conn, "enforcement_closure_by_township_month", ("township_code", "case_month"))
    assert set(summary) == set(expected)
    for key, cell in expected.items():
        row = summary[key]
        assert (row["cases_registered"], row["cases_from_grid_events"], row["cases_closed"]) == \
            (cell["n"], cell["grid"], cell["closed"]), key
        assert row["closure_rate"] == _ratio(cell["closed"], cell["n"])
        assert row["avg_days_to_close"] == _ratio(sum(cell["days"]), len(cell["days"]), "0.01")
        assert row["fines_yuan"] == cell["fines"]


def test_need_match_rates(sample, conn):
    needs = _rows(sample.files["community_needs"])
    expected: dict[tuple, list[dict]] = defaultdict(list)
    for n in needs:
        expected[(n["社区代码"],)].append(n)
    with (REPO_ROOT / "dbt_project" / "seeds" / "ref_divisions.csv").open(encoding="utf-8") as handle:
        communities = {r["division_code"] for r in csv.DictReader(handle) if r["level"] == "community"}
    mart = _mart(conn, "need_match_rates_by_community", ("community_code",))
    assert set(mart) == set(expected) == {(c,) for c in communities}  # every community keeps its lists
    for key, rows in expected.items():
        matched = [n for n in rows if n["匹配类型"]]
        days = [(dt.date.fromisoformat(n["匹配日期"]) - dt.date.fromisoformat(n["登记日期"])).days for n in matched]
        row = mart[key]
        assert row["needs_recorded"] == len(rows) and row["needs_matched"] == len(matched)
        assert row["needs_matched_to_projects"] == sum(n["匹配类型"] == "项目" for n in rows)
        assert row["needs_completed"] == sum(n["办理状态"] == "已办结" for n in rows)
        assert row["match_rate"] == _ratio(len(matched), len(rows))
        assert row["avg_days_to_match"] == _ratio(sum(days), len(days), "0.01")


def test_proxy_service_performance(sample, conn):
    requests = _rows(sample.files["proxy_service_requests"])
    assert len(requests) == TARGETS.proxy_service_requests
    stations = {f["设施编码"]: f["设施名称"] for f in _rows(sample.files["community_facilities"])
                if f["设施类型"] == "代办驿站"}
    expected: dict[tuple, dict] = defaultdict(lambda: {"n": 0, "done": [], "on_time": 0, "returned": 0,
                                                        "open": 0, "agents": set()})
    for r in requests:
        cell = expected[(r["代办驿站编码"],)]
        cell["n"] += 1
        cell["agents"].add(r["代办员编号"])
        cell["returned"] += r["办理状态"] == "已退回"
        cell["open"] += r["办理状态"] == "办理中"
        if r["办理状态"] == "已办结":
            days = _working_days(_local(r["受理时间"]).date(), _local(r["办结时间"]).date())
            cell["done"].append(days)
            cell["on_time"] += days <= int(r["承诺时限(工作日)"])
    mart = _mart(conn, "proxy_service_performance_by_station", ("station_code",))
    assert set(mart) == set(expected) == {(s,) for s in stations}
    for key, cell in expected.items():
        row = mart[key]
        assert row["station_name"] == stations[key[0]]
        assert (row["requests"], row["requests_finished"], row["requests_finished_on_time"]) == \
            (cell["n"], len(cell["done"]), cell["on_time"]), key
        assert (row["requests_returned"], row["requests_open"], row["agents"]) == \
            (cell["returned"], cell["open"], len(cell["agents"]))
        assert row["on_time_rate"] == _ratio(cell["on_time"], len(cell["done"]))
        assert row["avg_working_days_to_finish"] == _ratio(sum(cell["done"]), len(cell["done"]), "0.01")


def test_red_black_lists_suppressed_and_pseudonymised(sample, conn):
    entries = _rows(sample.files["resident_points"])
    red, black, k = DBT_VARS["red_list_min_points"], DBT_VARS["black_list_max_points"], DBT_VARS["suppression_min_count"]
    net: dict[tuple, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    totals: dict[tuple, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for e in entries:
        cell = (e["社区代码"], dt.date.fromisoformat(e["记录日期"]).replace(day=1).isoformat())
        points = int(e["分值"])
        net[cell][e["户主身份证号"]] += points
        totals[cell]["entries"] += 1
        totals[cell]["awarded" if points > 0 else "deducted"] += abs(points)
    mart = _mart(conn, "red_black_lists_by_community_month", ("community_code", "entry_month"))
    assert set(mart) == set(net)

    def shown(value: int, base: int) -> int | None:
        return value if base >= k else None

    suppressed = published = 0
    for cell, households in net.items():
        row = mart[cell]
        n = len(households)
        on_red = sum(v >= red for v in households.values())
        on_black = sum(v <= black for v in households.values())
        assert row["households_with_entries"] == shown(n, n), cell
        assert row["point_entries"] == shown(totals[cell]["entries"], n)
        assert row["points_awarded"] == shown(totals[cell]["awarded"], n)
        assert row["points_deducted"] == shown(totals[cell]["deducted"], n)
        assert row["red_list_households"] == shown(on_red, on_red), cell
        assert row["black_list_households"] == shown(on_black, on_black), cell
        assert (row["is_red_list_suppressed"], row["is_black_list_suppressed"]) == (on_red < k, on_black < k)
        suppressed += on_red < k
        published += on_red >= k
    assert suppressed and published  # the sample exercises both sides of the suppression


def test_no_clear_identity_in_the_new_marts(sample, conn):
    """Names and ID numbers of parties, applicants, agents and householders never reach the marts."""
    clear: set[str] = set()
    for feed_id in NEW_FEEDS:
        pii = [c.header for c in get_spec(feed_id).columns if c.pii]
        for row in _rows(sample.files[feed_id]):
            clear |= {str(row[h]) for h in pii if row[h]}
    assert len(clear) > 10_000
    for mart in NEW_MARTS:
        columns = [r[0] for r in conn.execute(
            "select column_name from information_schema.columns where table_schema = 'marts' and table_name = %s "
            "and data_type = 'text'", (mart,))]
        for column in columns:
            values = {r[0] for r in conn.execute(f"select distinct {column} from marts.{mart}")}
            assert not values & clear, f"{mart}.{column}"
        assert not {c for c in columns if "name" in c} - {"station_name"}, mart
