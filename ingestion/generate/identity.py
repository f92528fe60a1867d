"""Fake but valid identities: names, phones, ID numbers, credit codes.

Everything a validator checks (check characters, birth dates, region prefixes,
phone prefixes) is real; only the people and organisations are invented.
"""

from __future__ import annotations

import datetime as dt
import random

from ingestion.checksums import id_check_digit, uscc_check_char

_SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶程苏魏"
    "吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏付方白邹孟熊秦邱江尹薛段雷侯龙史陶黎贺顾毛郝龚邵万严"
)
_GIVEN = (
    "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超兰霞平刚桂华建国文红玉凤林辉鹏琳婷雪梅晨宇浩然欣怡涵俊"
    "志海燕春德永成蓉川蜀岷秀英翠云小清慧佳思雨嘉晓琴丹萍利亮斌飞波鑫"
)
_PHONE_PREFIXES = (
    "130 131 132 133 134 135 136 137 138 139 150 151 152 153 155 156 157 158 159 "
    "170 173 175 176 177 178 180 181 182 183 184 185 186 187 188 189 191 198 199"
).split()


def person_name(rng: random.Random) -> str:
    """A two- or three-character Chinese name."""
    given = rng.choice(_GIVEN) if rng.random() < 0.3 else rng.choice(_GIVEN) + rng.choice(_GIVEN)
    return rng.choice(_SURNAMES) + given


def phone(rng: random.Random) -> str:
    """An 11-digit mobile number with a real 13x/15x/17x/18x/19x prefix."""
    return rng.choice(_PHONE_PREFIXES) + f"{rng.randrange(100_000_000):08d}"


def id_number(
    rng: random.Random,
    regions: list[str],
    born_from: dt.date = dt.date(1950, 1, 1),
    born_to: dt.date = dt.date(2003, 1, 1),
) -> str:
    """A GB 11643-1999 ID number: region prefix, birth date, sequence, check digit."""
    born = born_from + dt.timedelta(days=rng.randrange((born_to - born_from).days))
    body = f"{rng.choice(regions)}{born:%Y%m%d}{rng.randrange(1, 1000):03d}"
    return body + id_check_digit(body)


def _org_code(rng: random.Random) -> str:
    """A GB 11714 organisation code: 8 digits and its MOD 11 check character."""
    body = f"{rng.randrange(10**8):08d}"
    total = sum(int(ch) * w for ch, w in zip(body, (3, 7, 9, 10, 5, 8, 4, 2), strict=True))
    check = 11 - total % 11
    return body + {10: "X", 11: "0"}.get(check, str(check))


def uscc(rng: random.Random, authority_and_type: str, region: str) -> str:
    """A GB 32100-2015 unified social credit code.

    ``authority_and_type`` is the two-character prefix: 51/52 for social
    organisations registered with civil affairs, 91 for enterprises.
    """
    body = f"{authority_and_type}{region}{_org_code(rng)}"
    return body + uscc_check_char(body)
