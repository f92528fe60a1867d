"""Value formatting as departments write it: dates, timestamps, booleans, amounts."""

from __future__ import annotations

import datetime as dt
import random

CST = dt.timezone(dt.timedelta(hours=8))
"""China Standard Time; every timestamp in the feeds carries +08:00."""

YES, NO = "是", "否"


def fmt_date(value: dt.date | None) -> str:
    """YYYY-MM-DD, empty for a missing date."""
    return value.isoformat() if value else ""


def fmt_ts(value: dt.datetime | None) -> str | None:
    """ISO 8601 with the +08:00 offset, to the second; None for a missing value."""
    return value.astimezone(CST).isoformat(timespec="seconds") if value else None


def fmt_bool(value: bool | None) -> str | None:
    """是/否, the way the departments' forms say it."""
    if value is None:
        return None
    return YES if value else NO


def fmt_cents(cents: int) -> str:
    """An amount in cents as a decimal string with exactly two decimals (万元 stays 万元)."""
    return f"{cents // 100}.{cents % 100:02d}"


def cents_to_number(cents: int) -> float:
    """An amount in cents as a number for an Excel cell (two decimals survive the float)."""
    return round(cents / 100, 2)


def random_date(rng: random.Random, start: dt.date, end: dt.date) -> dt.date:
    """A uniformly chosen date in [start, end]."""
    return start + dt.timedelta(days=rng.randrange((end - start).days + 1))


def random_datetime(rng: random.Random, start: dt.datetime, end: dt.datetime) -> dt.datetime:
    """A uniformly chosen second in [start, end)."""
    return start + dt.timedelta(seconds=rng.randrange(int((end - start).total_seconds())))
