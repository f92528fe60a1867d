"""Sample data of the report's remaining programmes: 综合行政执法, 三张清单, 便民代办, 红黑榜/积分制.

Recounted from the written files with the standard library, against the generator's
parameters (ingestion/generate/targets.py) and the other feeds they refer to.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from pathlib import Path

import pytest

from ingestion.generate import generate_sample
from ingestion.generate.programmes import GRID_AND_BAO_BAO_COUNTY, VIOLATIONS
from ingestion.generate.targets import TARGETS
from tests.unit.test_generate import read_feed, seed_rows

NEW_FEEDS = ["enforcement_cases", "community_needs", "proxy_service_requests", "resident_points"]
REFERENCED = ["community_facilities", "grid_events", "residential_compounds", "service_items",
              "service_purchase_projects"]


@pytest.fixture(scope="module")
def feeds(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[dict]]:
    files = generate_sample(tmp_path_factory.mktemp("programmes"), feeds=NEW_FEEDS + REFERENCED)
    return {feed_id: read_feed(path)[1] for feed_id, path in files.items()}


@pytest.fixture(scope="module")
def divisions() -> dict[str, dict[str, str]]:
    return {r["division_code"]: r for r in seed_rows("ref_divisions.csv")}


def test_enforcement_cases(feeds: dict[str, list[dict]], divisions: dict) -> None:
    cases = feeds["enforcement_cases"]
    assert len(cases) == TARGETS.enforcement_cases
    events = {e["event_id"]: e for e in feeds["grid_events"]}
    sources = Counter(c["案件来源"] for c in cases)
    assert set(sources) == {"网格事件", "群众投诉", "巡查发现", "部门移交"}
    for c in cases:
        community = divisions[c["社区代码"]]
        assert community["level"] == "community" and community["parent_code"] == c["镇街代码"]
        assert c["执法队伍编码"] == f"ZFD{c['镇街代码']}"  # one team per town/street: 一支队伍管执法
        assert c["执法依据"] == VIOLATIONS[c["违法行为类型"]][0]
        dannling = community["county_code"] == GRID_AND_BAO_BAO_COUNTY
        assert (c["运行机制"] == "网格+包保+执法") == dannling
        registered = dt.datetime.fromisoformat(c["立案时间"])
        if c["案件来源"] == "网格事件":
            event = events[c["关联网格事件编号"]]
            assert event["community_code"] == c["社区代码"] and event["grid_code"] == c["网格编码"]
            assert dt.datetime.fromisoformat(event["reported_at"]) < registered
        else:
            assert c["关联网格事件编号"] is None
        if c["案件状态"] == "已结案":
            assert dt.datetime.fromisoformat(c["结案时间"]) > registered and c["处理结果"]
        else:
            assert c["结案时间"] is None and c["处理结果"] is None
        assert (c["罚款金额(元)"] is not None) == (c["处理结果"] == "罚款")
        assert (c["当事人身份证号"] is not None) == (c["当事人类型"] == "个人")
    linked = [c["关联网格事件编号"] for c in cases if c["关联网格事件编号"]]
    assert len(linked) == len(set(linked))  # a grid event becomes at most one case
    grid_share = Counter(c["运行机制"] for c in cases if c["案件来源"] == "网格事件")
    assert grid_share["网格+包保+执法"] > 0
    assert sum(c["案件状态"] == "已结案" for c in cases) / len(cases) > 0.8


def test_community_needs(feeds: dict[str, list[dict]], divisions: dict) -> None:
    needs = feeds["community_needs"]
    communities = {c for c, r in divisions.items() if r["level"] == "community"}
    assert {n["社区代码"] for n in needs} == communities  # every community keeps its lists
    facilities = {f["设施编码"]: f["社区代码"] for f in feeds["community_facilities"]}
    projects = {p["项目编号"]: p for p in feeds["service_purchase_projects"]}
    for n in needs:
        assert n["网格编码"].startswith(f"WG{n['社区代码']}")
        if n["匹配类型"] is None:
            assert n["匹配服务或项目编号"] is None and n["匹配日期"] is None and n["办理状态"] == "待匹配"
            continue
        assert n["办理状态"] in ("办理中", "已办结")
        assert dt.date.fromisoformat(n["匹配日期"]) >= dt.date.fromisoformat(n["登记日期"])
        if n["匹配类型"] == "服务":
            assert facilities[n["匹配服务或项目编号"]] == n["社区代码"]
        else:
            project = projects[n["匹配服务或项目编号"]]
            assert project["镇街代码"] == divisions[n["社区代码"]]["parent_code"]
            assert int(project["预算年度"]) == 2021 and project["状态"] != "终止"
    kinds = Counter(n["匹配类型"] for n in needs)
    assert kinds["服务"] and kinds["项目"] and kinds[None]
    assert 0.6 < (kinds["服务"] + kinds["项目"]) / len(needs) < 0.9


def test_proxy_service_requests(feeds: dict[str, list[dict]]) -> None:
    requests = feeds["proxy_service_requests"]
    assert len(requests) == TARGETS.proxy_service_requests
    stations = {f["设施编码"]: f["社区代码"] for f in feeds["community_facilities"] if f["设施类型"] == "代办驿站"}
    items = {i["事项编码"]: i for i in feeds["service_items"]}
    for r in requests:
        assert stations[r["代办驿站编码"]] == r["社区代码"]
        assert r["代办员编号"].startswith(r["代办驿站编码"] + "-")
        item = items[r["事项编码"]]
        assert "代办" in item["办理渠道"].split(";") and item["事项名称"] == r["代办事项"]
        received = dt.datetime.fromisoformat(r["受理时间"])
        assert received.weekday() < 5
        if r["办理状态"] == "办理中":
            assert r["办结时间"] == ""
        else:
            assert dt.datetime.fromisoformat(r["办结时间"]) > received
    assert {r["代办驿站编码"] for r in requests} == set(stations)
    statuses = Counter(r["办理状态"] for r in requests)
    assert statuses["已办结"] / len(requests) > 0.8 and statuses["已退回"] and statuses["办理中"]


def test_resident_points(feeds: dict[str, list[dict]], divisions: dict) -> None:
    entries = feeds["resident_points"]
    compounds = {c["小区编码"]: c["社区代码"] for c in feeds["residential_compounds"]}
    households: dict[str, set[str]] = defaultdict(set)
    for e in entries:
        points = int(e["分值"])
        assert (points > 0) == (e["榜单类别"] == "红榜事项") and points != 0
        assert compounds[e["小区编码"]] == e["社区代码"]
        assert dt.date.fromisoformat(e["记录日期"]).year == 2021
        households[e["户主身份证号"]].add(e["社区代码"])
    assert all(len(c) == 1 for c in households.values())  # a household belongs to one community
    months = Counter(dt.date.fromisoformat(e["记录日期"]).month for e in entries)
    assert set(months) == set(range(1, 13))
    assert {e["社区代码"] for e in entries} == {c for c, r in divisions.items() if r["level"] == "community"}


def test_new_feeds_grow_with_scale(tmp_path: Path) -> None:
    out = generate_sample(tmp_path, scale=2, feeds=["enforcement_cases", "proxy_service_requests"])
    assert len(read_feed(out["enforcement_cases"])[1]) == 2 * TARGETS.enforcement_cases
    assert len(read_feed(out["proxy_service_requests"])[1]) == 2 * TARGETS.proxy_service_requests
