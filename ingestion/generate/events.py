"""Row builders for the event feeds, which grow with ``scale``.

Events happen within the snapshot year. Content follows the report's patterns:
most disputes are settled in the grid or community, most escalations stop early,
most service transactions finish within the promised time.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from itertools import accumulate
from typing import Any

from ingestion.generate import identity
from ingestion.generate.formats import CST, fmt_bool, fmt_ts, random_datetime
from ingestion.generate.names import DISPUTE_TYPES, EVENT_CATEGORIES
from ingestion.generate.world import World

Row = list[Any]

ESCALATION_CHAIN = ("社区呼叫", "街道吹哨", "部门报到")
CHANNEL_WEIGHTS = {"窗口": 35, "网办": 45, "自助": 12, "代办": 8}
# Minutes from receipt to closure by the level that settled the dispute.
_CLOSE_MINUTES = {"网格": (60, 72 * 60), "社区": (12 * 60, 10 * 24 * 60), "街道": (2 * 24 * 60, 20 * 24 * 60),
                  "区县及以上": (5 * 24 * 60, 40 * 24 * 60)}


def _year_bounds(world: World) -> tuple[dt.datetime, dt.datetime]:
    return dt.datetime(world.t.year, 1, 1, tzinfo=CST), dt.datetime(world.t.year + 1, 1, 1, tzinfo=CST)


def _community_picker(world: World):  # noqa: ANN202 - returns a closure
    communities = world.communities
    cum = list(accumulate(world.community_weight(c) for c in communities))
    return lambda rng: rng.choices(communities, cum_weights=cum)[0]


def mediation_cases(world: World, scale: int = 1) -> Iterator[Row]:
    """Mediation cases with 2–3 parties each (valid ID numbers and phones)."""
    rng = world.rng("mediation_cases")
    start, end = _year_bounds(world)
    pick = _community_picker(world)
    for k in range(1, world.t.mediation_cases * scale + 1):
        community = pick(rng)
        received = random_datetime(rng, start, end - dt.timedelta(days=1))
        kind = rng.choices(("人民调解", "行业调解", "律师调解"), weights=(70, 20, 10))[0]
        method = rng.choices(("点单式", "组团式", "联动式"), weights=(40, 35, 25))[0]
        grid = rng.choice(world.grids[community.code]) if kind == "人民调解" or rng.random() < 0.4 else None
        outcome = rng.choices(("调解成功", "调解不成", "调解中"), weights=(85, 8, 7))[0]
        level = closed = None
        if outcome != "调解中":
            level = rng.choices(tuple(_CLOSE_MINUTES), weights=(55, 30, 11, 4))[0]
            closed = received + dt.timedelta(minutes=rng.randint(*_CLOSE_MINUTES[level]))
            if closed >= end:  # still open at the snapshot
                outcome, level, closed = "调解中", None, None
            elif level == "网格" and grid is None:
                grid = rng.choice(world.grids[community.code])
        follow_up = None if closed is None else rng.random() < 0.92
        roles = ["申请人", "被申请人"] + (["第三人"] if rng.random() < 0.15 else [])
        parties = [{"name": identity.person_name(rng), "id_number": identity.id_number(rng, world.id_regions),
                    "phone": identity.phone(rng), "role": role} for role in roles]
        yield [f"TJ{world.t.year}{k:07d}", fmt_ts(received), rng.choice(DISPUTE_TYPES), kind, method, grid,
               community.code, level, outcome, fmt_ts(closed), fmt_bool(follow_up), parties]


def grid_events(world: World, scale: int = 1) -> Iterator[Row]:
    """Grid events; escalations follow 社区呼叫 → 街道吹哨 → 部门报到 with rising timestamps."""
    rng = world.rng("grid_events")
    start, end = _year_bounds(world)
    pick = _community_picker(world)
    departments = list(world.departments)
    for k in range(1, world.t.grid_events * scale + 1):
        community = pick(rng)
        reported = random_datetime(rng, start, end - dt.timedelta(days=5))  # escalations stay in the year
        at = reported
        escalations = []
        for level in ESCALATION_CHAIN[: rng.choices((0, 1, 2, 3), weights=(60, 25, 10, 5))[0]]:
            at += dt.timedelta(minutes=rng.randint(10, 36 * 60))
            escalations.append({"level": level, "at": fmt_ts(at),
                                "department_code": rng.choice(departments) if level == "部门报到" else None})
        closed = at + dt.timedelta(minutes=rng.randint(30, 72 * 60)) if rng.random() < 0.94 else None
        if closed is not None and closed >= end:
            closed = None
        yield [f"SJ{world.t.year}{k:08d}", rng.choice(world.grids[community.code]), community.code,
               rng.choice(EVENT_CATEGORIES), fmt_ts(reported), escalations, fmt_ts(closed),
               "已办结" if closed else "办理中"]


def service_transactions(world: World, rows: int) -> Iterator[Row]:
    """Service transactions, streamed; hot loop kept to integer arithmetic for speed."""
    rng = world.rng("service_transactions")
    year = world.t.year
    items = world.service_items
    # Popular items get most of the traffic (roughly Zipf over a shuffled order).
    ranks = list(range(1, len(items) + 1))
    rng.shuffle(ranks)
    item_cum = list(accumulate(1.0 / r**0.9 for r in ranks))
    item_channels = []
    for it in items:
        chans = it.channels
        item_channels.append((chans, list(accumulate(CHANNEL_WEIGHTS[c] for c in chans))))
    pool_rng = world.rng("service_applicants")
    pool = [identity.id_number(pool_rng, world.id_regions) for _ in range(min(max(rows // 3, 1_000), 200_000))]

    first = dt.date(year, 1, 1)
    n_days = (dt.date(year + 1, 1, 1) - first).days
    days = [(first + dt.timedelta(days=d)).isoformat() for d in range(n_days)]
    weekdays = [d for d in range(n_days) if (first + dt.timedelta(days=d)).weekday() < 5]
    year_seconds = n_days * 86400

    def ts(seconds: int) -> str:
        d, s = divmod(seconds, 86400)
        h, s = divmod(s, 3600)
        m, s = divmod(s, 60)
        return f"{days[d]}T{h:02d}:{m:02d}:{s:02d}+08:00"

    random, randrange, randint, choices, choice = rng.random, rng.randrange, rng.randint, rng.choices, rng.choice
    for k in range(1, rows + 1):
        i = choices(range(len(items)), cum_weights=item_cum)[0]
        it = items[i]
        chans, chan_cum = item_channels[i]
        channel = chans[0] if len(chans) == 1 else choices(chans, cum_weights=chan_cum)[0]
        if channel in ("窗口", "代办"):
            accepted = choice(weekdays) * 86400 + randint(8 * 3600 + 1800, 17 * 3600 + 1800)
        else:
            accepted = randrange(n_days) * 86400 + randrange(86400)
        promised = it.promised_days
        r = random()
        if r < 0.05:
            completed = None
        elif r < 0.12:  # late: beyond the promised working days even counting weekends
            completed = accepted + ((promised * 7) // 5 + randint(3, 15)) * 86400 + randrange(86400)
        elif promised == 0:
            completed = accepted + randint(300, 4 * 3600)
        else:
            completed = accepted + randint(1800, promised * 86400)
        if completed is not None and completed >= year_seconds:
            completed = None
        applicant = choice(pool) if random() < 0.98 else ""  # a few legal-person applicants
        yield [f"BJ{year}{k:09d}", it.code, ts(accepted), ts(completed) if completed is not None else "",
               promised, channel, applicant]
