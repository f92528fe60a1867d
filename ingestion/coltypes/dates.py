"""Types `date` and `timestamp`: what people type (2021/3/5, 2021年3月5日, Excel serials), 1900..2099."""
from __future__ import annotations

import datetime as dt
import re
from functools import lru_cache
from typing import Any

from ingestion.coltypes.base import (
    DATE_MAX,
    DATE_MIN,
    FastPath,
    TypeRule,
    identity_map,
    nfkc,
    reject,
    valid_iso_dates,
)
from ingestion.registry import ColumnSpec

FEED_TIMEZONE = dt.timezone(dt.timedelta(hours=8))  # timestamps without an offset are local (UTC+8)
EXCEL_EPOCH = dt.date(1899, 12, 30)
_DATE_PATTERNS = [
    re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$"),
    re.compile(r"^(\d{4})/(\d{1,2})/(\d{1,2})$"),
    re.compile(r"^(\d{4})\.(\d{1,2})\.(\d{1,2})$"),
    re.compile(r"^(\d{4})年(\d{1,2})月(\d{1,2})日?$"),
    re.compile(r"^(\d{4})(\d{2})(\d{2})$"),
]
_TIMESTAMP_RE = re.compile(
    r"^(\d{4})[-/](\d{1,2})[-/](\d{1,2})(?:[T ](\d{1,2}):(\d{2})(?::(\d{2})(?:\.(\d{1,6}))?)?)?"
    r"\s*(Z|[+-]\d{2}:?\d{2})?$"
)
_CN_DATE = re.compile(r"^(\d{4})年(\d{1,2})月(\d{1,2})日?")
_TIME_TAIL = re.compile(r"[T ](?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](?:\.[0-9]{1,6})?"
                        r"(Z|[+-](?:0[0-9]|1[0-4]):[0-5][0-9])?")
_LEAP_YEAR = r"(?:19(?:0[48]|[2468][048]|[13579][26])|20(?:[02468][048]|[13579][26]))"


def parse_date(value: Any, col: ColumnSpec | None = None) -> dt.date:
    if isinstance(value, dt.datetime):
        day = value.date()
    elif isinstance(value, dt.date):
        day = value
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        day = _excel_serial(value)
    else:
        text = nfkc(value) or ""
        if re.fullmatch(r"\d{5}(\.0+)?", text):
            day = _excel_serial(float(text))
        else:
            day = _match_date(text, value)
    if not DATE_MIN <= day <= DATE_MAX:
        raise reject("date_range", f"{value!r} is outside {DATE_MIN}..{DATE_MAX}", f"日期 {value!r} 超出合理范围")
    return day


def _excel_serial(number: float) -> dt.date:
    if not 1 <= number < 80000 or number != int(number):
        raise reject("date", f"{number!r} is not a date", f"{number!r} 不是有效日期")
    return EXCEL_EPOCH + dt.timedelta(days=int(number))


def _match_date(text: str, original: Any) -> dt.date:
    for pattern in _DATE_PATTERNS:
        match = pattern.match(text)
        if match:
            try:
                return dt.date(*map(int, match.groups()))
            except ValueError as exc:
                raise reject("date", f"{original!r} is not a real date", f"{original!r} 不是有效日期") from exc
    raise reject("date", f"{original!r} is not a date (use 2021-03-05)", f"{original!r} 不是日期格式（如 2021-03-05）")


def parse_timestamp(value: Any, col: ColumnSpec | None = None) -> dt.datetime:
    if isinstance(value, dt.datetime):
        stamp = value if value.tzinfo else value.replace(tzinfo=FEED_TIMEZONE)
    elif isinstance(value, dt.date):
        stamp = dt.datetime.combine(value, dt.time(), FEED_TIMEZONE)
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        day = _excel_serial(int(value))
        seconds = round((value - int(value)) * 86400)
        stamp = dt.datetime.combine(day, dt.time(), FEED_TIMEZONE) + dt.timedelta(seconds=seconds)
    else:
        text = _CN_DATE.sub(r"\1-\2-\3", nfkc(value) or "")
        match = _TIMESTAMP_RE.match(text)
        if not match:
            raise reject("timestamp", f"{value!r} is not a timestamp (use 2021-03-05T09:30:00+08:00)",
                         f"{value!r} 不是时间格式")
        year, month, day, hour, minute, second, fraction, zone = match.groups()
        try:
            stamp = dt.datetime(int(year), int(month), int(day), int(hour or 0), int(minute or 0),
                                int(second or 0), int((fraction or "0").ljust(6, "0")), _zone(zone))
        except ValueError as exc:
            raise reject("timestamp", f"{value!r} is not a real time", f"{value!r} 不是有效时间") from exc
    if not DATE_MIN <= stamp.date() <= DATE_MAX:
        raise reject("date_range", f"{value!r} is outside {DATE_MIN}..{DATE_MAX}", f"时间 {value!r} 超出合理范围")
    return stamp


def _zone(text: str | None) -> dt.tzinfo:
    if not text:
        return FEED_TIMEZONE
    if text == "Z":
        return dt.UTC
    sign = -1 if text[0] == "-" else 1
    digits = text[1:].replace(":", "")
    return dt.timezone(sign * dt.timedelta(hours=int(digits[:2]), minutes=int(digits[2:])))


@lru_cache(maxsize=1)
def valid_compact_dates() -> frozenset[str]:
    """The same dates as YYYYMMDD, for the birth date inside an ID number."""
    return frozenset(day.replace("-", "") for day in valid_iso_dates())


def fast_date(col: ColumnSpec) -> FastPath:
    return identity_map(valid_iso_dates()).get  # a C-level call: no Python frame per value


def fast_timestamp(col: ColumnSpec) -> FastPath:
    dates = valid_iso_dates()
    tail = _TIME_TAIL.fullmatch

    def fast(value: str) -> str | None:
        if value[:10] in dates:
            match = tail(value, 10)
            if match:
                return value if match.group(1) else value + "+08:00"  # feed-local time without an offset
        return None

    return fast


def date_regex(sep: str) -> str:
    """Every real day of 1900..2099 (leap years included, 1900 excluded), nothing else."""
    month_day = (f"(?:(?:0[1-9]|1[0-2]){sep}(?:0[1-9]|1[0-9]|2[0-8])|(?:0[13-9]|1[0-2]){sep}(?:29|30)"
                 f"|(?:0[13578]|1[02]){sep}31)")
    return f"(?:(?:19|20)[0-9]{{2}}{sep}{month_day}|{_LEAP_YEAR}{sep}02{sep}29)"


LINE_DATE = date_regex("-")
LINE_TIMESTAMP = (rf"{LINE_DATE}[T ](?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](?:\.[0-9]{{1,6}})?"
                  r"(?:Z|[+-](?:0[0-9]|1[0-4]):[0-5][0-9])")  # with an explicit offset only


DATE = TypeRule(parse=parse_date, format=dt.date.isoformat, fast=fast_date, line=lambda col: (LINE_DATE, None))
TIMESTAMP = TypeRule(parse=parse_timestamp, format=dt.datetime.isoformat, fast=fast_timestamp,
                     line=lambda col: (LINE_TIMESTAMP, None))
