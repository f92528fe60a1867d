"""The shared sample world: entities several feeds refer to.

Party branches are named by compounds, social organisations run facilities and win
purchase contracts, social-work stations employ social workers, service items are
what transactions are filed under. Building them once, each from its own seeded
random stream, keeps the feeds mutually consistent and each feed's content
independent of which other feeds are generated.
"""

from __future__ import annotations

import datetime as dt
import random
from collections import defaultdict
from dataclasses import dataclass
from functools import cached_property

from ingestion.generate import identity
from ingestion.generate.allocate import spread
from ingestion.generate.formats import random_date
from ingestion.generate.names import (
    CHILD_CARE_NAMES,
    COMPOUND_NEW_SUFFIXES,
    COMPOUND_OLD_SUFFIXES,
    COMPOUND_WORDS,
    CULTURE_NAMES,
    ELDERLY_NAMES,
    GENERIC_ITEM_SUBJECTS,
    ITEM_ACTIONS,
    ITEM_SUBJECTS,
    MEDICAL_NAMES,
    ORG_THEMES,
)
from ingestion.generate.reference import (
    CatalogRow,
    DivisionRow,
    PlatformRow,
    load_catalog,
    load_departments,
    load_divisions,
    load_platforms,
)
from ingestion.generate.targets import TARGETS, Targets

ACTIVE, REVOKED = "正常", "撤销"
FIVE_PLUS_TWO = "周一至周五 08:30-18:00，周六至周日 09:00-17:00"
WEEKDAYS_ONLY = "周一至周五 08:30-17:30"
ALL_DAY = "周一至周日 00:00-24:00"


@dataclass(frozen=True)
class PartyOrg:
    code: str
    name: str
    org_type: str
    parent_code: str
    division_code: str
    members: int
    founded: dt.date
    status: str


@dataclass(frozen=True)
class Compound:
    code: str
    name: str
    community_code: str
    households: int
    built_year: int
    is_old: bool
    branch_code: str


@dataclass(frozen=True)
class SocialOrg:
    uscc: str
    name: str
    category: str
    incubator: str
    registered: dt.date
    community_code: str
    status: str


@dataclass(frozen=True)
class Facility:
    code: str
    name: str
    facility_type: str
    community_code: str
    opening_hours: str
    floor_area_cents: int
    opened: dt.date
    renovation_status: str
    operator_uscc: str


@dataclass(frozen=True)
class ServiceItem:
    code: str
    name: str
    department_code: str
    channels: tuple[str, ...]
    cross_region_types: tuple[str, ...]
    self_service_24h: bool
    promised_days: int


class World:
    """Reference data plus the seeded entities shared between feeds."""

    def __init__(self, seed: int = 2021, targets: Targets = TARGETS) -> None:
        self.seed = seed
        self.t = targets
        self.divisions: dict[str, DivisionRow] = load_divisions()
        self.departments: dict[str, str] = load_departments()
        self.catalog: list[CatalogRow] = load_catalog()
        self.platforms: list[PlatformRow] = load_platforms()
        rows = list(self.divisions.values())
        self.city = next(d for d in rows if d.level == "city")
        self.counties = [d for d in rows if d.level == "county"]
        self.townships = [d for d in rows if d.level == "street"]
        self.streets = [d for d in self.townships if d.kind == "街道"]
        self.communities = [d for d in rows if d.level == "community"]
        self.urban_communities = [c for c in self.communities if self.divisions[c.parent_code].kind == "街道"]
        self.children: dict[str, list[DivisionRow]] = defaultdict(list)
        for d in rows:
            if d.parent_code:
                self.children[d.parent_code].append(d)
        # ID-number prefixes: real GB/T 2260 county codes, current or historical.
        self.id_regions = [d.code for d in rows if d.level in ("county", "county_historical") and not d.is_functional_zone]
        self.catalog_leaves = [c for c in self.catalog if c.level == 3]

    def rng(self, purpose: str) -> random.Random:
        """An independent, reproducible random stream per purpose."""
        return random.Random(f"{self.seed}/{purpose}")

    def uscc_region(self, county_code: str) -> str:
        """Region part of a credit code: the county, or the city for a zone without a GB code."""
        county = self.divisions[county_code]
        return self.city.code if county.is_functional_zone else county.code

    def community_weight(self, community: DivisionRow) -> int:
        """Urban communities are bigger; they weigh three times a town community."""
        return 3 if self.divisions[community.parent_code].kind == "街道" else 1

    # ---------------------------------------------------------------- party
    @cached_property
    def party_orgs(self) -> list[PartyOrg]:
        """街道大工委 → 城市社区区域党委 → 小区(片区)党支部 → 党员责任区, plus a few revoked ones."""
        rng = self.rng("party_organizations")
        t = self.t
        orgs: list[PartyOrg] = []

        def founded(start: int, end: int) -> dt.date:
            return random_date(rng, dt.date(start, 1, 1), dt.date(end, 12, 31))

        for s in self.streets:
            county = self.divisions[s.county_code].name
            orgs.append(PartyOrg(f"DGW{s.code}", f"中共{county}{s.name}大工作委员会", "街道大工委", "",
                                 s.code, rng.randint(25, 60), founded(2018, 2019), ACTIVE))
        for c in self.urban_communities:
            orgs.append(PartyOrg(f"QYDW{c.code}", f"中共{self.divisions[c.parent_code].name}{c.name}区域委员会",
                                 "城市社区区域党委", f"DGW{c.parent_code}", c.code, rng.randint(60, 320),
                                 founded(2018, 2020), ACTIVE))
        branches: list[PartyOrg] = []
        per_community = spread(rng, t.compound_party_branches, len(self.urban_communities), minimum=4)
        for c, n in zip(self.urban_communities, per_community, strict=True):
            for k in range(1, n + 1):
                branches.append(PartyOrg(f"ZB{c.code}{k:03d}", f"中共{c.name}第{k}小区党支部", "小区(片区)党支部",
                                         f"QYDW{c.code}", c.code, rng.randint(5, 45), founded(2018, 2021), ACTIVE))
        orgs.extend(branches)
        per_branch = spread(rng, t.party_member_responsibility_areas, len(branches), minimum=1)
        for b, n in zip(branches, per_branch, strict=True):
            for m in range(1, n + 1):
                orgs.append(PartyOrg(f"ZRQ{b.code[2:]}{m:02d}", f"{b.name[2:]}第{m}党员责任区", "党员责任区",
                                     b.code, b.division_code, rng.randint(2, 12), founded(2019, 2021), ACTIVE))
        # Revoked organisations: kept by the department, excluded from the figures.
        for c in rng.sample(self.urban_communities, t.revoked_branches):
            k = per_community[self.urban_communities.index(c)] + 1
            orgs.append(PartyOrg(f"ZB{c.code}{k:03d}", f"中共{c.name}第{k}小区党支部", "小区(片区)党支部",
                                 f"QYDW{c.code}", c.code, 0, founded(2018, 2019), REVOKED))
        for b in rng.sample(branches, t.revoked_areas):
            m = per_branch[branches.index(b)] + 1
            orgs.append(PartyOrg(f"ZRQ{b.code[2:]}{m:02d}", f"{b.name[2:]}第{m}党员责任区", "党员责任区",
                                 b.code, b.division_code, 0, founded(2019, 2020), REVOKED))
        return orgs

    # ------------------------------------------------------------ compounds
    @cached_property
    def compounds(self) -> list[Compound]:
        """Compounds; 3315 linked to an active branch, the rest uncovered or linked to a revoked one."""
        rng = self.rng("residential_compounds")
        t = self.t
        active = [o for o in self.party_orgs if o.org_type == "小区(片区)党支部" and o.status == ACTIVE]
        revoked = [o for o in self.party_orgs if o.org_type == "小区(片区)党支部" and o.status == REVOKED]
        links: dict[str, list[str]] = defaultdict(list)  # community → branch codes ("" = none)
        for b, n in zip(active, spread(rng, t.compounds_covered, len(active), minimum=1), strict=True):
            links[b.division_code].extend([b.code] * n)
        for b in revoked:
            links[b.division_code].extend([b.code] * rng.randint(1, 2))
        uncovered = spread(rng, t.uncovered_urban_compounds, len(self.urban_communities))
        for c, n in zip(self.urban_communities, uncovered, strict=True):
            links[c.code].extend([""] * n)
        for c in self.communities:
            if c.code not in links:
                links[c.code].extend([""] * rng.randint(2, 6))
        out: list[Compound] = []
        for c in self.communities:
            codes = links[c.code]
            rng.shuffle(codes)
            used: set[str] = set()
            for k, branch in enumerate(codes, start=1):
                is_old = rng.random() < 0.3
                name = self._compound_name(rng, is_old, used)
                out.append(Compound(
                    f"XQ{c.code}{k:03d}", name, c.code,
                    rng.randint(24, 320) if is_old else rng.randint(120, 1500),
                    rng.randint(1982, 2000) if is_old else rng.randint(2001, 2020),
                    is_old, branch,
                ))
        return out

    @staticmethod
    def _compound_name(rng: random.Random, is_old: bool, used: set[str]) -> str:
        suffixes = COMPOUND_OLD_SUFFIXES if is_old else COMPOUND_NEW_SUFFIXES
        for _ in range(50):
            name = rng.choice(COMPOUND_WORDS) + rng.choice(suffixes)
            if name not in used:
                used.add(name)
                return name
        name = f"{rng.choice(COMPOUND_WORDS)}{rng.choice(suffixes)}{len(used) + 1}期"
        used.add(name)
        return name

    # ------------------------------------------------------ social orgs
    @cached_property
    def social_orgs(self) -> list[SocialOrg]:
        """Incubated 功能服务型/兴趣爱好志愿服务型 orgs (100 + 100 active) and the rest."""
        rng = self.rng("social_organizations")
        t = self.t
        municipal = [p for p in self.platforms if p.level == "市级"]
        county_platform = {p.county_code: p.name for p in self.platforms if p.level == "县级"}
        weights = [self.community_weight(c) for c in self.communities]
        groups = [
            ("功能服务型", True, "正常", t.incubated_service_orgs),
            ("兴趣爱好志愿服务型", True, "正常", t.incubated_interest_orgs),
            ("功能服务型", True, "注销", 4),
            ("兴趣爱好志愿服务型", True, "注销", 3),
            ("功能服务型", False, "正常", 38),
            ("兴趣爱好志愿服务型", False, "正常", 31),
            ("其他", True, "正常", 9),
            ("其他", False, "正常", 26),
            ("其他", False, "注销", 3),
        ]
        seen_codes: set[str] = set()
        seen_names: set[str] = set()
        out: list[SocialOrg] = []
        for g, (category, incubated, status, count) in enumerate(groups):
            for i in range(count):
                community = rng.choices(self.communities, weights=weights)[0]
                incubator = ""
                if incubated:
                    platform = self.platforms[i] if g == 0 and i < len(self.platforms) else None
                    if platform is not None and platform.level == "县级":
                        # First orgs cover every platform, so all "1+7" show up in the data.
                        community = rng.choice([c for c in self.communities if c.county_code == platform.county_code])
                    if platform is not None:
                        incubator = platform.name
                    elif municipal and rng.random() < 0.25:
                        incubator = municipal[0].name
                    else:
                        incubator = county_platform.get(community.county_code, municipal[0].name if municipal else "")
                code = ""
                while not code or code in seen_codes:
                    code = identity.uscc(rng, rng.choice(("51", "52")), self.uscc_region(community.county_code))
                seen_codes.add(code)
                name = ""
                while not name or name in seen_names:
                    name = community.name + rng.choice(ORG_THEMES[category])
                    if name in seen_names:
                        name = f"{community.name}{self.divisions[community.parent_code].name[:2]}{rng.choice(ORG_THEMES[category])}"
                seen_names.add(name)
                out.append(SocialOrg(code, name, category, incubator,
                                     random_date(rng, dt.date(2016, 1, 1), dt.date(2021, 11, 30)),
                                     community.code, status))
        return out

    @cached_property
    def companies(self) -> list[tuple[str, str]]:
        """Enterprises (USCC, county code) that operate facilities or deliver services."""
        rng = self.rng("companies")
        out: list[tuple[str, str]] = []
        seen: set[str] = set()
        for i in range(12):
            county = self.counties[0] if i < self.t.neighborhood_center_companies else rng.choice(self.counties)
            code = identity.uscc(rng, "91", self.uscc_region(county.code))
            if code not in seen:
                seen.add(code)
                out.append((code, county.code))
        return out

    # -------------------------------------------------------- facilities
    @cached_property
    def facilities(self) -> list[Facility]:
        """Facilities per community plus a 社工站 per township (coded at the township)."""
        rng = self.rng("community_facilities")
        t = self.t
        n = len(self.communities)
        elderly = spread(rng, t.elderly_care_facilities, n, minimum=2)
        child = spread(rng, t.child_care_facilities, n, minimum=1)
        service_orgs = [o.uscc for o in self.social_orgs if o.category == "功能服务型" and o.status == "正常"]
        first_county = self.counties[0].code
        nbh_communities = rng.sample([c for c in self.urban_communities if c.county_code == first_county],
                                     t.neighborhood_centers)
        nbh_operators = [code for code, county in self.companies[: t.neighborhood_center_companies]]
        out: list[Facility] = []
        seqs: dict[str, int] = defaultdict(int)
        names: dict[str, int] = defaultdict(int)

        def add(abbr: str, ftype: str, community: str, name: str, hours: str, area: tuple[int, int],
                since: int, operator: str = "", status: str = "未纳入") -> None:
            seqs[abbr + community] += 1
            seq = seqs[abbr + community]
            names[name] += 1
            label = name if names[name] == 1 else f"{name}（{names[name]}号点）"
            out.append(Facility(f"{abbr}{community}{seq:02d}", label, ftype,
                                community, hours, rng.randint(area[0] * 100, area[1] * 100),
                                random_date(rng, dt.date(since, 1, 1), dt.date(2021, 10, 31)), status, operator))

        for i, c in enumerate(self.communities):
            for _ in range(elderly[i]):
                op = rng.choice(service_orgs) if rng.random() < 0.3 else ""
                add("YL", "社区养老服务设施", c.code, c.name + rng.choice(ELDERLY_NAMES), FIVE_PLUS_TWO,
                    (80, 900), 2012, op)
            for _ in range(child[i]):
                add("ET", "儿童关爱保护设施", c.code, c.name + rng.choice(CHILD_CARE_NAMES),
                    rng.choice((FIVE_PLUS_TWO, WEEKDAYS_ONLY)), (40, 300), 2014)
            for _ in range(rng.randint(1, 2)):
                add("YW", "医疗卫生设施", c.code, c.name + rng.choice(MEDICAL_NAMES), FIVE_PLUS_TWO, (60, 600), 2008)
            for _ in range(rng.randint(1, 3)):
                add("WT", "文化体育设施", c.code, c.name + rng.choice(CULTURE_NAMES),
                    rng.choice((FIVE_PLUS_TWO, ALL_DAY)), (50, 2000), 2010)
            add("DQ", "党群服务中心", c.code, c.name + "党群服务中心",
                FIVE_PLUS_TWO if rng.random() < 0.9 else WEEKDAYS_ONLY, (200, 1500), 2010)
            if rng.random() < 0.35:
                add("DB", "代办驿站", c.code, c.name + "便民代办驿站", WEEKDAYS_ONLY, (20, 80), 2019)
            if c in nbh_communities:
                op = nbh_operators[nbh_communities.index(c) % len(nbh_operators)]
                add("LL", "邻里中心", c.code, c.name + "邻里中心", FIVE_PLUS_TWO, (800, 3000), 2019, op)
        for s in self.townships:
            op = rng.choice(service_orgs) if rng.random() < 0.5 else ""
            add("SG", "社工站", s.code, s.name + "社会工作服务站", WEEKDAYS_ONLY, (60, 300), 2019, op)
        # 党群服务中心亲民化改造: the programme covers a subset of centres.
        centres = [i for i, f in enumerate(out) if f.facility_type == "党群服务中心"]
        chosen = rng.sample(centres, t.party_mass_centers_renovation)
        statuses = ["完工"] * 85 + ["在建"] * 24
        statuses += ["计划"] * (len(chosen) - len(statuses))
        for i, status in zip(chosen, statuses, strict=True):
            f = out[i]
            out[i] = Facility(f.code, f.name, f.facility_type, f.community_code, f.opening_hours,
                              f.floor_area_cents, f.opened, status, f.operator_uscc)
        return out

    # ------------------------------------------------------ service items
    @cached_property
    def service_items(self) -> list[ServiceItem]:
        """1570 items from 29 departments; exact counts of each cross-region flag."""
        rng = self.rng("service_items")
        t = self.t

        def subjects(name: str) -> tuple[str, ...] | None:
            return next((v for k, v in ITEM_SUBJECTS.items() if k in name), None)

        depts = [code for code, name in self.departments.items() if subjects(name)][: t.service_departments]
        depts += [c for c in self.departments if c not in depts][: t.service_departments - len(depts)]
        counts = spread(rng, t.service_items, len(depts), minimum=15)
        kinds = (("XK", 25), ("QR", 15), ("GG", 40), ("JF", 10), ("QT", 10))
        raw: list[tuple[str, str, str]] = []
        for dept, n in zip(depts, counts, strict=True):
            pool = [s + a for s in (subjects(self.departments[dept]) or GENERIC_ITEM_SUBJECTS) for a in ITEM_ACTIONS]
            rng.shuffle(pool)
            for k in range(n):
                kind = rng.choices([k_ for k_, _ in kinds], weights=[w for _, w in kinds])[0]
                name = pool[k] if k < len(pool) else f"{pool[k % len(pool)]}（{k // len(pool) + 1}）"
                raw.append((f"{dept}-{kind}-{k + 1:04d}", name, dept))
        flags = {
            "成德眉资通办": set(rng.sample(range(len(raw)), t.cross_city_items)),
            "川渝通办": set(rng.sample(range(len(raw)), t.sichuan_chongqing_items)),
            "跨省通办": set(rng.sample(range(len(raw)), t.cross_province_items)),
        }
        out: list[ServiceItem] = []
        for i, (code, name, dept) in enumerate(raw):
            channels = tuple(ch for ch, p in (("窗口", 0.95), ("网办", 0.75), ("自助", 0.25), ("代办", 0.15))
                             if rng.random() < p) or ("窗口",)
            cross = tuple(flag for flag, members in flags.items() if i in members)
            promised = rng.choices((0, 1, 3, 5, 7, 10, 15, 20), weights=(20, 10, 20, 20, 10, 10, 6, 4))[0]
            out.append(ServiceItem(code, name, dept, channels, cross, "自助" in channels, promised))
        return out

    # ---------------------------------------------------------------- grids
    @cached_property
    def grids(self) -> dict[str, list[str]]:
        """Grid codes per community (grids are not reference data; events name them)."""
        rng = self.rng("grids")
        return {
            c.code: [f"WG{c.code}{k:02d}" for k in range(1, (rng.randint(6, 14) if self.community_weight(c) > 1
                                                             else rng.randint(3, 6)) + 1)]
            for c in self.communities
        }

    # ------------------------------------------------------------ helpers
    def pilot_levels(self) -> dict[str, str]:
        """Township → 省级/市级/非试点 for purchase of services."""
        levels: dict[str, str] = {}
        municipal = 0
        for s in sorted(self.townships, key=lambda d: d.code):
            if s.county_code in self.t.provincial_pilot_counties:
                levels[s.code] = "省级"
            elif municipal < self.t.municipal_pilot_townships:
                levels[s.code] = "市级"
                municipal += 1
            else:
                levels[s.code] = "非试点"
        return levels
