"""Readers without a database: header mapping, title rows, sheets, encodings, JSON Lines."""
from __future__ import annotations

import codecs
from pathlib import Path

import pytest
from openpyxl import Workbook

from ingestion.errors import FileRejected
from ingestion.read import RowError, check_file, open_source
from ingestion.registry import get_spec

FUND = "拨付编号,资金来源部门,资金用途,社区代码,金额(万元),拨付日期\nBF1,市财政局,经费,511402001001,10.00,2021-10-10\n"


def _rows(spec, path: Path) -> list[tuple]:
    source = open_source(spec, path)
    return [(n, cells, layout) for n, cells, layout in source.rows]


def test_xlsx_title_rows_and_the_specs_sheet(tmp_path):
    workbook = Workbook()
    workbook.active.title = "说明"
    workbook.active.append(["这一页是说明"])
    data = workbook.create_sheet("数据")
    data.append(["眉山市政务服务事项（2021年）"])
    data.merge_cells("A1:F1")
    data.append([])
    data.append(["事项编码", "事项名称", "实施部门编码", "办理渠道", "跨域类型", "24小时自助", "备注"])
    data.append(["MS1", "事项", "MS003", "窗口", None, "是", "extra"])
    data.append([None] * 6)
    data.append(["MS2", "事项二", "MS003", "网办", "川渝通办", "否"])
    path = tmp_path / "service_items.xlsx"
    workbook.save(path)
    spec = get_spec("service_items").model_copy(update={"sheet": "数据"})

    source = open_source(spec, path)
    rows = list(source.rows)
    assert [n for n, _, _ in rows] == [4, 6]  # spreadsheet row numbers; the blank row is skipped
    assert source.unknown == ["备注"]
    number, cells, layout = rows[0]
    assert cells[layout.positions[0]] == "MS1" and layout.extra == ((6, "备注"),)
    with pytest.raises(FileRejected) as missing:
        open_source(spec.model_copy(update={"sheet": "不存在"}), path)
    assert missing.value.rule == "missing_sheet"
    with pytest.raises(FileRejected) as no_header:  # no sheet in the spec: the first one, which has no header
        open_source(get_spec("service_items"), path)
    assert no_header.value.rule == "no_header"


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig"])
def test_csv_utf8_with_and_without_bom(tmp_path, encoding):
    path = tmp_path / "fund_allocations.csv"
    path.write_text(FUND, encoding=encoding)
    [(number, cells, layout)] = _rows(get_spec("fund_allocations"), path)
    assert number == 2 and cells[0] == "BF1" and layout.headers[0] == "拨付编号"


def test_gb18030_declared_feed_refuses_utf8_and_reads_gb18030(tmp_path):
    spec = get_spec("social_organizations")
    text = ("统一社会信用代码,组织名称,组织类别,孵化平台,登记日期,所在社区代码,状态\n"
            "52511423620162000D,新桥湖社区平安巡逻队,功能服务型,,2020-01-18,511423001004,正常\n")
    path = tmp_path / "social_organizations.csv"
    path.write_bytes(text.encode("gb18030"))
    assert _rows(spec, path)[0][1][1] == "新桥湖社区平安巡逻队"
    for content in (text.encode("utf-8"), codecs.BOM_UTF8 + text.encode("utf-8")):
        path.write_bytes(content)
        with pytest.raises(FileRejected) as refused:
            _rows(spec, path)
        assert refused.value.rule == "wrong_encoding" and refused.value.reason_zh


def test_utf8_feed_refuses_gb18030_with_the_line_to_look_at(tmp_path):
    path = tmp_path / "fund_allocations.csv"
    path.write_bytes(FUND.encode("utf-8") + "BF2,市财政局,经费,511402001001,1.00,2021-10-10\n".encode("gb18030"))
    with pytest.raises(FileRejected) as refused:
        _rows(get_spec("fund_allocations"), path)
    assert refused.value.rule == "wrong_encoding" and "line 3" in refused.value.reason


def test_csv_lines_and_quoted_multiline_records(tmp_path):
    path = tmp_path / "fund_allocations.csv"
    path.write_text(FUND + 'BF2,"市财政\n局",经费,511402001001,"1,000.00",2021-10-10\n\nBF3,a,b,511402001001,1,2021-10-10\n',
                    encoding="utf-8")
    source = open_source(get_spec("fund_allocations"), path)
    lines = source.lines
    seen = []
    for number, line in lines:
        seen.append((number, lines.record(line) if '"' in line else line.rstrip("\n").split(",")))
    assert [n for n, _ in seen] == [2, 3, 5, 6]  # the quoted record spans lines 3-4
    assert seen[1][1][1] == "市财政\n局" and seen[1][1][4] == "1,000.00"


def test_jsonl_key_orders_unknown_keys_and_broken_lines(tmp_path):
    path = tmp_path / "grid_events.jsonl"
    path.write_text('{"event_id": "E1", "status": "办理中", "x": 1}\n\n{"status": "已办结", "event_id": "E2"}\n'
                    '[1, 2]\n{"event_id": \n', encoding="utf-8")
    source = open_source(get_spec("grid_events"), path)
    rows = list(source.rows)
    assert [n for n, _, _ in rows] == [1, 3, 4, 5]
    (_, first, layout1), (_, second, layout2) = rows[0], rows[1]
    assert first[layout1.positions[0]] == "E1" and second[layout2.positions[0]] == "E2"
    assert layout1.positions[1] == -1  # grid_code absent
    assert source.unknown == ["x"]
    assert [type(r[2]) for r in rows[2:]] == [RowError, RowError]


@pytest.mark.parametrize("name, content, rule", [
    ("fund_allocations.csv", b"", "empty_file"),
    ("fund_allocations.json", b"{}", "wrong_format"),
    ("fund_allocations.csv", "BF1,x,y,1,2021\n".encode("utf-16-le"), "wrong_format"),  # NUL-riddled: binary
    ("fund_allocations.csv", b"x" * 50, "file_too_large"),
])
def test_check_file(tmp_path, name, content, rule):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(FileRejected) as refused:
        check_file(get_spec("fund_allocations"), path, max_bytes=40)
    assert refused.value.rule == rule
