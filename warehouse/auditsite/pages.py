"""HTML pages of the report site: an index of every publication and one page per publication.

Self-contained (inline CSS and SVG, no script, no CDN). Figures carry `data-*` attributes
naming what they are, so a test can read the rendered page and compare with `audit`.
"""
from __future__ import annotations

from collections import defaultdict
from html import escape
from typing import Any

from warehouse.auditsite.charts import line_chart, sparkline
from warehouse.auditsite.data import SAMPLE_REJECTS, Publication
from warehouse.report import format_phases

STYLE = """
body{font-family:system-ui,"Noto Sans CJK SC","Noto Sans SC",sans-serif;margin:1.5rem 2rem;color:#222;max-width:1400px}
h1{font-size:1.5rem}h2{font-size:1.2rem;margin-top:2rem;border-bottom:1px solid #ddd}h3{font-size:1rem}
table{border-collapse:collapse;font-size:.85rem;margin:.4rem 0}th,td{border:1px solid #ccc;padding:.25rem .5rem;
text-align:left;vertical-align:top}td.sha{font-family:monospace;font-size:.7rem;word-break:break-all;min-width:9rem}th{background:#f3f3f3}td.num{text-align:right;font-variant-numeric:tabular-nums}
.pass{color:#17692b}.fail,.error{color:#b00020;font-weight:600}.skipped{color:#777}.mono{font-family:monospace}
.badge{display:inline-block;padding:.1rem .5rem;border-radius:.3rem;color:#fff;font-size:.8rem}
.badge.published{background:#17692b}.badge.blocked,.badge.failed{background:#b00020}.badge.running{background:#777}
.badge.rollback{background:#8c564b}.decision{padding:.6rem 1rem;border-left:6px solid #17692b;background:#f4faf5}
.decision.blocked,.decision.failed{border-color:#b00020;background:#fdf3f4}.decision.rollback{border-color:#8c564b}
.chart .axis{stroke:#999}.chart .tick,.chart .legend{font-size:11px;fill:#444}.chart .chart-title{font-size:13px;
font-weight:600}.charts{display:flex;flex-wrap:wrap;gap:1rem}details{margin:.3rem 0}summary{cursor:pointer}
.note{color:#555;font-size:.85rem}
"""


def _page(title: str, body: str) -> str:
    return (f'<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><title>{escape(title)}</title>'
            f'<meta name="viewport" content="width=device-width"><style>{STYLE}</style></head>'
            f'<body>{body}</body></html>')


def _td(value: Any, field: str | None = None, *, num: bool = False, cls: str = "") -> str:
    attrs = (f' data-field="{field}"' if field else "") + (f' class="{"num " if num else ""}{cls}"'
                                                            if num or cls else "")
    return f"<td{attrs}>{'' if value is None else escape(str(value))}</td>"


def _time(value: Any) -> str:
    return "" if value is None else f"{value:%Y-%m-%d %H:%M:%S %Z}".strip()


def page_name(publication_id: int) -> str:
    return f"publication_{publication_id:06d}.html"


def _badge(row: dict[str, Any]) -> str:
    kind = "rollback" if row.get("build_mode") == "rollback" else row["outcome"]
    label = "rolled back / 回滚" if kind == "rollback" else row["outcome"]
    return f'<span class="badge {kind}" data-field="outcome" data-outcome="{escape(row["outcome"])}">{label}</span>'


# --- index -------------------------------------------------------------------------------

def index_page(rows: list[dict[str, Any]], mart_rows: list[dict[str, Any]], versions: dict[str, int | None]) -> str:
    body = ["<h1>Publications / 发布记录 — quality reports for auditors / 审计质量报告</h1>",
            f'<p class="note">{len(rows)} attempts. In <code>marts</code> now: publication '
            f'<strong data-field="current-version">{versions.get("marts") or "—"}</strong>; kept for rollback in '
            f'<code>marts_previous</code>: <strong data-field="previous-version">{versions.get("marts_previous") or "—"}'
            f'</strong>. Every figure below is read from the <code>audit</code> schema.</p>',
            '<h2>Trends / 趋势</h2><div class="charts">', _pass_rate_chart(rows), _rejects_chart(rows), "</div>",
            _marts_table(mart_rows), "<h2>Every publication / 全部发布</h2>", _index_table(rows)]
    return _page("Publications / 发布记录", "".join(body))


def _pass_rate_chart(rows: list[dict[str, Any]]) -> str:
    points = [(r["publication_id"], round(100 * r["checks_passed"] / r["checks_total"], 2)) for r in rows
              if r.get("checks_total")]
    return line_chart("chart-pass-rate", "Checks passed / 检查通过率 (%)", {"pass rate %": points},
                      y_label="%", y_max=100)


def _rejects_chart(rows: list[dict[str, Any]]) -> str:
    series: dict[str, list[tuple[int, float]]] = defaultdict(list)
    feeds = sorted({feed for r in rows for feed in r["rejected_by_feed"]})
    for r in rows:
        if r.get("build_mode") == "rollback":
            continue
        for feed in feeds:
            series[feed].append((r["publication_id"], r["rejected_by_feed"].get(feed, 0)))
    return line_chart("chart-rejects", "Rejected rows per feed / 各数据源拒收行数", dict(series), y_label="rows")


def _marts_table(mart_rows: list[dict[str, Any]]) -> str:
    by_mart: dict[str, list[tuple[int, float]]] = defaultdict(list)
    for r in mart_rows:
        by_mart[r["mart"]].append((r["publication_id"], r["row_count"]))
    if not by_mart:
        return "<h3>Rows per mart / 各集市行数</h3><p class='note'>no published marts yet / 尚无发布</p>"
    lines = []
    for mart, points in sorted(by_mart.items()):
        latest_id, latest = max(points)
        lines.append(f'<tr data-mart="{escape(mart)}"><td class="mono">{escape(mart)}</td>'
                     f'{_td(latest, "rows", num=True)}{_td(f"#{latest_id}")}<td>{sparkline(points)}</td></tr>')
    return ('<h3>Rows per mart over publications / 各集市行数变化 (published versions)</h3>'
            '<table id="mart-rows"><tr><th>mart</th><th>rows (latest)</th><th>as of</th><th>trend</th></tr>'
            + "".join(lines) + "</table>")


def _index_table(rows: list[dict[str, Any]]) -> str:
    head = ("<tr><th>#</th><th>outcome / 结果</th><th>started / 开始</th><th>finished / 结束</th><th>build / 构建</th>"
            "<th>checks passed</th><th>checks failed</th><th>checks total</th><th>batches received</th>"
            "<th>rows rejected</th><th>source batches</th><th>message / 说明</th></tr>")
    lines = []
    for r in reversed(rows):
        pid = r["publication_id"]
        lines.append(
            f'<tr data-publication="{pid}"><td><a href="{page_name(pid)}">#{pid}</a></td><td>{_badge(r)}</td>'
            f'{_td(_time(r["started_at"]))}{_td(_time(r["finished_at"]))}{_td(r["build_mode"], "build_mode")}'
            f'{_td(r["checks_passed"], "checks_passed", num=True)}{_td(r["checks_failed"], "checks_failed", num=True)}'
            f'{_td(r["checks_total"], "checks_total", num=True)}{_td(r["received_batches"], "batches", num=True)}'
            f'{_td(r["received_rows_rejected"], "rows_rejected", num=True)}'
            f'{_td(len(r["source_batches"]), "source_batches", num=True)}{_td((r["message"] or "")[:300])}</tr>')
    return f'<table id="publications">{head}{"".join(lines)}</table>'


# --- one publication ---------------------------------------------------------------------

def publication_page(pub: Publication) -> str:
    r = pub.row
    body = ['<p><a href="index.html">← all publications / 全部发布</a></p>',
            f'<h1>Publication / 发布 #{pub.id} {_badge(r)}</h1>', _decision(pub), _summary(pub), _lineage_info(pub),
            _batches(pub), _rejects(pub), _checks(pub), _mart_lineage(pub)]
    return _page(f"Publication {pub.id} — {r['outcome']}", "".join(body))


def _decision(pub: Publication) -> str:
    r = pub.row
    if r.get("build_mode") == "rollback":
        return (f'<div class="decision rollback" id="decision"><strong>Rolled back / 已回滚</strong> to publication '
                f'<a href="{page_name(r["restores_publication"])}" data-field="restores">#{r["restores_publication"]}'
                f'</a>: its marts were republished by the same atomic swap.<br>Who / 操作人: '
                f'<span data-field="requested_by">{escape(r.get("requested_by") or "")}</span> (OS user / 系统用户 '
                f'<span data-field="requested_by_os">{escape(r.get("requested_by_os") or "unknown")}</span>), '
                f'{_time(r["finished_at"])}.<br>Why / 原因: <span data-field="reason">'
                f'{escape(r.get("reason") or "")}</span></div>')
    blocking = [c for c in pub.checks if c["severity"] == "critical" and c["status"] != "pass"]
    why = {"published": "Published: no critical check failed, so the candidate was swapped in as <code>marts</code>. "
                        "/ 已发布：全部关键检查通过。",
           "blocked": "Blocked: critical checks failed, so <code>marts</code> was left unchanged. "
                      "/ 已阻止：关键检查未通过，数据集市保持不变。",
           "failed": "Failed: the attempt did not finish (infrastructure); <code>marts</code> unchanged. / 失败。",
           "running": "Running (or interrupted) / 进行中。"}.get(r["outcome"], escape(r["outcome"]))
    items = "".join(f'<li data-check="{escape(c["check_name"])}"><span class="{c["status"]}">{c["status"]}</span> '
                    f'{escape(c["check_source"])} <span class="mono">{escape(c["check_name"])}</span>'
                    f'{": " + escape((c["message"] or "")[:300]) if c["message"] else ""}</li>' for c in blocking)
    return (f'<div class="decision {r["outcome"]}" id="decision"><p>{why}</p>'
            f'<p>{escape(r["message"] or "")}</p>{f"<ul>{items}</ul>" if items else ""}</div>')


def _summary(pub: Publication) -> str:
    r = pub.row
    fields = [("run id / 运行", r["run_id"], None), ("started / 开始", _time(r["started_at"]), None),
              ("finished / 结束", _time(r["finished_at"]), None), ("build mode / 构建方式", r["build_mode"], "build_mode"),
              ("checks passed / 通过", r["checks_passed"], "checks_passed"),
              ("checks failed / 未通过", r["checks_failed"], "checks_failed"),
              ("checks total / 检查总数", r["checks_total"], "checks_total"),
              ("source batches / 输入批次", len(r["source_batches"]), "source_batches"),
              ("project fingerprint / 项目指纹", r.get("project_fingerprint"), None)]
    if "pii_key_fingerprint" in r:
        fields.append(("PII key fingerprint / 密钥指纹", r.get("pii_key_fingerprint"), "pii_key_fingerprint"))
    if r.get("phase_seconds"):
        fields.append(("phase times / 各阶段耗时", format_phases(r["phase_seconds"]), "phase_seconds"))
    return ('<h2>Summary / 概要</h2><table id="summary">'
            + "".join(f"<tr><th>{label}</th>{_td(value, field)}</tr>" for label, value, field in fields) + "</table>")


def _lineage_info(pub: Publication) -> str:
    lineage = pub.lineage
    if lineage is None:
        return "<h2>Built from / 构建来源</h2><p class='note'>not recorded (publication older than lineage) / 未记录</p>"
    commit = lineage["git_commit"] or "not a git checkout / 非 git 目录"
    dirty = " (uncommitted changes / 有未提交修改)" if lineage["git_dirty"] else ""
    versions = "".join(f"<tr><th>{escape(k)}</th>{_td(v, k)}</tr>" for k, v in sorted(lineage["versions"].items()))
    restored = pub.row.get("restores_publication")
    of = f" (the restored publication #{restored} / 所恢复的发布)" if restored else ""
    return (f'<h2>Built from / 构建来源{of}</h2><p>git commit / 代码版本: <span class="mono" data-field="git_commit">'
            f'{escape(commit)}</span>{dirty}</p><table id="versions">{versions}</table>')


def _batches(pub: Publication) -> str:
    if pub.row.get("build_mode") == "rollback":
        return ""
    head = ("<tr><th>batch</th><th>feed / 数据源</th><th>department / 部门</th><th>file / 文件</th><th>sha256</th>"
            "<th>status</th><th>rows in</th><th>loaded</th><th>rejected</th><th>received / 接收</th></tr>")
    lines = "".join(
        f'<tr data-batch="{b["batch_id"]}">{_td(b["batch_id"])}{_td(b["feed_id"], "feed")}'
        f'{_td(b["department"], "department")}{_td(b["file_name"], "file_name")}'
        f'{_td(b["sha256"], "sha256", cls="sha")}{_td(b["status"], "status")}{_td(b["rows_in"], "rows_in", num=True)}'
        f'{_td(b["rows_loaded"], "rows_loaded", num=True)}{_td(b["rows_rejected"], "rows_rejected", num=True)}'
        f'{_td(_time(b["received_at"]))}</tr>' for b in pub.batches)
    return (f'<h2>Batches received / 接收批次 ({len(pub.batches)})</h2><p class="note">Files recorded since the '
            f'previous attempt, whatever their status; rows in = loaded + rejected.</p>'
            f'<table id="batches">{head}{lines}</table>')


def _rejects(pub: Publication) -> str:
    if pub.row.get("build_mode") == "rollback":
        return ""
    if not pub.rejects:
        return "<h2>Rejected rows / 拒收记录</h2><p class='note'>none / 无</p>"
    summary = "".join(
        f'<tr data-feed="{escape(g["feed_id"])}" data-rule="{escape(g["rule"])}">{_td(g["feed_id"])}{_td(g["rule"])}'
        f'{_td(g["rows"], "rows", num=True)}{_td(g["findings"], "findings", num=True)}{_td(g["reason"])}'
        f'{_td(g["reason_zh"])}</tr>' for g in pub.rejects)
    details = []
    for g in pub.rejects:
        samples = "".join(
            f'<tr>{_td(s["file_name"])}{_td(s["row_number"], num=True)}{_td(s["column_name"])}{_td(s["reason"])}'
            f'{_td(s["reason_zh"])}{_td("; ".join(f"{k}={v}" for k, v in s["original_values"].items()), cls="values")}'
            f'</tr>' for s in g["samples"])
        details.append(f'<details><summary>{escape(g["feed_id"])} · {escape(g["rule"])} — {g["findings"]} finding(s), '
                       f'first {min(g["findings"], SAMPLE_REJECTS)} shown</summary><table><tr><th>file</th><th>row</th>'
                       f'<th>column</th><th>reason</th><th>原因</th><th>original values (personal fields masked / '
                       f'个人信息已遮蔽)</th></tr>{samples}</table></details>')
    return ('<h2>Rejected rows per feed and rule / 按数据源和规则的拒收</h2><table id="rejects"><tr><th>feed</th>'
            '<th>rule</th><th>rows</th><th>findings</th><th>reason (example)</th><th>原因（示例）</th></tr>' + summary + "</table>"
            + "".join(details))


def _checks(pub: Publication) -> str:
    if not pub.checks:
        return ""
    groups: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for c in pub.checks:
        groups[(c["target"] or "(project)", c["severity"])].append(c)
    summary, details = [], []
    for (target, severity), checks in sorted(groups.items()):
        counts = {s: sum(c["status"] == s for c in checks) for s in ("pass", "fail", "error", "skipped")}
        summary.append(f'<tr data-target="{escape(target)}" data-severity="{severity}">{_td(target, cls="mono")}'
                       f'{_td(severity)}' + "".join(_td(counts[s], s, num=True, cls=s if counts[s] and s != "pass"
                                                        else "") for s in counts) + "</tr>")
        failing = counts["fail"] + counts["error"] + counts["skipped"]
        rows = "".join(f'<tr>{_td(c["check_source"])}{_td(c["check_name"], cls="mono")}'
                       f'{_td(c["status"], cls=c["status"])}{_td(c["failures"], num=True)}{_td(c["message"])}</tr>'
                       for c in checks)
        details.append(f'<details{" open" if failing else ""}><summary>{escape(target)} · {severity} — '
                       f'{len(checks)} check(s), {failing} not passed</summary><table><tr><th>source</th><th>check</th>'
                       f'<th>status</th><th>failures</th><th>message</th></tr>{rows}</table></details>')
    return ('<h2>Checks by mart and severity / 按集市和级别的检查</h2><table id="checks"><tr><th>mart</th>'
            '<th>severity</th><th>pass</th><th>fail</th><th>error</th><th>skipped</th></tr>' + "".join(summary)
            + "</table>" + "".join(details))


def _mart_lineage(pub: Publication) -> str:
    if not pub.marts:
        return ("<h2>Lineage / 数据血缘</h2><p class='note'>no marts recorded for this attempt (it published "
                "nothing, or predates lineage) / 无</p>")
    lines = []
    for mart in pub.marts:
        feeds = mart["source_feeds"]
        cells = []
        for feed in feeds or []:
            inputs = pub.inputs_by_feed.get(feed, [])
            files = "".join(f'<li data-batch="{b["batch_id"]}">batch {b["batch_id"]}: {escape(b["file_name"])} '
                            f'<span class="mono">{escape(b["sha256"][:16])}…</span></li>' for b in inputs)
            cells.append(f'<details><summary data-feed="{escape(feed)}">{escape(feed)} — {len(inputs)} batch(es)'
                         f'</summary><ul>{files}</ul></details>')
        lines.append(f'<tr data-mart="{escape(mart["mart"])}">{_td(mart["mart"], cls="mono")}'
                     f'{_td(mart["row_count"], "rows", num=True)}<td>{"".join(cells) or "seeds only / 仅参考数据"}'
                     f'</td></tr>' if feeds is not None else
                     f'<tr data-mart="{escape(mart["mart"])}">{_td(mart["mart"], cls="mono")}'
                     f'{_td(mart["row_count"], "rows", num=True)}<td class="note">graph unknown</td></tr>')
    return ('<h2>Lineage: mart → feeds → batches → files / 数据血缘</h2><p class="note">Which raw feeds each mart is '
            'built from (dbt manifest of this build) and the batches and files of those feeds it read.</p>'
            '<table id="lineage"><tr><th>mart</th><th>rows</th><th>feeds, batches, files</th></tr>'
            + "".join(lines) + "</table>")
