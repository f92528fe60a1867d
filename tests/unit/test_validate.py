"""Values as people type them: normalised when unambiguous, rejected with a reason otherwise."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from ingestion.coltypes.boolean import parse_boolean
from ingestion.coltypes.codes import parse_division_code, parse_id_number, parse_phone, parse_uscc
from ingestion.coltypes.dates import parse_date, parse_timestamp
from ingestion.coltypes.numbers import parse_decimal, parse_integer
from ingestion.coltypes.structured import parse_list
from ingestion.coltypes.text import parse_text
from ingestion.errors import ValueRejected, ValueWarning
from ingestion.registry import ColumnSpec, get_spec
from ingestion.validate import RowValidator

AMOUNT = ColumnSpec(name="amount", header="金额", type="decimal", min=0)
COUNT = ColumnSpec(name="n", header="数", type="integer", min=0)


@pytest.mark.parametrize("typed", ["2021-03-05", "2021/3/5", "2021年3月5日", "20210305", 44260, "44260",
                                   dt.datetime(2021, 3, 5, 10, 0), "２０２１-０３-０５", "\u30002021-03-05 "])
def test_dates_as_people_type_them(typed):
    assert parse_date(typed) == dt.date(2021, 3, 5)


@pytest.mark.parametrize("typed, rule", [("2021-02-30", "date"), ("05/03/2021", "date"), ("1850-01-01", "date_range"),
                                          ("yesterday", "date")])
def test_ambiguous_or_wrong_dates_are_rejected(typed, rule):
    with pytest.raises(ValueRejected) as excinfo:
        parse_date(typed)
    assert excinfo.value.rule == rule and excinfo.value.reason_zh


@pytest.mark.parametrize("typed, expected", [("1,234.5", "1234.50"), ("１２３．５", "123.50"), (12.25, "12.25"),
                                             ("7093.2", "7093.20"), (" 0 ", "0.00")])
def test_amounts(typed, expected):
    assert parse_decimal(typed, AMOUNT) == Decimal(expected)


@pytest.mark.parametrize("typed, rule", [("-1", "negative"), ("1.234", "precision"), ("12万", "type"), (True, "type")])
def test_bad_amounts(typed, rule):
    with pytest.raises(ValueRejected) as excinfo:
        parse_decimal(typed, AMOUNT)
    assert excinfo.value.rule == rule


def test_integers_and_booleans():
    assert parse_integer("１,２００", COUNT) == 1200 and parse_integer(12.0, COUNT) == 12
    with pytest.raises(ValueRejected):
        parse_integer(1.5, COUNT)
    assert parse_boolean("是") is True and parse_boolean(" 否 ") is False and parse_boolean("Y") is True
    with pytest.raises(ValueRejected):
        parse_boolean("也许")


def test_timestamps_default_to_feed_local_time():
    assert parse_timestamp("2021-03-05 09:30") == dt.datetime(2021, 3, 5, 9, 30, tzinfo=dt.timezone(dt.timedelta(hours=8)))
    assert parse_timestamp("2021-03-05T01:30:00Z").utcoffset() == dt.timedelta(0)
    with pytest.raises(ValueRejected):
        parse_timestamp("2021-13-05 09:30")


def test_uscc_check_character_mismatch_is_a_warning_not_a_rejection():
    assert parse_uscc("91350100M000100Y43") == "91350100M000100Y43"
    with pytest.raises(ValueWarning) as excinfo:
        parse_uscc("91350100M000100Y44")
    assert excinfo.value.value == "91350100M000100Y44"
    with pytest.raises(ValueRejected):
        parse_uscc("91350100M000100Y4")  # 17 characters


def test_id_numbers():
    assert parse_id_number("11010519491231002x") == "11010519491231002X"
    for bad in ["110105194912310021", "11010519491331002X", "99010519491231002X", "1101051949123100"]:
        with pytest.raises(ValueRejected):
            parse_id_number(bad)


def test_historical_division_prefix_is_valid_in_id_numbers():
    from ingestion.checksums import id_check_digit

    body = "51142219850612123"  # 彭山县 511422, before it became 彭山区
    assert parse_id_number(body + id_check_digit(body)) == body + id_check_digit(body)


def test_division_codes_come_from_the_reference():
    assert parse_division_code("511402") == "511402"
    for bad in ["511499999", "511422", "abc"]:  # unknown; historical only as ID prefix; not digits
        with pytest.raises(ValueRejected):
            parse_division_code(bad)


def test_phones_lists_and_enums():
    assert parse_phone("138 0013 8000") == "13800138000" and parse_phone("028-12345678") == "028-12345678"
    with pytest.raises(ValueRejected):
        parse_phone("12345")
    col = ColumnSpec(name="c", header="跨域类型", type="list", separator=";", enum=("成德眉资通办", "川渝通办"))
    assert parse_list("川渝通办；成德眉资通办", col) == ["川渝通办", "成德眉资通办"]
    with pytest.raises(ValueRejected):
        parse_list("川渝通办;外星通办", col)
    enum_col = ColumnSpec(name="t", header="类型", type="text", enum=("小区(片区)党支部",))
    assert parse_text("小区（片区）党支部", enum_col) == "小区(片区)党支部"


def test_row_validator_collects_every_error_of_a_row():
    validator = RowValidator(get_spec("party_organizations"))
    values, errors, warnings = validator.validate({"org_code": " ", "org_type": "x", "division_code": "511402",
                                                   "status": "正常", "org_name": "n", "member_count": "-1"})
    assert sorted(column for column, _ in errors) == ["member_count", "org_code", "org_type"]
    assert warnings == [] and values[4] == "511402"
