"""A dirty copy of the sample: every defect ingestion must catch, and a manifest of outcomes.

`generate_dirty(out)` writes each feed again with known defects injected into chosen
rows (one defect per row), extra files for every file-level failure, and
`manifest.json` listing each defect with its expected outcome: the feed, file, row
number as a person sees it, column, rule, and the expected status of the file. Values
typed the ways people type them (2021/3/5, 1,234.50, full-width digits, 是/否 with a
stray full-width space, a historical 511422 ID prefix) are listed too, as "accepted"
with the value they must be stored as. A test loads the set and checks every outcome.

Defects are chosen from each column's contract type, so a new feed or column gets
covered without new code here. Rows of party_organizations that have children are
never touched (rejecting a parent cascades to its children by design).
"""
from __future__ import annotations

import codecs
import datetime as dt
import json
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

from ingestion.checksums import USCC_CHARSET, id_check_digit
from ingestion.generate import FEEDS, write_feed
from ingestion.generate.specs import load_layout
from ingestion.generate.world import World
from ingestion.generate.writers import write_csv
from ingestion.registry import ColumnSpec, FeedSpec, get_spec

MANIFEST = "manifest.json"
FIRST_ROW = 3  # leave the first rows clean (they also seed the small variant files)
STRIDE = 7
VARIANT_ROWS = 40
Defect = tuple[Any, str, str]  # (value written, outcome: rejected|warning|accepted, rule or expected stored text)


def generate_dirty(out_dir: Path, scale: int = 1, seed: int = 2021, feeds: list[str] | None = None) -> dict:
    """Write the dirty feeds and manifest.json into `out_dir`; return the manifest."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    world = World(seed)
    wanted = set(FEEDS if feeds is None else feeds)
    manifest: dict[str, Any] = {"seed": seed, "scale": scale, "files": [], "defects": []}
    for feed_id, builder in FEEDS.items():
        rows = [list(r) for r in builder(world, scale)]  # built for every feed: keeps the world's draws stable
        if feed_id in wanted:
            _dirty_feed(out_dir, world, get_spec(feed_id), rows, manifest)
    (out_dir / MANIFEST).write_text(json.dumps(manifest, ensure_ascii=False, indent=1, default=str),
                                    encoding="utf-8")
    return manifest


# --- row-level defects --------------------------------------------------------------

def _dirty_feed(out_dir: Path, world: World, spec: FeedSpec, rows: list[list[Any]], manifest: dict) -> None:
    layout = load_layout(spec.feed_id)
    clean = [list(r) for r in rows[:VARIANT_ROWS]]
    name = f"{spec.feed_id}.{layout.extension}"
    offset = _row_offset(spec)
    eligible = _eligible_rows(spec, rows)
    stride = max(1, min(STRIDE, len(eligible) // 100))
    picks = iter(eligible[i] for i in range(0, len(eligible), stride))
    rejected_rows: set[int] = set()
    defects: list[dict[str, Any]] = []

    def record(index: int | None, column: str | None, outcome: str, rule: str, expected: str | None = None) -> None:
        row = None if index is None else index + offset
        defects.append({"feed": spec.feed_id, "file": name, "row": row, "column": column,
                        "outcome": outcome, "rule": rule, "expected_value": expected})
        if outcome == "rejected":
            rejected_rows.add(index)

    for position, col in enumerate(spec.columns):
        for value, outcome, rule_or_value in _column_defects(col, spec):
            index = _next_pick(picks, rows, position, needs_value=callable(value))
            if index is None:
                break
            typed = rows[index][position]
            if outcome == "accepted":
                variant = value(typed) if callable(value) else value
                if variant is None:
                    continue
                rows[index][position] = variant[0]
                record(index, col.name, "accepted", "accepted", variant[1])
            else:
                rows[index][position] = value(typed) if callable(value) else value
                record(index, col.name, outcome, rule_or_value)
    key = spec.columns.index(spec.column(spec.key[0]))
    first, second = next(picks, None), next(picks, None)
    if first is not None and second is not None:  # the same key twice: both copies are rejected
        rows[second][key] = rows[first][key]
        record(first, spec.key[0], "rejected", "duplicate_key")
        record(second, spec.key[0], "rejected", "duplicate_key")
    parent = next((c for c in spec.columns if c.parent_of), None)
    index = next(picks, None)
    if parent is not None and index is not None:
        rows[index][spec.columns.index(parent)] = "NO-SUCH-PARENT"
        record(index, parent.name, "rejected", "unknown_parent")
    headers = list(layout.headers)
    if spec.format == "jsonl":
        rows, headers = _jsonl_extras(spec, rows, headers, picks, record)
    elif spec.feed_id == "old_compound_renovations":  # an unexpected extra column: kept, reported as drift
        headers.append("备注")
        rows = [r + ["补录" if i % 50 == 0 else ""] for i, r in enumerate(rows)]
        record(None, None, "warning", "schema_drift")
    _write(out_dir / name, spec, layout, headers, rows, world)
    rejected = len(rejected_rows)
    manifest["files"].append({"feed": spec.feed_id, "file": name, "expected_status": "partial" if rejected else
                              "loaded", "rows_in": len(rows), "rows_loaded": len(rows) - rejected,
                              "rows_rejected": rejected, "file_rule": None})
    manifest["defects"].extend(defects)
    _file_variants(out_dir, world, spec, layout, clean, manifest)


def _row_offset(spec: FeedSpec) -> int:
    """Data row i (from 0) is row i + offset when a person opens the file."""
    if spec.format == "jsonl":
        return 1
    if spec.format == "xlsx":
        from ingestion.generate import _TITLES

        return 3 if spec.feed_id in _TITLES else 2
    return 2


def _eligible_rows(spec: FeedSpec, rows: list[list[Any]]) -> list[int]:
    parent = next((c for c in spec.columns if c.parent_of), None)
    candidates = range(FIRST_ROW, len(rows))
    if parent is None:
        return list(candidates)
    key = spec.columns.index(spec.column(parent.parent_of))
    referenced = {r[spec.columns.index(parent)] for r in rows}
    return [i for i in candidates if rows[i][key] not in referenced]


def _next_pick(picks, rows: list[list[Any]], position: int, *, needs_value: bool) -> int | None:
    """The next chosen row; a defect made from the value needs a value to rewrite."""
    for index in picks:
        if not needs_value or rows[index][position] not in (None, ""):
            return index
    return None


def _column_defects(col: ColumnSpec, spec: FeedSpec) -> list[tuple[Any, str, Any]]:
    """(value or value-maker, outcome, rule) for one column, from its contract."""
    out: list[tuple[Any, str, Any]] = []
    if col.required:
        out.append(("", "rejected", "required"))
    maker = _DEFECTS_BY_TYPE.get(col.type)
    if maker:
        out.extend(maker(col))
    if col.enum and col.type == "text":
        out.append(("不存在的值", "rejected", "enum"))
    if col.enum and col.type == "list":
        out.append((f"{col.enum[0]}{col.separator}火箭发射", "rejected", "enum"))
    return out


def _integer(col: ColumnSpec) -> list[tuple[Any, str, Any]]:
    out: list[tuple[Any, str, Any]] = [("many", "rejected", "type")]
    if col.min == 0:
        out.append(("-5", "rejected", "negative"))
    if col.max is not None:
        out.append((str(int(col.max) + 100), "rejected", "range"))
    out.append((lambda v: _fullwidth(str(v)) + (str(v), ), "accepted", None))
    out.append((lambda v: (f"{int(v):,}", str(int(v))), "accepted", None))
    return out


def _decimal(col: ColumnSpec) -> list[tuple[Any, str, Any]]:
    out: list[tuple[Any, str, Any]] = [("12万", "rejected", "type"), ("1.234", "rejected", "precision")]
    if col.min == 0:
        out.append(("-1.00", "rejected", "negative"))
    out.append((lambda v: (f"{Decimal(str(v)) + 1000:,.2f}", f"{Decimal(str(v)) + 1000:.2f}"), "accepted", None))
    out.append((lambda v: _fullwidth(f"{Decimal(str(v)):.2f}") + (f"{Decimal(str(v)):.2f}", ), "accepted", None))
    return out


def _date(col: ColumnSpec) -> list[tuple[Any, str, Any]]:
    def variant(make: Callable[[dt.date], str]) -> Callable[[Any], tuple[str, str]]:
        return lambda v: (make(dt.date.fromisoformat(str(v))), str(v))

    return [
        ("2021-02-30", "rejected", "date"),
        ("1850-01-01", "rejected", "date_range"),
        (variant(lambda d: f"{d.year}/{d.month}/{d.day}"), "accepted", None),
        (variant(lambda d: f"{d.year}年{d.month}月{d.day}日"), "accepted", None),
        (variant(lambda d: d.strftime("%Y%m%d")), "accepted", None),
        (variant(lambda d: str((d - dt.date(1899, 12, 30)).days)), "accepted", None),  # an Excel serial
        (variant(lambda d: "\u3000" + _fullwidth(d.isoformat())[0]), "accepted", None),
    ]


def _timestamp(col: ColumnSpec) -> list[tuple[Any, str, Any]]:
    return [
        ("2021-13-01T10:00:00+08:00", "rejected", "timestamp"),
        (lambda v: (str(v)[:19].replace("T", " "), str(v)[:19] + "+08:00"), "accepted", None),  # local time
    ]


def _boolean(col: ColumnSpec) -> list[tuple[Any, str, Any]]:
    words = {"是": "true", "否": "false"}
    return [("也许", "rejected", "boolean"),
            (lambda v: (f"{v}\u3000", words[v]) if v in words else None, "accepted", None)]


def _division(col: ColumnSpec) -> list[tuple[Any, str, Any]]:
    return [("999999", "rejected", "division_code"),
            (lambda v: (f"\u3000{_fullwidth(str(v))[0]} ", str(v)), "accepted", None)]


def _uscc(col: ColumnSpec) -> list[tuple[Any, str, Any]]:
    def flipped(value: Any) -> str:
        code = str(value)
        return code[:17] + next(c for c in USCC_CHARSET if c != code[17])

    return [("ABC123", "rejected", "uscc"), (flipped, "warning", "uscc_check_char")]


def _id_number(col: ColumnSpec) -> list[tuple[Any, str, Any]]:
    def wrong_check(value: Any) -> str:
        code = str(value)
        return code[:17] + ("0" if code[17] != "0" else "1")

    def bad_birth(value: Any) -> str:
        body = str(value)[:6] + "19991332" + str(value)[14:17]
        return body + id_check_digit(body)

    def historical(value: Any) -> tuple[str, str]:
        body = "511422" + str(value)[6:17]  # 彭山县 before 2014: still on people's ID cards
        return body + id_check_digit(body), body + id_check_digit(body)

    return [(wrong_check, "rejected", "id_number"), (bad_birth, "rejected", "id_number"),
            (historical, "accepted", None)]


def _phone(col: ColumnSpec) -> list[tuple[Any, str, Any]]:
    return [("12345", "rejected", "phone"),
            (lambda v: (f"+86 {v}", str(v)) if str(v).startswith("1") else None, "accepted", None)]


def _text(col: ColumnSpec) -> list[tuple[Any, str, Any]]:
    if col.enum or col.parent_of:
        return []
    return [(lambda v: (f"\u3000{v}\u3000", str(v)), "accepted", None)]


def _json(col: ColumnSpec) -> list[tuple[Any, str, Any]]:
    return [("{broken", "rejected", "json")]


_DEFECTS_BY_TYPE: dict[str, Callable[[ColumnSpec], list[tuple[Any, str, Any]]]] = {
    "integer": _integer, "decimal": _decimal, "date": _date, "timestamp": _timestamp, "boolean": _boolean,
    "division_code": _division, "uscc": _uscc, "id_number": _id_number, "phone": _phone, "text": _text,
    "json": _json,
}


def _fullwidth(text: str) -> tuple[str]:
    return (text.translate({ord(c): ord(c) + 0xFEE0 for c in "0123456789"}),)


# --- JSON Lines extras --------------------------------------------------------------

class _RawLine(str):
    """A line written as is (a broken JSON record)."""


def _jsonl_extras(spec: FeedSpec, rows: list[list[Any]], headers: list[str], picks, record) -> tuple[list, list]:
    index = next(picks, None)
    if index is not None:
        rows[index] = _RawLine('{"broken": json')
        record(index, None, "rejected", "json_syntax")
    drift = next(picks, None)
    if drift is not None:  # one record carries a key the contract does not know: kept in _extra
        rows[drift] = [*rows[drift], {"remark": "补录"}]
        record(None, None, "warning", "schema_drift")
    return rows, headers


def _write_jsonl(path: Path, headers: list[str], rows: list[Any]) -> None:
    with path.open("w", encoding="utf-8", newline="\n") as handle:
        for row in rows:
            if isinstance(row, _RawLine):
                handle.write(f"{row}\n")
                continue
            record = dict(zip(headers, row[:len(headers)], strict=True))
            for extra in row[len(headers):]:
                record.update(extra)
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")


def _write(path: Path, spec: FeedSpec, layout, headers: list[str], rows: list[Any], world: World) -> None:
    if spec.format == "jsonl":
        _write_jsonl(path, headers, rows)
    elif spec.format == "csv":
        write_csv(path, headers, rows, layout.encoding)
    else:
        write_feed(layout, path, rows, world)


# --- file-level failures and accepted encodings ------------------------------------

def _file_variants(out_dir: Path, world: World, spec: FeedSpec, layout, clean: list[list[Any]],
                   manifest: dict) -> None:
    def add(name: str, status: str, rule: str | None, rows: int = 0) -> None:
        manifest["files"].append({"feed": spec.feed_id, "file": name, "expected_status": status,
                                  "rows_in": rows if status == "loaded" else None,
                                  "rows_loaded": rows if status == "loaded" else 0,
                                  "rows_rejected": 0 if status == "loaded" else None, "file_rule": rule})
        if rule:
            manifest["defects"].append({"feed": spec.feed_id, "file": name, "row": None, "column": None,
                                        "outcome": "file_rejected", "rule": rule, "expected_value": None})

    feed, headers = spec.feed_id, list(layout.headers)
    if feed == "fund_allocations":
        (out_dir / f"{feed}.empty.csv").write_bytes(b"")
        add(f"{feed}.empty.csv", "rejected", "empty_file")
        write_csv(out_dir / f"{feed}.header_only.csv", headers, [], "utf-8")
        add(f"{feed}.header_only.csv", "rejected", "no_rows")
        write_csv(out_dir / f"{feed}.gb18030.csv", headers, clean, "gb18030")  # declared UTF-8
        add(f"{feed}.gb18030.csv", "rejected", "wrong_encoding")
        write_csv(out_dir / f"{feed}.bom.csv", headers, clean, "utf-8-sig")  # UTF-8 with a BOM is fine
        add(f"{feed}.bom.csv", "loaded", None, len(clean))
    if feed == "residential_compounds":
        drop = headers.index("社区代码")
        write_csv(out_dir / f"{feed}.missing_column.csv", headers[:drop] + headers[drop + 1:],
                  [r[:drop] + r[drop + 1:] for r in clean], "utf-8")
        add(f"{feed}.missing_column.csv", "rejected", "missing_column")
    if feed == "social_organizations":
        write_csv(out_dir / f"{feed}.utf8.csv", headers, clean, "utf-8")  # declared GB18030
        add(f"{feed}.utf8.csv", "rejected", "wrong_encoding")
    if feed == "social_workers":
        write_csv(out_dir / f"{feed}.nobom.csv", headers, clean, "utf-8")  # declared UTF-8-BOM, sent without
        add(f"{feed}.nobom.csv", "loaded", None, len(clean))
    if feed == "service_items":
        whole = (out_dir / f"{feed}.xlsx").read_bytes()
        (out_dir / f"{feed}.corrupt.xlsx").write_bytes(whole[: len(whole) // 2])
        add(f"{feed}.corrupt.xlsx", "rejected", "corrupt_file")
        write_csv(out_dir / f"{feed}.not_xlsx.xlsx", headers, clean, "utf-8")
        add(f"{feed}.not_xlsx.xlsx", "rejected", "wrong_format")
    if feed == "mediation_cases":
        write_csv(out_dir / f"{feed}.not_jsonl.jsonl", headers, [[str(v) for v in r] for r in clean], "utf-8")
        add(f"{feed}.not_jsonl.jsonl", "rejected", "wrong_format")
        (out_dir / f"{feed}.bom.jsonl").write_bytes(
            codecs.BOM_UTF8 + "".join(json.dumps(dict(zip(headers, r, strict=True)), ensure_ascii=False) + "\n"
                                      for r in clean).encode("utf-8"))
        add(f"{feed}.bom.jsonl", "loaded", None, len(clean))
