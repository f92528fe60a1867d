"""Column labels for Superset: the Chinese part of a PostgreSQL comment "English; 中文"."""
from __future__ import annotations

import pytest

from infra.bi.setup_superset import chinese_label


@pytest.mark.parametrize(("comment", "label"), [
    ("Community (社区) division code, 12 digits; 社区代码", "社区代码"),
    ("Contract amounts of non-terminated purchase projects, 万元; 购买服务金额(万元)", "购买服务金额(万元)"),
    ("Share of resolved cases; settled in the grid; 网格内化解率", "网格内化解率"),
    ("Full-width separator；统计月份", "统计月份"),
    ("English only", None),
    (None, None),
])
def test_chinese_label(comment, label):
    assert chinese_label(comment) == label
