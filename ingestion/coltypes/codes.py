"""Types `division_code`, `uscc`, `id_number` and `phone`: codes with a checkable structure."""
from __future__ import annotations

import csv
import datetime as dt
import re
from functools import lru_cache
from typing import Any

from ingestion.checksums import USCC_CHARSET, id_check_digit, is_valid_uscc, uscc_check_char
from ingestion.coltypes.base import (
    DATE_MAX,
    FastPath,
    TypeRule,
    VectorCheck,
    code_text,
    copy_escape,
    fixed_width,
    identity_map,
    nfkc,
    no_fast,
    reject,
)
from ingestion.coltypes.dates import date_regex, valid_compact_dates
from ingestion.errors import ValueWarning
from ingestion.registry import ColumnSpec
from warehouse.settings import REPO_ROOT

DIVISIONS_CSV = REPO_ROOT / "dbt_project" / "seeds" / "ref_divisions.csv"
USCC_CHARS = set("0123456789ABCDEFGHJKLMNPQRTUWXY")
PROVINCE_PREFIXES = {str(p) for p in (11, 12, 13, 14, 15, 21, 22, 23, 31, 32, 33, 34, 35, 36, 37, 41, 42, 43,
                                      44, 45, 46, 50, 51, 52, 53, 54, 61, 62, 63, 64, 65, 71, 81, 82)}
_PHONE_RE = re.compile(r"^(?:1[3-9]\d{9}|0\d{2,3}-?\d{7,8})$")
_ASCII_PHONE = re.compile(r"1[3-9][0-9]{9}|0[0-9]{2,3}-?[0-9]{7,8}")
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
_USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


# division_code ------------------------------------------------------------------

def parse_division_code(value: Any, col: ColumnSpec | None = None) -> str:
    text = code_text(value)
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


def fast_division_code(col: ColumnSpec) -> FastPath:
    return identity_map(division_codes()).get


# uscc ---------------------------------------------------------------------------

def parse_uscc(value: Any, col: ColumnSpec | None = None) -> str:
    code = code_text(value).upper()
    if len(code) != 18 or not set(code) <= USCC_CHARS:
        raise reject("uscc", f"{value!r} is not an 18-character unified social credit code",
                     f"{value!r} 不是18位统一社会信用代码")
    if uscc_check_char(code[:17]) != code[17]:
        raise ValueWarning("uscc_check_char", f"{code}: check character does not match (early pilot code?)",
                           f"{code}：校验位不符（可能为早期试点代码）", code)
    return code


# id_number ----------------------------------------------------------------------

def parse_id_number(value: Any, col: ColumnSpec | None = None) -> str:
    """GB 11643: 17 digits + check digit, a real birth date, a province prefix.

    The prefix is checked to province level only: numbers keep the county code of the
    place of issue, including abolished ones (彭山县 511422 before 2014), so the
    current division reference cannot be used to refuse them.
    """
    code = code_text(value).upper()
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


@lru_cache(maxsize=1)
def _id_chunk_tables() -> tuple[dict[str, int], ...]:
    """Weighted sums of every 4-digit chunk of an ID number: 5 lookups instead of 17 multiplications."""
    tables = []
    for start in range(0, 17, 4):
        weights = _ID_WEIGHTS[start:start + 4]
        width = len(weights)
        tables.append({f"{n:0{width}d}": sum(int(d) * w for d, w in zip(f"{n:0{width}d}", weights, strict=True))
                       for n in range(10**width)})
    return tuple(tables)


def id_check_ok(value: str) -> bool:
    """The GB 11643 check digit of 18 ASCII characters (17 digits first), by table lookups."""
    t0, t1, t2, t3, t4 = _id_chunk_tables()
    return _ID_CHECK[(t0[value[:4]] + t1[value[4:8]] + t2[value[8:12]] + t3[value[12:16]] + t4[value[16]]) % 11] \
        == value[17]


def fast_id_number(col: ColumnSpec) -> FastPath:
    births = valid_compact_dates()

    def fast(value: str) -> str | None:
        if (len(value) == 18 and value.isascii() and value[:17].isdigit() and value[:2] in PROVINCE_PREFIXES
                and value[6:14] in births and id_check_ok(value)):
            return value
        return None

    return fast


def line_id_number(col: ColumnSpec):
    """Province prefix, county, real birth date, sequence; then the check digit."""
    provinces = "|".join(sorted(PROVINCE_PREFIXES))
    return f"(?:{provinces})[0-9]{{4}}{date_regex('')}[0-9]{{3}}[0-9X]", id_check_ok


# phone --------------------------------------------------------------------------

def parse_phone(value: Any, col: ColumnSpec | None = None) -> str:
    text = (nfkc(value if not isinstance(value, float) else int(value)) or "").replace(" ", "")
    if text.startswith("+86"):
        text = text[3:]
    if not _PHONE_RE.match(text):
        raise reject("phone", "not a mobile (11 digits) or landline number", "不是有效的手机或固定电话号码")
    return text


def fast_phone(col: ColumnSpec) -> FastPath:
    match = _ASCII_PHONE.fullmatch

    def fast(value: str) -> str | None:
        return value if match(value) else None

    return fast


# vectorised checks (vector.py): the same checks as `line`, on a polars column of canonical texts ------

def vector_division_code(col: ColumnSpec) -> VectorCheck:
    import polars as pl

    codes = pl.Series(sorted(division_codes()), dtype=pl.String)
    return lambda values: values.is_in(codes).fill_null(False).to_numpy()


def vector_uscc(col: ColumnSpec) -> VectorCheck:
    """GB 32100 check character, as `is_valid_uscc`: 17 weighted alphabet positions per row, in numpy."""
    import numpy as np

    position = np.full(256, -10_000, dtype=np.int64)  # a byte outside the alphabet makes the sum fail
    position[np.frombuffer(USCC_CHARSET.encode(), dtype=np.uint8)] = np.arange(len(USCC_CHARSET))
    alphabet = np.frombuffer(USCC_CHARSET.encode(), dtype=np.uint8)
    weights = np.array(_USCC_WEIGHTS, dtype=np.int64)

    def check(values):
        mask, codes = fixed_width(values, 18)
        total = position[codes[:, :17]] @ weights
        ok = (total >= 0) & (alphabet[(31 - total % 31) % 31] == codes[:, 17])
        result = np.zeros(len(values), dtype=bool)
        result[mask] = ok
        return result

    return check


def vector_id_number(col: ColumnSpec) -> VectorCheck:
    """GB 11643 check digit, as `id_check_ok`: 17 weighted digits per row, in numpy."""
    import numpy as np

    check_chars = np.frombuffer(_ID_CHECK.encode(), dtype=np.uint8)
    weights = np.array(_ID_WEIGHTS, dtype=np.int64)

    def check(values):
        mask, codes = fixed_width(values, 18)
        digits = codes[:, :17].astype(np.int64) - ord("0")
        ok = ((digits >= 0) & (digits <= 9)).all(axis=1) & (check_chars[(digits @ weights) % 11] == codes[:, 17])
        result = np.zeros(len(values), dtype=bool)
        result[mask] = ok
        return result

    return check


DIVISION_CODE = TypeRule(parse=parse_division_code, format=copy_escape, fast=fast_division_code,
                         line=lambda col: ("[0-9]{6,12}", division_codes().__contains__), vector=vector_division_code)
# A check-character mismatch is a warning, so the USCC has no per-value fast path; a whole
# line only takes the fast path when the check character is right.
USCC = TypeRule(parse=parse_uscc, format=copy_escape, fast=no_fast,
                line=lambda col: ("[0-9A-HJ-NPQRTUWXY]{18}", is_valid_uscc), vector=vector_uscc)
ID_NUMBER = TypeRule(parse=parse_id_number, format=copy_escape, fast=fast_id_number, line=line_id_number,
                     vector=vector_id_number)
PHONE = TypeRule(parse=parse_phone, format=copy_escape, fast=fast_phone,
                 line=lambda col: (r"1[3-9][0-9]{9}|0[0-9]{2,3}-?[0-9]{7,8}", None))
