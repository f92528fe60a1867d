"""The PII gate on real PostgreSQL: organisation-code columns by contract, cards in free text.

A 统一社会信用代码 column (dbt column meta `code_type: uscc`) may hold an all-digit code with
a wrong check character that passes Luhn by chance: that is no bank card. The same digits
in free text, a 16- or 19-digit card in any column, and an ID number anywhere still block.
"""
from __future__ import annotations

import itertools

from ingestion.checksums import is_valid_uscc
from warehouse.checks import organisation_code_columns, pii_scan


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
