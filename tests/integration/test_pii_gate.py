"""The PII gate on real PostgreSQL: organisation-code columns by contract, cards in free text.

A 统一社会信用代码 column (dbt column meta `code_type: uscc`) may hold an all-digit code with
a wrong check character that passes Luhn by chance: that is no bank card. The same digits
in free text, a 16- or 19-digit card in any column, and an ID number anywhere still block.
"""
from __future__ import annotations

import itertools

from ingestion.checksums import is_valid_uscc
from warehouse.checks import PII_CANDIDATE, PII_PREFILTER, organisation_code_columns, pii_scan


def _luhn_ok(digits: str) -> bool:
    total = 0
    for position, digit in enumerate(int(d) for d in reversed(digits)):
        total += digit if position % 2 == 0 else (digit * 2) // 10 + (digit * 2) % 10
    return total % 10 == 0


def _card(length: int) -> str:
    body = "6222021" + "3" * (length - 8)
    return next(body + d for d in "0123456789" if _luhn_ok(body + d))


# An all-digit "USCC" of a dirty feed: wrong check character, passes Luhn (the false positive).
BAD_USCC = next(code for code in ("9151140200000" + "".join(t) for t in itertools.product("0123456789", repeat=5))
                if _luhn_ok(code) and not is_valid_uscc(code))
CARD_16, CARD_19 = _card(16), _card(19)
ID_NUMBER = "11010119900307777" + "10X98765432"[sum(int(d) * w for d, w in zip(
    "11010119900307777", (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2), strict=True)) % 11]


def _find(db, value: str, organisation_code: bool) -> str | None:
    return db.execute("select pii.find_pii(%s, %s)", (value, organisation_code)).fetchone()[0]


def test_an_organisation_code_column_reads_no_18_digit_bank_card(db):
    assert _find(db, BAD_USCC, False) == "bank_card"  # the false positive, where nothing says it is a code
    assert db.execute("select pii.find_pii(%s)", (BAD_USCC,)).fetchone()[0] == "bank_card"
    assert _find(db, BAD_USCC, True) is None
    assert _find(db, CARD_16, True) == _find(db, CARD_19, True) == "bank_card"
    assert _find(db, ID_NUMBER, True) == "id_number"
    assert _find(db, f"开户行 工商银行 卡号 {CARD_19}", False) == "bank_card"


MANIFEST = {"nodes": {
    "model.governance.dim_demo_orgs": {"resource_type": "model", "name": "dim_demo_orgs", "alias": "dim_demo_orgs",
                                       "columns": {"uscc": {"name": "uscc", "config": {"meta": {"code_type": "uscc"}}},
                                                   "note": {"name": "note", "config": {"meta": {}}}}},
    "test.governance.x": {"resource_type": "test", "name": "x", "columns": {
        "note": {"name": "note", "meta": {"code_type": "uscc"}}}},
}}


def test_organisation_code_columns_come_from_dbt_column_meta():
    assert organisation_code_columns(MANIFEST) == {("dim_demo_orgs", "uscc")}
    assert organisation_code_columns(None) == set()


def test_pii_scan_exempts_only_declared_code_columns_and_still_blocks_cards_in_text(db):
    db.execute("create schema marts_pii_test")
    db.execute("create table marts_pii_test.dim_demo_orgs (uscc text, note text)")
    db.execute("insert into marts_pii_test.dim_demo_orgs values (%s, 'ok'), ('915114020000000001', %s)",
               (BAD_USCC, f"请汇入 {CARD_16}"))
    [check] = pii_scan(db, "marts_pii_test", {"dim_demo_orgs"}, manifest=MANIFEST)
    assert check.status == "fail" and check.failures == 1
    assert set(check.details["hits"]) == {"note"} and check.details["organisation_code_columns"] == ["uscc"]
    assert CARD_16 not in check.message and BAD_USCC not in check.message
    [undeclared] = pii_scan(db, "marts_pii_test", {"dim_demo_orgs"})  # no contract: the code reads as a card
    assert set(undeclared.details["hits"]) == {"uscc", "note"}
    db.execute("update marts_pii_test.dim_demo_orgs set note = 'ok'")
    [clean] = pii_scan(db, "marts_pii_test", {"dim_demo_orgs"}, manifest=MANIFEST)
    assert clean.status == "pass"


def test_the_candidate_prefilter_passes_every_value_find_pii_flags_and_no_division_code(db):
    """The scan examines only texts matching both prefilters: every value find_pii flags must match them
    (else PII would slip through unexamined), and the 12-digit division codes must not (the speed)."""
    flagged = [ID_NUMBER, ID_NUMBER[:-1] + "x" if ID_NUMBER.endswith("X") else ID_NUMBER, CARD_16, CARD_19, BAD_USCC,
               "13812345678", "138-1234-5678", "138 1234 5678", f"联系人张三{ID_NUMBER}。", "tel:13912345678;",
               f"卡号 {CARD_19}", _card(17), _card(18)]
    not_candidates = ["110101001001", "510114002003", "91511402MA6XXXXXX1", "a13812345678", "138123456789",
                      "12345678", "联系电话 0838-1234567", "f" * 64]
    rows = db.execute(
        "select v, pii.find_pii(v, false), v ~ %s and v ~ %s from unnest(%s::text[]) as v",
        (PII_PREFILTER, PII_CANDIDATE, flagged + not_candidates)).fetchall()
    result = {value: (kind, candidate) for value, kind, candidate in rows}
    for value in flagged:
        assert result[value][0] is not None and result[value][1], value
    for value in not_candidates:
        assert result[value] == (None, False), value
    # Random digit runs with separators and neighbours: a flagged value is always a candidate.
    flagged_count, missed = db.execute(
        "select count(*) filter (where kind is not null), "
        "count(*) filter (where kind is not null and not (v ~ %s and v ~ %s)) "
        "from (select v, pii.find_pii(v, false) as kind from (select concat_ws(s, "
        "lpad((random() * 1e9)::bigint::text, 9, '1'), lpad((random() * 1e10)::bigint::text, (8 + n %% 12)::int, '0')) as v "
        "from generate_series(1, 20000) as n, "
        "lateral (select (array['', ' ', '-', 'x', '号'])[1 + n %% 5] as s) as sep) as t) as found",
        (PII_PREFILTER, PII_CANDIDATE)).fetchone()
    assert flagged_count > 100 and missed == 0
