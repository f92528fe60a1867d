"""The sample generator reproduces the report's figures and writes valid feeds.

Every figure is recounted here from the written files with the standard library
(csv/json/openpyxl read-only) and the seeds, independently of the generator's code.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import re
from collections import Counter, defaultdict
from decimal import Decimal
from pathlib import Path

import pytest
import yaml
from openpyxl import load_workbook

from ingestion.checksums import id_check_digit, is_valid_id_number, is_valid_uscc, uscc_check_char
from ingestion.generate import generate_sample, write_service_transactions

ROOT = Path(__file__).resolve().parents[2]
SPECS = ROOT / "ingestion" / "specs"
SEEDS = ROOT / "dbt_project" / "seeds"
PHONE = re.compile(r"^1[35789]\d{9}$")
TS = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\+08:00$")
AMOUNT = re.compile(r"^\d+(\.\d{1,2})?$")


# --------------------------------------------------------------------------- helpers
def spec(feed_id: str) -> dict:
    return yaml.safe_load((SPECS / f"{feed_id}.yml").read_text(encoding="utf-8"))


def seed_rows(name: str) -> list[dict[str, str]]:
    with (SEEDS / name).open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def read_feed(path: Path, feed_id: str | None = None) -> tuple[list[str], list[dict]]:
    """(headers, rows) of a generated file, keyed by the Chinese/English header."""
    s = spec(feed_id or path.stem)
    if s["format"] == "csv":
        with path.open(encoding=s["encoding"], newline="") as fh:
            reader = csv.reader(fh)
            headers = next(reader)
            return headers, [dict(zip(headers, r, strict=True)) for r in reader]
    if s["format"] == "jsonl":
        rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
        return list(rows[0]), rows
    wb = load_workbook(path, read_only=True)
    values = list(wb.active.iter_rows(values_only=True))
    wb.close()
    first = s["columns"][0]["header"]
    h = next(i for i, r in enumerate(values) if r and r[0] == first)
    headers = list(values[h])
    return headers, [dict(zip(headers, r, strict=True)) for r in values[h + 1:] if any(v is not None for v in r)]


def text(value) -> str:  # noqa: ANN001 - cells are str/int/float/None
    return "" if value is None else str(value)


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return generate_sample(tmp_path_factory.mktemp("scale1"), scale=1, seed=2021)


@pytest.fixture(scope="module")
def feeds(sample: dict[str, Path]) -> dict[str, list[dict]]:
    return {feed_id: read_feed(path)[1] for feed_id, path in sample.items()}


@pytest.fixture(scope="module")
def divisions() -> dict[str, dict[str, str]]:
    return {r["division_code"]: r for r in seed_rows("ref_divisions.csv")}


# --------------------------------------------------------------------------- checksums
def test_checksums_on_published_codes() -> None:
    assert uscc_check_char("91350100M000100Y4") == "3"
    assert is_valid_uscc("91350100M000100Y43")
    assert id_check_digit("11010519491231002") == "X"
    assert is_valid_id_number("11010519491231002X")


def test_checksums_reject_corruption() -> None:
    assert not is_valid_uscc("91350100M000100Y44")  # wrong check char
    assert not is_valid_uscc("91350100M000100I43")  # I is not in the alphabet
    assert not is_valid_id_number("110105194912310021")  # wrong check digit
    assert not is_valid_id_number("11010519490231002" + id_check_digit("11010519490231002"))  # 31 Feb
    with pytest.raises(ValueError):
        uscc_check_char("91350100M000100")
    with pytest.raises(ValueError):
        id_check_digit("1101051949123100A")


# --------------------------------------------------------------------------- reference seeds
def test_reference_divisions(divisions: dict[str, dict[str, str]]) -> None:
    rows = list(divisions.values())
    streets = [r for r in rows if r["level"] == "street" and r["division_kind"] == "街道"]
    townships = [r for r in rows if r["level"] == "street"]
    urban = [r for r in rows if r["level"] == "community" and divisions[r["parent_code"]]["division_kind"] == "街道"]
    assert len(streets) == 13
    assert len(urban) == 123
    assert len(townships) >= 40
    assert divisions["511499"]["is_functional_zone"] == "true"
    assert divisions["511422"]["level"] == "county_historical"
    for r in rows:
        if r["level"] == "street":
            assert len(r["division_code"]) == 9 and r["division_code"][:6] == r["parent_code"]
        if r["level"] == "community":
            assert len(r["division_code"]) == 12 and r["division_code"][:9] == r["parent_code"]
        if r["parent_code"]:
            assert r["parent_code"] in divisions
    for t in townships:
        if t["division_kind"] == "镇":
            kids = [r for r in rows if r["parent_code"] == t["division_code"]]
            assert 1 <= len(kids) <= 3


def test_reference_lists() -> None:
    catalog = seed_rows("ref_purchase_catalog.csv")
    codes = {r["catalog_code"]: r for r in catalog}
    leaves = [r for r in catalog if r["level"] == "3"]
    assert len(leaves) == 29
    for r in leaves:  # every leaf has a level-2 parent with a level-1 parent
        assert codes[r["parent_code"]]["level"] == "2"
        assert codes[codes[r["parent_code"]]["parent_code"]]["level"] == "1"
    kinds = Counter(r["list_type"] for r in seed_rows("ref_community_work_items.csv"))
    assert kinds == {"履职事项": 29, "协助事项": 50, "负面事项": 7}
    assert len(seed_rows("ref_departments.csv")) >= 35
    levels = Counter(r["level"] for r in seed_rows("ref_incubation_platforms.csv"))
    assert levels == {"市级": 1, "县级": 7}


# --------------------------------------------------------------------------- file layout
def test_files_match_contracts(sample: dict[str, Path]) -> None:
    assert set(sample) == {p.stem for p in SPECS.glob("*.yml")}
    for feed_id, path in sample.items():
        s = spec(feed_id)
        assert path.name == f"{feed_id}.{s['format']}"
        headers, rows = read_feed(path)
        assert headers == [c["header"] for c in s["columns"]], feed_id
        assert rows, feed_id
        raw = path.read_bytes()
        if s["format"] == "csv":
            assert raw.startswith(b"\xef\xbb\xbf") == (s["encoding"] == "utf-8-sig"), feed_id
            if s["encoding"] == "gb18030":
                with pytest.raises(UnicodeDecodeError):
                    raw.decode("utf-8")
    titled = {"party_organizations": True, "service_purchase_projects": True, "service_items": False}
    for feed_id, has_title in titled.items():
        ws = load_workbook(sample[feed_id], read_only=True).active
        first = next(ws.iter_rows(min_row=1, max_row=1, values_only=True))
        assert (first[0] != spec(feed_id)["columns"][0]["header"]) == has_title
    full = load_workbook(sample["party_organizations"])
    assert "A1:H1" in {str(r) for r in full.active.merged_cells.ranges}


# --------------------------------------------------------------------------- validity
def _check_value(col: dict, value, divisions: dict, feed_id: str) -> None:  # noqa: ANN001
    where = f"{feed_id}.{col['name']}={value!r}"
    v = text(value)
    if v == "":
        assert not col.get("required"), where
        return
    kind = col["type"]
    if col.get("enum"):
        items = v.split(col.get("separator", ";")) if kind == "list" else [v]
        assert set(items) <= set(col["enum"]), where
    if kind == "division_code":
        assert v in divisions and divisions[v]["level"] != "county_historical", where
    elif kind == "uscc":
        assert is_valid_uscc(v), where
    elif kind == "id_number":
        _check_id(v, divisions, where)
    elif kind == "phone":
        assert PHONE.match(v), where
    elif kind == "date":
        dt.date.fromisoformat(v)
    elif kind == "timestamp":
        assert TS.match(v) and dt.datetime.fromisoformat(v).year == 2021, where
    elif kind == "decimal":
        assert AMOUNT.match(v) and Decimal(v) >= col.get("min", 0), where
    elif kind == "integer":
        n = int(v)
        assert col.get("min", n) <= n <= col.get("max", n), where
    elif kind == "boolean":
        assert v in ("是", "否"), where


def _check_id(v: str, divisions: dict, where: str) -> None:
    assert is_valid_id_number(v), where
    region = divisions.get(v[:6])
    assert region and region["level"] in ("county", "county_historical") and region["is_functional_zone"] == "false"
    assert dt.date(2021, 12, 31).year - int(v[6:10]) >= 18, where


def test_every_value_valid_under_its_contract(feeds: dict[str, list[dict]], divisions: dict) -> None:
    for feed_id, rows in feeds.items():
        s = spec(feed_id)
        for col in s["columns"]:
            for row in rows:
                _check_value(col, row[col["header"]], divisions, feed_id)
        key = [next(c["header"] for c in s["columns"] if c["name"] == k) for k in s["key"]]
        keys = [tuple(text(r[h]) for h in key) for r in rows]
        assert len(keys) == len(set(keys)), f"{feed_id}: duplicate keys"
    for case in feeds["mediation_cases"]:
        assert len(case["parties"]) >= 2
        for p in case["parties"]:
            _check_id(p["id_number"], divisions, case["case_no"])
            assert PHONE.match(p["phone"]) and p["name"] and p["role"]


def test_references_resolve(feeds: dict[str, list[dict]], divisions: dict) -> None:
    orgs = {r["组织编码"]: r for r in feeds["party_organizations"]}
    for r in orgs.values():
        if r["上级组织编码"]:
            assert r["上级组织编码"] in orgs
    compounds = {r["小区编码"] for r in feeds["residential_compounds"]}
    assert {r["小区编码"] for r in feeds["old_compound_renovations"]} <= compounds
    items = {r["事项编码"] for r in feeds["service_items"]}
    assert {r["事项编码"] for r in feeds["service_transactions"]} <= items
    departments = {r["department_code"] for r in seed_rows("ref_departments.csv")}
    assert {r["实施部门编码"] for r in feeds["service_items"]} <= departments
    catalog = {r["catalog_code"] for r in seed_rows("ref_purchase_catalog.csv") if r["level"] == "3"}
    assert {r["目录编码"] for r in feeds["service_purchase_projects"]} <= catalog
    stations = {r["设施编码"] for r in feeds["community_facilities"] if r["设施类型"] == "社工站"}
    assert {r["所属社工站编码"] for r in feeds["social_workers"] if r["所属社工站编码"]} <= stations
    for e in feeds["grid_events"]:
        for step in e["escalations"]:
            assert step["department_code"] is None or step["department_code"] in departments


# --------------------------------------------------------------------------- KPI figures
def test_party_organisation_figures(feeds: dict[str, list[dict]], divisions: dict) -> None:
    rows = feeds["party_organizations"]
    by_code = {r["组织编码"]: r for r in rows}
    active = Counter(r["组织类型"] for r in rows if r["状态"] == "正常")
    assert active["街道大工委"] == 13
    assert active["城市社区区域党委"] == 123
    assert active["小区(片区)党支部"] == 1391
    assert active["党员责任区"] == 4284
    expected_parent = {"城市社区区域党委": "街道大工委", "小区(片区)党支部": "城市社区区域党委", "党员责任区": "小区(片区)党支部"}
    for r in rows:
        if r["组织类型"] == "街道大工委":
            assert divisions[r["所在区划代码"]]["division_kind"] == "街道" and not r["上级组织编码"]
            continue
        parent = by_code[r["上级组织编码"]]
        assert parent["组织类型"] == expected_parent[r["组织类型"]]
        if r["状态"] == "正常":
            assert parent["状态"] == "正常"
        if r["组织类型"] == "城市社区区域党委":
            assert divisions[r["所在区划代码"]]["parent_code"] == parent["所在区划代码"]
        else:
            assert r["所在区划代码"] == parent["所在区划代码"]
    committees = Counter(r["所在区划代码"] for r in rows if r["组织类型"] == "城市社区区域党委")
    assert max(committees.values()) == 1


def test_compound_coverage(feeds: dict[str, list[dict]]) -> None:
    branches = {r["组织编码"] for r in feeds["party_organizations"]
                if r["组织类型"] == "小区(片区)党支部" and r["状态"] == "正常"}
    compounds = feeds["residential_compounds"]
    assert sum(1 for c in compounds if c["联系党支部编码"] in branches) == 3315
    assert any(c["联系党支部编码"] == "" for c in compounds)
    assert any(c["联系党支部编码"] and c["联系党支部编码"] not in branches for c in compounds)


def test_social_organisation_figures(feeds: dict[str, list[dict]]) -> None:
    platforms = {r["platform_name"]: r["level"] for r in seed_rows("ref_incubation_platforms.csv")}
    orgs = feeds["social_organizations"]
    used = {o["孵化平台"] for o in orgs if o["孵化平台"]}
    assert sum(1 for p in used if platforms.get(p) == "市级") == 1
    assert sum(1 for p in used if platforms.get(p) == "县级") == 7
    incubated = Counter(o["组织类别"] for o in orgs if o["状态"] == "正常" and o["孵化平台"])
    assert incubated["功能服务型"] == 100
    assert incubated["兴趣爱好志愿服务型"] == 100
    assert len(orgs) > 200 and any(o["组织类别"] == "其他" for o in orgs)
    assert len({w["身份证号"] for w in feeds["social_workers"]}) == 3253 == len(feeds["social_workers"])


def test_purchase_of_services_figures(feeds: dict[str, list[dict]]) -> None:
    projects = feeds["service_purchase_projects"]
    assert len({p["镇街代码"] for p in projects if p["试点级别"] == "市级"}) == 27
    live = [p for p in projects if int(p["预算年度"]) == 2021 and p["状态"] != "终止"]
    assert len(live) == 206
    assert sum(Decimal(str(p["合同金额(万元)"])) for p in live) == Decimal("7093.20")
    assert any(p["状态"] == "终止" and int(p["预算年度"]) == 2021 for p in projects)
    assert any(int(p["预算年度"]) == 2020 for p in projects)
    provincial = {p["镇街代码"][:6] for p in projects if p["试点级别"] == "省级"}
    assert provincial == {"511402", "511423"}


def test_facility_figures(feeds: dict[str, list[dict]], divisions: dict) -> None:
    fac = feeds["community_facilities"]
    types = Counter(f["设施类型"] for f in fac)
    assert types["社区养老服务设施"] == 823
    assert types["儿童关爱保护设施"] == 304
    assert sum(1 for f in fac if f["设施类型"] == "党群服务中心" and f["改造状态"] in ("计划", "在建", "完工")) == 121
    communities = {c for c, r in divisions.items() if r["level"] == "community"}
    townships = {c for c, r in divisions.items() if r["level"] == "street"}
    by_type: dict[str, set[str]] = defaultdict(set)
    for f in fac:
        by_type[f["设施类型"]].add(f["社区代码"])
    assert by_type["医疗卫生设施"] >= communities
    assert by_type["文化体育设施"] >= communities
    assert by_type["社工站"] == townships
    nbh = [f for f in fac if f["设施类型"] == "邻里中心"]
    assert len({f["运营主体统一社会信用代码"] for f in nbh}) == 3
    assert {divisions[f["社区代码"]]["county_code"] for f in nbh} == {"511402"}


def test_renovation_figures(feeds: dict[str, list[dict]]) -> None:
    ren = feeds["old_compound_renovations"]
    done = [r for r in ren if r["状态"] == "完工"]
    assert len({r["小区编码"] for r in done}) == 786
    total = sum(Decimal(r["投资额(万元)"]) for r in done)
    assert total == Decimal("177000.00")
    assert round(total / 10000, 1) == Decimal("17.7")
    assert {r["状态"] for r in ren} == {"计划", "在建", "完工"}
    old = {c["小区编码"] for c in feeds["residential_compounds"] if c["是否老旧小区"] == "是"}
    assert {r["小区编码"] for r in ren} <= old
    for r in done:
        assert r["开工日期"] <= r["竣工日期"]


def test_service_item_figures(feeds: dict[str, list[dict]]) -> None:
    items = feeds["service_items"]
    assert len(items) == 1570
    assert len({i["实施部门编码"] for i in items}) == 29
    flags = Counter(f for i in items for f in text(i["跨域类型"]).split(";") if f)
    assert flags == {"成德眉资通办": 55, "川渝通办": 210, "跨省通办": 132}
    assert any(len(text(i["跨域类型"]).split(";")) > 1 for i in items)


# --------------------------------------------------------------------------- event realism
def test_mediation_cases(feeds: dict[str, list[dict]]) -> None:
    cases = feeds["mediation_cases"]
    assert len(cases) == 2000
    levels = Counter(c["resolved_level"] for c in cases if c["resolved_level"])
    assert (levels["网格"] + levels["社区"]) / sum(levels.values()) > 0.75
    outcomes = Counter(c["outcome"] for c in cases)
    assert outcomes["调解成功"] / len(cases) > 0.75
    closed = [c for c in cases if c["closed_at"]]
    for c in closed:
        assert dt.datetime.fromisoformat(c["closed_at"]) > dt.datetime.fromisoformat(c["received_at"])
    assert sum(c["follow_up_done"] == "是" for c in closed) / len(closed) > 0.8


def test_grid_event_escalations(feeds: dict[str, list[dict]]) -> None:
    chain = ["社区呼叫", "街道吹哨", "部门报到"]
    events = feeds["grid_events"]
    assert len(events) == 5000
    depth = Counter(len(e["escalations"]) for e in events)
    assert set(depth) == {0, 1, 2, 3} and depth[0] > depth[3]
    for e in events:
        steps = e["escalations"]
        assert [s["level"] for s in steps] == chain[: len(steps)]
        times = [dt.datetime.fromisoformat(e["reported_at"])] + [dt.datetime.fromisoformat(s["at"]) for s in steps]
        assert times == sorted(times) and len(set(times)) == len(times)
        assert times[-1].year == 2021 and all(TS.match(s["at"]) for s in steps)
        if e["status"] == "已办结":
            assert dt.datetime.fromisoformat(e["closed_at"]) > times[-1]
        else:
            assert e["closed_at"] is None


def test_service_transactions(feeds: dict[str, list[dict]]) -> None:
    tx = feeds["service_transactions"]
    assert len(tx) == 20000
    channels = Counter(t["办理渠道"] for t in tx)
    assert set(channels) == {"窗口", "网办", "自助", "代办"}
    on_time = late = open_ = 0
    for t in tx:
        if not t["办结时间"]:
            open_ += 1
            continue
        accepted, completed = (dt.datetime.fromisoformat(t[k]) for k in ("受理时间", "办结时间"))
        assert completed > accepted
        days = (completed.date() - accepted.date()).days
        if days <= int(t["承诺时限(工作日)"]):
            on_time += 1
        elif days > int(t["承诺时限(工作日)"]) * 7 / 5 + 2:
            late += 1
    assert on_time / len(tx) > 0.8 and late > 0 and open_ > 0


# --------------------------------------------------------------------------- determinism & scale
def test_same_seed_same_files(sample: dict[str, Path], tmp_path: Path) -> None:
    again = generate_sample(tmp_path, scale=1, seed=2021)
    for feed_id, path in sample.items():
        if path.suffix == ".xlsx":
            assert read_feed(path) == read_feed(again[feed_id]), feed_id
        assert path.read_bytes() == again[feed_id].read_bytes(), feed_id


def test_other_seed_other_data_same_figures(tmp_path: Path, sample: dict[str, Path]) -> None:
    other = generate_sample(tmp_path, seed=7, feeds=["service_items", "grid_events"])
    assert set(other) == {"service_items", "grid_events"}
    assert other["grid_events"].read_bytes() != sample["grid_events"].read_bytes()
    flags = Counter(f for i in read_feed(other["service_items"])[1] for f in text(i["跨域类型"]).split(";") if f)
    assert flags == {"成德眉资通办": 55, "川渝通办": 210, "跨省通办": 132}


def test_event_feeds_grow_with_scale(tmp_path: Path) -> None:
    out = generate_sample(tmp_path, scale=2, feeds=["grid_events"])
    assert len(out["grid_events"].read_text(encoding="utf-8").splitlines()) == 10000


def test_write_service_transactions(tmp_path: Path) -> None:
    path = write_service_transactions(tmp_path / "tx.csv", rows=5000, seed=2021)
    headers, rows = read_feed(path, "service_transactions")
    assert headers[0] == "办件编号" and len(rows) == 5000
    assert path.read_bytes() == write_service_transactions(tmp_path / "tx2.csv", rows=5000).read_bytes()


def test_unknown_feed_rejected(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown feed"):
        generate_sample(tmp_path, feeds=["nope"])
