"""Check characters: the table-driven ID check used on the fast path agrees with the reference."""
from __future__ import annotations

import random

from ingestion.checksums import USCC_CHARSET, id_check_digit, is_valid_id_number, is_valid_uscc, uscc_check_char
from ingestion.encode import id_check_ok


def test_table_driven_id_check_matches_the_reference():
    rng = random.Random(7)
    for _ in range(5000):
        body = "".join(rng.choice("0123456789") for _ in range(17))
        digit = id_check_digit(body)
        assert id_check_ok(body + digit)
        assert not id_check_ok(body + next(c for c in "0123456789X" if c != digit))


def test_known_codes():
    assert is_valid_id_number("11010519491231002X")
    body = "51142219800101123"  # 彭山县 511422, abolished 2014, still valid on ID cards
    assert is_valid_id_number(body + id_check_digit(body))
    assert uscc_check_char("91350100M000100Y4") == "3"
    code = "52511423620162000" + uscc_check_char("52511423620162000")
    assert is_valid_uscc(code) and not is_valid_uscc(code[:17] + next(c for c in USCC_CHARSET if c != code[17]))
