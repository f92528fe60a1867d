"""The fast paths accept only what the general parser would store identically."""
from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal

import pytest

from ingestion.encode import NULL, column_encoder, copy_escape, fast_path
from ingestion.errors import ValueRejected, ValueWarning
from ingestion.fastrow import row_matcher
from ingestion.read import build_layout, map_headers
from ingestion.registry import ColumnSpec, get_spec
from ingestion.validate import PARSERS

SAMPLES = {
    "text": ["abc", " abc", "abc\u3000", "a\\b", "a\tb", "", "中文 名称", "\ufeffx"],
    "integer": ["5", "-5", "007", "1,200", "１２", "5.0", "99999999999999999999"],
    "decimal": ["1", "1.5", "1.50", "1.505", "-1", "1,000.00", "０.５", ".5"],
    "date": ["2021-03-05", "2021-02-29", "2020-02-29", "1900-02-29", "2000-02-29", "2021-3-5", "1899-12-31"],
    "timestamp": ["2021-03-05T10:00:00+08:00", "2021-03-05 10:00:00", "2021-03-05T24:00:00Z", "2021-02-30T10:00:00Z",
                  "2021-03-05T10:00:00.123456+05:30", "2021-03-05T10:00"],
    "boolean": ["是", "否", "Y", "true", "0", "maybe"],
    "division_code": ["511402", "511402001001", "511422", "999999", " 511402"],
    "id_number": ["511402195901047315", "51142219590104731X", "511402195902307315", "011402195901047315",
                  "51140219590104731x", "511402195901047316"],
    "phone": ["13812345678", "028-12345678", "12345", "+8613812345678"],
}


def _column(kind: str) -> ColumnSpec:
    return ColumnSpec(name="c", header="列", type=kind, min=0 if kind in ("integer", "decimal") else None)


def _slow(col: ColumnSpec, value: str):
    return PARSERS[col.type](value, col)


@pytest.mark.parametrize("kind", sorted(SAMPLES))
def test_fast_path_agrees_with_the_general_parser(kind):
    col = _column(kind)
    fast = fast_path(col)
    for value in SAMPLES[kind]:
        text = fast(value)
        if text is None:
            continue
        typed = _slow(col, value)  # must not raise: the fast path never accepts a bad value
        if kind == "timestamp":
            assert dt.datetime.fromisoformat(text) == typed, value
        elif kind == "boolean":
            assert text == ("t" if typed else "f")
        elif kind == "decimal":
            assert Decimal(text) == typed
        elif kind == "integer":
            assert int(text) == typed
        else:
            assert text == copy_escape(str(typed)), value


def test_encoder_rejects_warns_and_nulls():
    required = ColumnSpec(name="c", header="列", type="text", required=True)
    with pytest.raises(ValueRejected) as missing:
        column_encoder(required)("\u3000")
    assert missing.value.rule == "required"
    assert column_encoder(_column("date"))("") == NULL
    with pytest.raises(ValueWarning):
        column_encoder(ColumnSpec(name="u", header="u", type="uscc"))("52511423620162000A")
    assert column_encoder(_column("text"))("a\tb\\c") == "a\\tb\\\\c"


def test_whole_line_matcher_accepts_only_canonical_lines():
    spec = get_spec("service_transactions")
    headers = [c.header for c in spec.columns]
    layout = build_layout(spec, headers, map_headers(spec, headers))
    matcher = row_matcher(spec, layout)
    assert matcher is not None
    good = "BJ1,MS010-JF-0020,2021-07-27T08:52:46+08:00,,5,窗口,511402195901047315\n"
    bad = [
        "BJ1,MS010-JF-0020,2021-02-29T08:52:46+08:00,,5,窗口,511402195901047315\n",  # no such day
        "BJ1,MS010-JF-0020,2021-07-27T08:52:46,,5,窗口,511402195901047315\n",  # no offset: general path
        "BJ1,MS010-JF-0020,2021-07-27T08:52:46+08:00,,-5,窗口,511402195901047315\n",
        "BJ1,MS010-JF-0020,2021-07-27T08:52:46+08:00,,5,柜台,511402195901047315\n",
        "BJ1, MS010,2021-07-27T08:52:46+08:00,,5,窗口,511402195901047315\n",
        '"BJ1",MS010,2021-07-27T08:52:46+08:00,,5,窗口,511402195901047315\n',
        ",MS010,2021-07-27T08:52:46+08:00,,5,窗口,511402195901047315\n",  # required key empty
    ]
    found = matcher.match(good)
    assert found and all(check(found.groups()[i]) for i, check in matcher.checks)
    wrong_check = good.replace("7315", "7316")
    found = matcher.match(wrong_check)
    assert found and not all(check(found.groups()[i]) for i, check in matcher.checks)
    for line in bad:
        assert matcher.match(line) is None, line
    encoders = [column_encoder(c) for c in spec.columns]
    cells = next(csv.reader(io.StringIO(good)))
    assert [e(v) for e, v in zip(encoders, cells, strict=True)][2] == "2021-07-27T08:52:46+08:00"


def test_no_whole_line_path_when_the_file_differs_from_the_contract():
    spec = get_spec("service_transactions")
    headers = [c.header for c in spec.columns]
    swapped = [headers[1], headers[0], *headers[2:]]
    assert row_matcher(spec, build_layout(spec, swapped, map_headers(spec, swapped))) is None
    extra = [*headers, "备注"]
    assert row_matcher(spec, build_layout(spec, extra, map_headers(spec, extra))) is None
    booleans = get_spec("residential_compounds")
    names = [c.header for c in booleans.columns]
    assert row_matcher(booleans, build_layout(booleans, names, map_headers(booleans, names))) is None
