"""Each type's vector check (TypeRule.vector) agrees with its per-value line check on every sample."""
from __future__ import annotations

import re

import polars as pl
import pytest

from ingestion.checksums import id_check_digit, uscc_check_char
from ingestion.coltypes import RULES
from ingestion.registry import ColumnSpec


def _id(body: str) -> str:
    return body + id_check_digit(body)


def _uscc(body: str) -> str:
    return body + uscc_check_char(body)


CASES = {
    "id_number": (dict(), [_id("51142319940103087"), _id("11010519491231002"), "511423199401030876",
                           "51142319940103087X", _id("51142319940103087")[:17] + "Y", "5114231994010308", ""]),
    "uscc": (dict(), [_uscc("91511400MA62H1B2X"), _uscc("12511400000000000"), "91511400MA62H1B2X0",
                      "91511400MA62H1B2XZ", "9151140", ""]),
    "division_code": (dict(), ["511402", "511402001", "999999", "511422", ""]),
    "integer": (dict(min=1, max=100), ["1", "0", "100", "101", "000100", "999999999999999999", "50"]),
    "decimal": (dict(min=0.5, max=1000.25), ["0.5", "0.49", "0.50", "1000.25", "1000.26", "1000.2", "7",
                                             "9999999999999999.99", "0"]),
}


@pytest.mark.parametrize("kind", sorted(CASES))
def test_vector_check_agrees_with_the_line_check(kind):
    options, samples = CASES[kind]
    col = ColumnSpec(name="c", header="列", type=kind, **options)
    rule = RULES[kind]
    pattern, check = rule.line(col)
    vector = rule.vector(col)
    assert check is not None and vector is not None
    values = [s for s in samples if re.fullmatch(pattern, s)]  # the checks only see what the pattern matched
    got = list(vector(pl.Series(values, dtype=pl.String)))
    assert got == [bool(check(v)) for v in values], list(zip(values, got, strict=True))
    assert True in got and False in got  # the samples test both outcomes
