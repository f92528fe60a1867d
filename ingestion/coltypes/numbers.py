"""Types `integer` and `decimal` (two places, 万元 amounts), with the spec's min/max."""
from __future__ import annotations

import math
import re
from decimal import Decimal, InvalidOperation
from typing import Any

from ingestion.coltypes.base import FastPath, TypeRule, VectorCheck, nfkc, no_fast, reject
from ingestion.registry import ColumnSpec

_NUMBER_RE = re.compile(r"^-?\d+(?:\.\d+)?$")
_ASCII_INT = re.compile(r"-?[0-9]{1,18}")
_ASCII_DECIMAL = re.compile(r"[0-9]{1,16}(?:\.[0-9]{1,2})?")
LINE_UNSIGNED_INT = r"[0-9]{1,18}"
LINE_UNSIGNED_DECIMAL = r"[0-9]{1,16}(?:\.[0-9]{1,2})?"


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
        text = (nfkc(value) or "").replace(",", "").replace(" ", "")
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
        text = (nfkc(value) or "").replace(",", "").replace(" ", "").replace("，", "")
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


def fast_integer(col: ColumnSpec) -> FastPath:
    low = -(10**18) if col.min is None else col.min
    high = 10**18 if col.max is None else col.max

    def fast(value: str) -> str | None:
        if _ASCII_INT.fullmatch(value):
            number = int(value)
            if low <= number <= high:
                return str(number)
        return None

    return fast


def fast_decimal(col: ColumnSpec) -> FastPath:
    if col.max is not None or (col.min is not None and col.min > 0):
        return no_fast(col)  # bounded amounts are rare: the exact Decimal check is the only path
    match = _ASCII_DECIMAL.fullmatch

    def fast(value: str) -> str | None:
        return value if match(value) else None

    return fast


def line_integer(col: ColumnSpec):
    low, high = col.min, col.max
    if (low is None or low <= 0) and high is None:
        return LINE_UNSIGNED_INT, None
    return LINE_UNSIGNED_INT, lambda v: (low is None or int(v) >= low) and (high is None or int(v) <= high)


def line_decimal(col: ColumnSpec):
    low, high = col.min, col.max
    if (low is None or low <= 0) and high is None:
        return LINE_UNSIGNED_DECIMAL, None
    return LINE_UNSIGNED_DECIMAL, lambda v: ((low is None or Decimal(v) >= Decimal(str(low)))
                                             and (high is None or Decimal(v) <= Decimal(str(high))))


_INT64 = (-(2**63), 2**63 - 1)


def _bounds(col: ColumnSpec, scale: int) -> tuple[int, int]:
    """The spec's min/max as whole multiples of 1/scale, exactly (Decimal of the spec's text), clamped to int64."""
    low = _INT64[0] if col.min is None else math.ceil(Decimal(str(col.min)) * scale)
    high = _INT64[1] if col.max is None else math.floor(Decimal(str(col.max)) * scale)
    return max(low, _INT64[0]), min(high, _INT64[1])


def vector_integer(col: ColumnSpec) -> VectorCheck:
    """`line_integer`'s range check on a column: up to 18 digits always fit an int64."""
    import polars as pl

    low, high = _bounds(col, 1)
    return lambda values: values.cast(pl.Int64, strict=False).is_between(low, high).fill_null(False).to_numpy()


def vector_decimal(col: ColumnSpec) -> VectorCheck:
    """`line_decimal`'s range check in whole cents: up to 16 digits and 2 decimals always fit an int64."""
    import polars as pl

    low, high = _bounds(col, 100)

    def check(values: pl.Series) -> object:
        parts = values.str.split_exact(".", 1).struct
        whole = parts.field("field_0").cast(pl.Int64, strict=False)
        cents = parts.field("field_1").fill_null("").str.pad_end(2, "0").cast(pl.Int64, strict=False)
        return (whole * 100 + cents).is_between(low, high).fill_null(False).to_numpy()

    return check


INTEGER = TypeRule(parse=parse_integer, format=str, fast=fast_integer, line=line_integer, vector=vector_integer)
DECIMAL = TypeRule(parse=parse_decimal, format=str, fast=fast_decimal, line=line_decimal, vector=vector_decimal)
