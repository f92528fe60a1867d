"""Turn values as people type them into typed values, or say exactly why not.

Normalise only what is unambiguous (2021/3/5, 2021年3月5日, Excel serial dates,
full-width digits, thousands separators, 是/否, stray full-width spaces); reject the rest
with a reason in English and Chinese. A wrong value is never loaded silently.
"""
from __future__ import annotations

import csv
import datetime as dt
import json
import re
import unicodedata
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any

from psycopg.types.json import Jsonb

from ingestion.checksums import id_check_digit, uscc_check_char
from ingestion.errors import ValueRejected, ValueWarning
from ingestion.registry import ColumnSpec, FeedSpec
from warehouse.settings import REPO_ROOT

DIVISIONS_CSV = REPO_ROOT / "dbt_project" / "seeds" / "ref_divisions.csv"
FEED_TIMEZONE = dt.timezone(dt.timedelta(hours=8))  # timestamps without an offset are local (UTC+8)
EXCEL_EPOCH = dt.date(1899, 12, 30)
DATE_MIN, DATE_MAX = dt.date(1900, 1, 1), dt.date(2099, 12, 31)
TRUE_WORDS = {"是", "y", "yes", "true", "1", "t", "有"}
FALSE_WORDS = {"否", "n", "no", "false", "0", "f", "无"}
USCC_CHARS = set("0123456789ABCDEFGHJKLMNPQRTUWXY")
PROVINCE_PREFIXES = {str(p) for p in (11, 12, 13, 14, 15, 21, 22, 23, 31, 32, 33, 34, 35, 36, 37, 41, 42, 43,
                                      44, 45, 46, 50, 51, 52, 53, 54, 61, 62, 63, 64, 65, 71, 81, 82)}
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
_NUMBER_RE = re.compile(r"^-?\d+(?:\.\d+)?$")
_PHONE_RE = re.compile(r"^(?:1[3-9]\d{9}|0\d{2,3}-?\d{7,8})$")
_WHITESPACE = "\u3000\u00a0\ufeff \t\r\n"


def reject(rule: str, reason: str, reason_zh: str) -> ValueRejected:
    return ValueRejected(rule, reason, reason_zh)


def clean_text(value: Any) -> str | None:
    """Strip ordinary and full-width spaces; empty means missing."""
    if value is None:
        return None
    text = str(value).strip(_WHITESPACE)
    return text or None


def _nfkc(value: Any) -> str | None:
    text = clean_text(value)
    return None if text is None else unicodedata.normalize("NFKC", text).strip()


def _code(value: Any) -> str:
    """A code as typed: full-width characters folded, stray spaces inside removed (5114 02 → 511402)."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # Excel stores codes typed as numbers as floats
    return "".join((_nfkc(value) or "").split())


def parse_integer(value: Any, col: ColumnSpec) -> int:
    if isinstance(value, bool):
        raise reject("type", f"{value!r} is not a whole number", f"{value!r} 不是整数")
    if isinstance(value, int):
        number = value
    elif isinstance(value, float):
        if not value.is_integer():
            raise reject("type", f"{value!r} is not a whole number", f"{value!r} 不是整数")
        number = int(value)
    else:
        text = (_nfkc(value) or "").replace(",", "").replace(" ", "")
        if not re.fullmatch(r"-?\d+", text):
            raise reject("type", f"{value!r} is not a whole number", f"{value!r} 不是整数")
        number = int(text)
    _check_range(number, col, value)
    return number


def parse_decimal(value: Any, col: ColumnSpec) -> Decimal:
    if isinstance(value, bool):
        raise reject("type", f"{value!r} is not a number", f"{value!r} 不是数字")
    if isinstance(value, (int, float)):
        number = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    else:
        text = (_nfkc(value) or "").replace(",", "").replace(" ", "").replace("，", "")
        if text.startswith("¥"):
            text = text[1:]
        if not _NUMBER_RE.match(text):
            raise reject("type", f"{value!r} is not a number", f"{value!r} 不是数字")
        try:
            number = Decimal(text)
        except InvalidOperation as exc:
            raise reject("type", f"{value!r} is not a number", f"{value!r} 不是数字") from exc
    if number != number.quantize(Decimal("0.01")) and number.as_tuple().exponent < -2:
        raise reject("precision", f"{value!r} has more than two decimals", f"{value!r} 小数位超过两位")
    _check_range(number, col, value)
    return number.quantize(Decimal("0.01"))


def _check_range(number: int | Decimal, col: ColumnSpec, original: Any) -> None:
    if col.min is not None and number < Decimal(str(col.min)):
        rule = "negative" if col.min == 0 else "range"
        raise reject(rule, f"{original!r} is below the minimum {col.min:g}", f"{original!r} 小于下限 {col.min:g}")
    if col.max is not None and number > Decimal(str(col.max)):
        raise reject("range", f"{original!r} is above the maximum {col.max:g}", f"{original!r} 大于上限 {col.max:g}")


def parse_date(value: Any, col: ColumnSpec | None = None) -> dt.date:
    if isinstance(value, dt.datetime):
        day = value.date()
    elif isinstance(value, dt.date):
        day = value
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        day = _excel_serial(value)
    else:
        text = _nfkc(value) or ""
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
        text = _CN_DATE.sub(r"\1-\2-\3", _nfkc(value) or "")
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


def parse_boolean(value: Any, col: ColumnSpec | None = None) -> bool:
    if isinstance(value, bool):
        return value
    text = (_nfkc(value) or "").lower()
    if text in TRUE_WORDS:
        return True
    if text in FALSE_WORDS:
        return False
    raise reject("boolean", f"{value!r} is not 是/否", f"{value!r} 应为 是/否")


def parse_enum(text: str, col: ColumnSpec) -> str:
    allowed = _enum_lookup(col.enum or ())
    canonical = allowed.get(unicodedata.normalize("NFKC", text))
    if canonical is None:
        raise reject("enum", f"{text!r} is not one of {', '.join(col.enum or ())}",
                     f"{text!r} 不在允许值内：{'、'.join(col.enum or ())}")
    return canonical


@lru_cache(maxsize=256)
def _enum_lookup(values: tuple[str, ...]) -> dict[str, str]:
    return {unicodedata.normalize("NFKC", v): v for v in values}


def parse_text(value: Any, col: ColumnSpec) -> str:
    text = clean_text(value) or ""
    if isinstance(value, float) and value.is_integer():
        text = str(int(value))  # Excel turns codes like 511402 into 511402.0
    return parse_enum(text, col) if col.enum else text


def parse_division_code(value: Any, col: ColumnSpec | None = None) -> str:
    text = _code(value)
    if not text.isdigit() or text not in division_codes():
        raise reject("division_code", f"{value!r} is not a division code in the reference (ref_divisions)",
                     f"{value!r} 不是区划参考表中的代码")
    return text


@lru_cache(maxsize=1)
def division_codes() -> frozenset[str]:
    """Current division codes from the reference seed (historical ones are not valid here)."""
    with DIVISIONS_CSV.open(encoding="utf-8") as handle:
        return frozenset(row["division_code"] for row in csv.DictReader(handle)
                         if not row.get("level", "").endswith("historical"))


def parse_uscc(value: Any, col: ColumnSpec | None = None) -> str:
    code = _code(value).upper()
    if len(code) != 18 or not set(code) <= USCC_CHARS:
        raise reject("uscc", f"{value!r} is not an 18-character unified social credit code",
                     f"{value!r} 不是18位统一社会信用代码")
    if uscc_check_char(code[:17]) != code[17]:
        raise ValueWarning("uscc_check_char", f"{code}: check character does not match (early pilot code?)",
                           f"{code}：校验位不符（可能为早期试点代码）", code)
    return code


def parse_id_number(value: Any, col: ColumnSpec | None = None) -> str:
    """GB 11643: 17 digits + check digit, a real birth date, a province prefix.

    The prefix is checked to province level only: numbers keep the county code of the
    place of issue, including abolished ones (彭山县 511422 before 2014), so the
    current division reference cannot be used to refuse them.
    """
    code = _code(value).upper()
    if not re.fullmatch(r"\d{17}[\dX]", code):
        raise reject("id_number", "not an 18-character resident ID number", "不是18位居民身份证号")
    if code[:2] not in PROVINCE_PREFIXES:
        raise reject("id_number", "the region prefix is not a Chinese province", "身份证号地区码无效")
    try:
        birth = dt.date(int(code[6:10]), int(code[10:12]), int(code[12:14]))
    except ValueError as exc:
        raise reject("id_number", "the embedded birth date is not a real date", "身份证号中的出生日期无效") from exc
    if not dt.date(1900, 1, 1) <= birth <= DATE_MAX:
        raise reject("id_number", "the embedded birth date is out of range", "身份证号中的出生日期超出范围")
    if id_check_digit(code[:17]) != code[17]:
        raise reject("id_number", "the check digit does not match", "身份证号校验位错误")
    return code


def parse_phone(value: Any, col: ColumnSpec | None = None) -> str:
    text = (_nfkc(value if not isinstance(value, float) else int(value)) or "").replace(" ", "")
    if text.startswith("+86"):
        text = text[3:]
    if not _PHONE_RE.match(text):
        raise reject("phone", "not a mobile (11 digits) or landline number", "不是有效的手机或固定电话号码")
    return text


def parse_list(value: Any, col: ColumnSpec) -> list[str]:
    if isinstance(value, list):
        items = [clean_text(v) for v in value]
    else:
        text = unicodedata.normalize("NFKC", clean_text(value) or "")
        separators = {col.separator or ";", "；", "、", ";"}
        for sep in separators:
            text = text.replace(sep, "\x1f")
        items = [clean_text(part) for part in text.split("\x1f")]
    values = [item for item in items if item]
    return [parse_enum(item, col) for item in values] if col.enum else values


def parse_json(value: Any, col: ColumnSpec | None = None) -> Any:
    """Nested JSON (parties, escalations) is kept as a structure for a jsonb column."""
    if isinstance(value, (list, dict)):
        return Jsonb(value)
    try:
        return Jsonb(json.loads(str(value)))
    except json.JSONDecodeError as exc:
        raise reject("json", f"not valid JSON: {exc.msg}", "不是有效的 JSON") from exc


PARSERS: dict[str, Callable[[Any, ColumnSpec], Any]] = {
    "text": parse_text,
    "integer": parse_integer,
    "decimal": parse_decimal,
    "date": parse_date,
    "timestamp": parse_timestamp,
    "boolean": parse_boolean,
    "division_code": parse_division_code,
    "uscc": parse_uscc,
    "id_number": parse_id_number,
    "phone": parse_phone,
    "list": parse_list,
    "json": parse_json,
}


def is_missing(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip(_WHITESPACE)
    if isinstance(value, list):
        return not value
    return False


class RowValidator:
    """Validates one row of a feed at a time; collects errors and warnings per column."""

    def __init__(self, spec: FeedSpec):
        self.spec = spec
        self.plan = [(col, PARSERS[col.type]) for col in spec.columns]

    def validate(self, values: dict[str, Any]) -> tuple[list[Any], list[tuple[str, ValueRejected]],
                                                       list[tuple[str, ValueWarning]]]:
        out: list[Any] = []
        errors: list[tuple[str, ValueRejected]] = []
        warnings: list[tuple[str, ValueWarning]] = []
        for col, parse in self.plan:
            raw = values.get(col.name)
            if is_missing(raw):
                if col.required:
                    errors.append((col.name, reject("required", f"{col.header} ({col.name}) is required",
                                                    f"{col.header} 为必填项")))
                out.append(None)
                continue
            try:
                out.append(parse(raw, col))
            except ValueRejected as exc:
                errors.append((col.name, exc))
                out.append(None)
            except ValueWarning as warning:
                warnings.append((col.name, warning))
                out.append(warning.value)
        return out, errors, warnings
