"""Check characters of Chinese national identifiers.

Pure functions shared by the sample generator (to build valid codes) and the
validator (to reject corrupted ones), so both sides agree on one implementation.
"""

from __future__ import annotations

import datetime as dt

USCC_CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
"""GB 32100-2015 alphabet: digits and 21 letters (no I, O, S, V, Z)."""

_USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_USCC_VALUE = {ch: i for i, ch in enumerate(USCC_CHARSET)}

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"


def uscc_check_char(code17: str) -> str:
    """Return the 18th (check) character of a unified social credit code.

    GB 32100-2015《法人和其他组织统一社会信用代码编码规则》: each of the first 17
    characters maps to its index in ``0-9A-HJ-NPQRTUWXY`` (0..30), is weighted by
    1,3,9,27,19,26,16,17,20,29,25,13,8,24,10,30,28, and the check value is
    ``(31 - sum % 31) % 31`` mapped back through the same alphabet.

    Raises ValueError if the input is not 17 characters of that alphabet.
    """
    if len(code17) != 17:
        raise ValueError(f"expected 17 characters, got {len(code17)}")
    try:
        total = sum(_USCC_VALUE[ch] * w for ch, w in zip(code17, _USCC_WEIGHTS, strict=True))
    except KeyError as exc:
        raise ValueError(f"character {exc.args[0]!r} not allowed in a USCC") from None
    return USCC_CHARSET[(31 - total % 31) % 31]


def is_valid_uscc(code: str) -> bool:
    """True if ``code`` is 18 characters of the GB 32100-2015 alphabet with a correct check character."""
    if not isinstance(code, str) or len(code) != 18:
        return False
    try:
        return uscc_check_char(code[:17]) == code[17]
    except ValueError:
        return False


def id_check_digit(id17: str) -> str:
    """Return the 18th (check) character of a resident identity card number.

    GB 11643-1999《公民身份号码》(ISO 7064 MOD 11-2): the first 17 digits are
    weighted by 7,9,10,5,8,4,2,1,6,3,7,9,10,5,8,4,2; ``sum % 11`` indexes the
    string ``10X98765432``.

    Raises ValueError if the input is not 17 ASCII digits.
    """
    if len(id17) != 17 or not (id17.isascii() and id17.isdigit()):
        raise ValueError("expected 17 digits")
    total = sum(int(ch) * w for ch, w in zip(id17, _ID_WEIGHTS, strict=True))
    return _ID_CHECK[total % 11]


def is_valid_id_number(number: str) -> bool:
    """True if ``number`` has a correct GB 11643-1999 check digit and a real birth date.

    The region prefix is not checked here: that needs the division reference.
    """
    if not isinstance(number, str) or len(number) != 18:
        return False
    try:
        if id_check_digit(number[:17]) != number[17].upper():
            return False
        dt.date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        return False
    return True
