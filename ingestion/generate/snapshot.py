"""Row builders for the snapshot feeds (registers that do not grow with scale).

Each builder yields rows in the spec's column order, values already formatted the
way the feed's file carries them (see formats.py).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

from ingestion.generate import identity
from ingestion.generate.allocate import split_cents, spread
from ingestion.generate.formats import cents_to_number, fmt_bool, fmt_cents, fmt_date, random_date
from ingestion.generate.names import FUND_PURPOSES, FUND_SOURCE_KEYWORDS
from ingestion.generate.reference import DivisionRow
from ingestion.generate.world import World

Row = list[Any]


def party_organizations(world: World) -> Iterator[Row]:
    """组织编码 … 状态; xlsx, so member counts stay numbers."""
    for o in world.party_orgs:
        yield [o.code, o.name, o.org_type, o.parent_code or None, o.division_code, o.members,
               fmt_date(o.founded), o.status]


def residential_compounds(world: World) -> Iterator[Row]:
    """One row per compound; 联系党支部编码 empty when no branch covers it."""
    for c in world.compounds:
        yield [c.code, c.name, c.community_code, c.households, c.built_year, fmt_bool(c.is_old), c.branch_code]


def social_organizations(world: World) -> Iterator[Row]:
    """Community social organisations registered or filed with civil affairs."""
    for o in world.social_orgs:
        yield [o.uscc, o.name, o.category, o.incubator, fmt_date(o.registered), o.community_code, o.status]


def community_facilities(world: World) -> Iterator[Row]:
    """Facilities; 社工站 rows carry the township code in 社区代码."""
    for f in world.facilities:
        yield [f.code, f.name, f.facility_type, f.community_code, f.opening_hours, fmt_cents(f.floor_area_cents),
               fmt_date(f.opened), f.renovation_status, f.operator_uscc]


def social_workers(world: World) -> Iterator[Row]:
    """3253 social workers, unique ID numbers, most attached to a township station."""
    rng = world.rng("social_workers")
    stations: dict[str, list[str]] = {}
    for f in world.facilities:
        if f.facility_type == "社工站":
            stations.setdefault(world.divisions[f.community_code].county_code, []).append(f.code)
    counties = [c for c in world.counties if c.code in stations]
    weights = [len(stations[c.code]) for c in counties]
    seen: set[str] = set()
    quals = ("无", "助理社会工作师", "社会工作师", "高级社会工作师")
    for _ in range(world.t.social_workers):
        county = rng.choices(counties, weights=weights)[0]
        number = ""
        while not number or number in seen:
            number = identity.id_number(rng, world.id_regions, dt.date(1966, 1, 1), dt.date(2000, 12, 31))
        seen.add(number)
        station = rng.choice(stations[county.code]) if rng.random() < 0.95 else ""
        adult = dt.date(int(number[6:10]) + 21, 9, 1)  # hired after graduating, not before
        hired = random_date(rng, max(adult, dt.date(2012, 3, 1)), dt.date(world.t.year, 11, 30))
        yield [number, identity.person_name(rng), identity.phone(rng),
               rng.choices(quals, weights=(55, 30, 13, 2))[0], station, county.code, fmt_date(hired)]


def service_purchase_projects(world: World) -> Iterator[Row]:
    """206 live 2021 projects summing exactly to the target, one 终止 2021 project, 2020 projects."""
    rng = world.rng("service_purchase_projects")
    t = world.t
    year = t.year
    levels = world.pilot_levels()
    townships = sorted(world.townships, key=lambda d: d.code)
    providers = [o for o in world.social_orgs if o.status == "正常" and o.category != "其他"]
    companies = [code for code, _ in world.companies]

    def provider(county: str) -> str:
        if rng.random() < 0.2:
            return rng.choice(companies)
        local = [o.uscc for o in providers if world.divisions[o.community_code].county_code == county]
        return rng.choice(local or [o.uscc for o in providers])

    def row(code: str, township: DivisionRow, amount_cents: int, budget_year: int, status: str) -> Row:
        leaf = rng.choice(world.catalog_leaves)
        start = random_date(rng, dt.date(budget_year, 1, 1), dt.date(budget_year, 9, 30))
        end = min(start + dt.timedelta(days=rng.randint(90, 365)), dt.date(budget_year, 12, 31))
        return [code, f"{township.name}{leaf.name}项目", township.code, leaf.code, levels[township.code],
                budget_year, cents_to_number(amount_cents), provider(township.county_code),
                fmt_date(start), fmt_date(end), status]

    pilots = [s for s in townships if levels[s.code] != "非试点"]
    for k in range(1, t.purchase_projects_previous_year + 1):
        s = rng.choice(pilots)
        yield row(f"GMFW{year - 1}{k:04d}", s, rng.randint(5_00, 60_00), year - 1, "已完成")

    per_township = spread(rng, t.purchase_projects, len(townships), minimum=1)
    amounts = split_cents(rng, t.purchase_funds_cents, [rng.randint(3, 20) for _ in range(t.purchase_projects)])
    plan = [s for s, n in zip(townships, per_township, strict=True) for _ in range(n)]
    rng.shuffle(plan)
    terminated_at = rng.randrange(len(plan))
    seq = 0
    for i, (s, amount) in enumerate(zip(plan, amounts, strict=True)):
        if i == terminated_at:
            seq += 1
            yield row(f"GMFW{year}{seq:04d}", rng.choice(pilots), 12_80, year, "终止")
        seq += 1
        status = rng.choices(("已完成", "实施中", "立项"), weights=(40, 55, 5))[0]
        yield row(f"GMFW{year}{seq:04d}", s, amount, year, status)


def fund_allocations(world: World) -> Iterator[Row]:
    """Community funding transfers during the year (no headline figure; realistic shape)."""
    rng = world.rng("fund_allocations")
    sources = [n for n in world.departments.values() if any(k in n for k in FUND_SOURCE_KEYWORDS)]
    sources = sources or list(world.departments.values())
    seq = 0
    for c in world.communities:
        for _ in range(rng.randint(1, 4)):
            seq += 1
            yield [f"BF{world.t.year}{seq:05d}", rng.choice(sources), rng.choice(FUND_PURPOSES), c.code,
                   fmt_cents(rng.randint(1_00, 50_00)),
                   fmt_date(random_date(rng, dt.date(world.t.year, 1, 15), dt.date(world.t.year, 12, 20)))]


def old_compound_renovations(world: World) -> Iterator[Row]:
    """786 completed renovations (investment summing exactly), plus 在建 and 计划 ones."""
    rng = world.rng("old_compound_renovations")
    t = world.t
    old = [c for c in world.compounds if c.is_old]
    rng.shuffle(old)
    n_done = t.old_compounds_renovated
    plan = ([("完工", c) for c in old[:n_done]]
            + [("在建", c) for c in old[n_done:n_done + t.renovations_in_progress]]
            + [("计划", c) for c in old[n_done + t.renovations_in_progress:
                                       n_done + t.renovations_in_progress + t.renovations_planned]])
    if len(plan) < n_done + t.renovations_in_progress + t.renovations_planned:
        raise ValueError("not enough old compounds for the renovation targets")
    done_amounts = iter(split_cents(rng, t.old_compound_investment_cents,
                                    [c.households + rng.randint(20, 200) for _, c in plan[:n_done]]))
    rng.shuffle(plan)
    components = ("管网", "路面", "通道", "绿化", "文体")
    for k, (status, c) in enumerate(plan, start=1):
        if status == "完工":
            amount = next(done_amounts)
            started = random_date(rng, dt.date(2019, 3, 1), dt.date(t.year, 5, 31))
            completed = min(started + dt.timedelta(days=rng.randint(60, 240)), dt.date(t.year, 12, 20))
        elif status == "在建":
            amount = rng.randint(50_00, 600_00)
            started, completed = random_date(rng, dt.date(t.year, 3, 1), dt.date(t.year, 11, 30)), None
        else:
            amount = rng.randint(50_00, 600_00)
            started = completed = None
        chosen = [x for x in components if rng.random() < 0.6] or ["管网"]
        yield [f"LJGZ{k:05d}", c.code, fmt_date(started), fmt_date(completed), fmt_cents(amount),
               ";".join(chosen), status]


def service_items(world: World) -> Iterator[Row]:
    """政务服务事项; list columns joined with ';'."""
    for it in world.service_items:
        yield [it.code, it.name, it.department_code, ";".join(it.channels), ";".join(it.cross_region_types) or None,
               fmt_bool(it.self_service_24h)]
