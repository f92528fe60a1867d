"""Row builders for the report's remaining programmes, each a feed of its own.

* 综合行政执法 — enforcement cases of the township teams (一支队伍管执法); in 丹棱县 the
  "网格+包保+执法" mechanism sends most cases in from grid events.
* “服务、需求、项目”三张清单 — residents' needs per community, matched to a service (a
  facility of the community) or a purchase-of-services project of the township.
* 便民代办 / 代办驿站 (村级民事代办) — proxy-service requests at the 代办驿站 facilities.
* 居民公约积分制 / “红黑榜” — point entries per household; monthly red and black lists are
  derived in the warehouse.

Each builder draws from its own random stream and reads the shared world (communities,
grids, facilities, service items, grid events, purchase projects), so the new feeds
refer to the same Meishan as the others and never change the others' content.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterator
from itertools import accumulate
from typing import Any

from ingestion.generate import identity
from ingestion.generate.events import _community_picker, _year_bounds, grid_events
from ingestion.generate.formats import CST, fmt_date, fmt_ts, random_date, random_datetime
from ingestion.generate.snapshot import service_purchase_projects
from ingestion.generate.world import World

Row = list[Any]

GRID_AND_BAO_BAO_COUNTY = "511424"
"""丹棱县 runs "网格+包保+执法"; a generator setting, not a rule of the warehouse."""

# violation type → legal basis, and the grid-event category that reports it.
VIOLATIONS: dict[str, tuple[str, str | None]] = {
    "占道经营": ("《城市市容和环境卫生管理条例》第十四条", "占道经营"),
    "违章搭建": ("《中华人民共和国城乡规划法》第六十四条", "违章搭建"),
    "噪音扰民": ("《中华人民共和国环境噪声污染防治法》第五十八条", "噪音扰民"),
    "乱倒垃圾": ("《城市市容和环境卫生管理条例》第三十四条", "环境卫生"),
    "损坏市政设施": ("《城市道路管理条例》第四十二条", "市政设施"),
    "占用消防通道": ("《中华人民共和国消防法》第六十条", "消防隐患"),
    "违规设置户外广告": ("《四川省城乡环境综合治理条例》第五十八条", None),
    "违规倾倒建筑垃圾": ("《城市建筑垃圾管理规定》第二十六条", None),
}
ENFORCEMENT_OUTCOMES = {"责令改正": 50, "警告": 15, "罚款": 25, "不予处罚": 7, "移送": 3}
FINES_YUAN = (200, 500, 1000, 2000, 5000, 10000)
BUSINESS_WORDS = ("兴旺", "顺达", "鑫源", "蜀韵", "岷江", "东坡", "锦程", "宏发", "和美", "丰泽")
BUSINESS_KINDS = ("商贸有限公司", "餐饮店", "建材经营部", "装饰工程有限公司", "便利店", "物业服务有限公司")

NEED_TEXTS: dict[str, tuple[str, ...]] = {
    "养老服务": ("小区独居老人需要定期探访", "希望增设老年助餐点", "老人希望就近理发、修脚等上门服务"),
    "儿童关爱": ("放学后孩子无人看护，希望开设四点半课堂", "希望暑期开展儿童安全教育", "留守儿童需要课业辅导"),
    "环境卫生": ("垃圾分类收集点需要增设", "背街小巷卫生死角需清理", "小区化粪池需定期清掏"),
    "设施维修": ("单元楼道照明损坏需维修", "小区道路破损需修补", "健身器材老化需更换"),
    "文体活动": ("希望组织广场舞培训", "希望开放社区活动室", "希望举办邻里节活动"),
    "就业帮扶": ("希望提供技能培训", "需要灵活就业岗位信息", "希望组织招聘会"),
    "矛盾调解": ("邻里漏水纠纷需调解", "物业费争议需协调", "停车位纠纷需调解"),
    "助残服务": ("残疾人需要康复辅具", "希望提供残疾人上门康复服务", "无障碍通道需改造"),
    "其他": ("希望增加公交站点", "希望安装电动车充电桩", "希望开展反诈宣传"),
}
NEED_CATEGORY_WEIGHTS = (20, 12, 15, 18, 12, 6, 8, 4, 5)
NEED_CHANNELS = {"两委班子走访": 25, "网格员收集": 35, "居民小组长收集": 20, "群众说事": 12, "线上留言": 8}

PROXY_MODES = {"驿站代办": 55, "上门代办": 25, "网上代办": 20}

# The community's "红黑榜"清单: behaviours that earn or cost points (居民公约).
RED_ITEMS_MONTHLY = (("月度文明家庭", 10), ("孝老爱亲", 10), ("移风易俗简办婚丧", 10))
RED_ITEMS_SMALL = (("参加志愿服务", 5), ("垃圾分类示范", 3), ("邻里互助", 3), ("参加居民议事会", 2),
                   ("参与矛盾调解", 5))
BLACK_ITEMS_SMALL = (("乱扔垃圾", -5), ("违规饲养犬只", -5))
BLACK_ITEMS_SERIOUS = (("占用消防通道", -10), ("私搭乱建", -10), ("大操大办", -10), ("高空抛物", -20))


def _pick(rng, weights: dict[str, int]) -> str:  # noqa: ANN001 - random.Random
    return rng.choices(tuple(weights), weights=tuple(weights.values()))[0]


def enforcement_cases(world: World, scale: int = 1) -> Iterator[Row]:
    """Cases of the township enforcement teams; grid-sourced cases name the grid event."""
    rng = world.rng("enforcement_cases")
    start, end = _year_bounds(world)
    pick = _community_picker(world)
    categories = {cat: kind for kind, (_, cat) in VIOLATIONS.items() if cat}
    events: dict[str, list[tuple[str, str, str, dt.datetime]]] = defaultdict(list)
    for event in grid_events(world, 1):
        event_id, grid, community, category, reported = event[:5]
        if category in categories:
            events[community].append((event_id, grid, categories[category], dt.datetime.fromisoformat(reported)))
    used: set[str] = set()
    for k in range(1, world.t.enforcement_cases * scale + 1):
        community = pick(rng)
        township = world.divisions[community.parent_code]
        linkage = "网格+包保+执法" if community.county_code == GRID_AND_BAO_BAO_COUNTY else "一支队伍管执法"
        weights = {"网格事件": 65, "群众投诉": 15, "巡查发现": 15, "部门移交": 5} if linkage != "一支队伍管执法" \
            else {"网格事件": 35, "群众投诉": 30, "巡查发现": 25, "部门移交": 10}
        source = _pick(rng, weights)
        grid = rng.choice(world.grids[community.code]) if rng.random() < 0.8 else None
        event_id = None
        violation = rng.choice(tuple(VIOLATIONS))
        registered = random_datetime(rng, start, end - dt.timedelta(days=1))
        if source == "网格事件":
            free = [e for e in events[community.code] if e[0] not in used and e[3] < end - dt.timedelta(days=4)]
            if free:
                event_id, grid, violation, reported = rng.choice(free)
                used.add(event_id)
                registered = reported + dt.timedelta(minutes=rng.randint(30, 72 * 60))
            else:
                source = "群众投诉"
        closed = registered + dt.timedelta(minutes=rng.randint(2 * 60, (12 if source == "网格事件" else 40) * 24 * 60))
        if rng.random() < 0.08 or closed >= end:
            closed = None
        outcome = _pick(rng, ENFORCEMENT_OUTCOMES) if closed else None
        fine = f"{rng.choice(FINES_YUAN)}.00" if outcome == "罚款" else None
        if rng.random() < 0.75:
            party_type, party_name = "个人", identity.person_name(rng)
            party_id = identity.id_number(rng, world.id_regions)
        else:
            party_type, party_id = "单位", None
            party_name = f"眉山市{rng.choice(BUSINESS_WORDS)}{rng.choice(BUSINESS_KINDS)}"
        yield [f"ZF{world.t.year}{k:07d}", f"ZFD{township.code}", township.code, community.code, grid, source,
               event_id, linkage, violation, VIOLATIONS[violation][0], fmt_ts(registered), fmt_ts(closed),
               "已结案" if closed else "办理中", outcome, fine, party_type, party_name, party_id]


def community_needs(world: World, scale: int = 1) -> Iterator[Row]:
    """三张清单: needs recorded per community, matched to a service (facility) or a township project."""
    rng = world.rng("community_needs")
    year = world.t.year
    facilities: dict[str, list[str]] = defaultdict(list)
    for f in world.facilities:
        facilities[f.community_code].append(f.code)
    projects: dict[str, list[str]] = defaultdict(list)
    for p in service_purchase_projects(world):
        if p[5] == year and p[10] != "终止":
            projects[p[2]].append(p[0])
    categories = tuple(NEED_TEXTS)
    last_day = dt.date(year, 12, 31)
    for c in world.communities:
        n = (rng.randint(8, 20) if world.community_weight(c) > 1 else rng.randint(3, 10)) * scale
        for k in range(1, n + 1):
            category = rng.choices(categories, weights=NEED_CATEGORY_WEIGHTS)[0]
            recorded = random_date(rng, dt.date(year, 1, 1), dt.date(year, 12, 20))
            match_type = matched_code = matched = None
            status = "待匹配"
            if rng.random() < 0.8:
                matched = recorded + dt.timedelta(days=rng.choices((rng.randint(0, 7), rng.randint(8, 60)),
                                                                   weights=(60, 40))[0])
                township_projects = projects.get(c.parent_code, [])
                if matched > last_day:
                    matched = None
                elif township_projects and rng.random() < 0.4:
                    match_type, matched_code = "项目", rng.choice(township_projects)
                else:
                    match_type, matched_code = "服务", rng.choice(facilities[c.code])
                if matched is not None:
                    status = "已办结" if rng.random() < 0.7 else "办理中"
            yield [f"XQQD{c.code}{k:04d}", c.code, rng.choice(world.grids[c.code]), _pick(rng, NEED_CHANNELS),
                   category, rng.choices(("发展性", "价值性", "精神性"), weights=(50, 30, 20))[0],
                   rng.choice(NEED_TEXTS[category]), fmt_date(recorded), match_type, matched_code,
                   fmt_date(matched) if matched else None, status]


def proxy_service_requests(world: World, scale: int = 1) -> Iterator[Row]:
    """便民代办 at the 代办驿站: agents, matters (service items handled by proxy), on-time or late."""
    rng = world.rng("proxy_service_requests")
    year = world.t.year
    stations = [f for f in world.facilities if f.facility_type == "代办驿站"]
    agents = {s.code: [(f"{s.code}-{j:02d}", identity.person_name(rng)) for j in range(1, rng.randint(1, 3) + 1)]
              for s in stations}
    cum = list(accumulate(rng.randint(1, 4) for _ in stations))
    items = [it for it in world.service_items if "代办" in it.channels] or world.service_items
    first = dt.date(year, 1, 1)
    weekdays = [first + dt.timedelta(days=d) for d in range(365) if (first + dt.timedelta(days=d)).weekday() < 5]
    end = dt.datetime(year + 1, 1, 1, tzinfo=CST)
    for k in range(1, world.t.proxy_service_requests * scale + 1):
        station = rng.choices(stations, cum_weights=cum)[0]
        agent_code, agent_name = rng.choice(agents[station.code])
        item = rng.choice(items)
        day = rng.choice(weekdays)
        received = dt.datetime(day.year, day.month, day.day, 8, 30, tzinfo=CST) + dt.timedelta(
            seconds=rng.randrange(9 * 3600))
        promised = item.promised_days
        r = rng.random()
        if r < 0.06:
            finished, status = None, "办理中"
        elif r < 0.09:
            finished, status = received + dt.timedelta(hours=rng.randint(1, 48)), "已退回"
        elif r < 0.17:  # late: more calendar days than the promised working days can cover
            finished = received + dt.timedelta(days=(promised * 7) // 5 + rng.randint(3, 12), hours=rng.randint(0, 8))
            status = "已办结"
        else:
            finished = received + (dt.timedelta(days=rng.randint(0, promised), hours=rng.randint(0, 5),
                                                minutes=rng.randint(10, 59))  # same local day at the latest
                                   if promised else dt.timedelta(minutes=rng.randint(20, 240)))
            status = "已办结"
        if finished is not None and finished >= end:
            finished, status = None, "办理中"
        applicant = identity.id_number(rng, world.id_regions, dt.date(1940, 1, 1), dt.date(1990, 12, 31))
        phone = identity.phone(rng) if rng.random() < 0.85 else None
        yield [f"DB{year}{k:07d}", station.code, station.community_code, agent_code, agent_name, item.code,
               item.name, _pick(rng, PROXY_MODES), applicant, identity.person_name(rng), phone, promised,
               fmt_ts(received), fmt_ts(finished), status]


def resident_points(world: World, scale: int = 1) -> Iterator[Row]:
    """Point entries per household and month: monthly awards, everyday entries, serious deductions."""
    rng = world.rng("resident_points")
    year = world.t.year
    compounds: dict[str, list[str]] = defaultdict(list)
    for compound in world.compounds:
        compounds[compound.community_code].append(compound.code)
    seen: set[str] = set()
    for c in world.communities:
        urban = world.community_weight(c) > 1
        households = []
        for _ in range((rng.randint(30, 90) if urban else rng.randint(15, 45)) * scale):
            number = ""
            while not number or number in seen:
                number = identity.id_number(rng, world.id_regions, dt.date(1940, 1, 1), dt.date(1995, 12, 31))
            seen.add(number)
            households.append((number, identity.person_name(rng), rng.choice(compounds[c.code])))
        seq = 0
        for month in range(1, 13):
            first = dt.date(year, month, 1)
            last = (first + dt.timedelta(days=32)).replace(day=1) - dt.timedelta(days=1)
            entries: list[tuple[tuple[str, str, str], str, str, int]] = []
            for household in rng.sample(households, min(len(households), rng.randint(0, 7 if urban else 3))):
                entries.append((household, "红榜事项", *rng.choice(RED_ITEMS_MONTHLY)))
            for _ in range(rng.randint(2, 8) if urban else rng.randint(1, 4)):
                side, items = ("黑榜事项", BLACK_ITEMS_SMALL) if rng.random() < 0.25 else ("红榜事项", RED_ITEMS_SMALL)
                entries.append((rng.choice(households), side, *rng.choice(items)))
            for _ in range(rng.choices((0, 1, 2, 6), weights=(55, 25, 15, 5))[0] if urban else rng.randint(0, 1)):
                entries.append((rng.choice(households), "黑榜事项", *rng.choice(BLACK_ITEMS_SERIOUS)))
            for (number, name, compound), side, reason, points in entries:
                seq += 1
                yield [f"JF{c.code}{seq:05d}", c.code, compound, number, name,
                       fmt_date(random_date(rng, first, last)), side, reason, points]
