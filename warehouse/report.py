"""Self-contained quality reports for auditors: one HTML and one JSON per publication.

No CSS or JavaScript from a CDN: the reports must read the same on an isolated network.
Once the attempt is recorded, the report site (warehouse/auditsite) rewrites the HTML page
with more (checks by mart, batches, rejects, lineage); this one stands if that fails.
"""
from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

from warehouse.checks import CheckResult
from warehouse.private_files import GROUP_DIR, GROUP_FILE, make_dirs, write_file

_STYLE = """
body{font-family:system-ui,"Noto Sans CJK SC",sans-serif;margin:2rem;color:#222}
table{border-collapse:collapse;width:100%;font-size:.9rem}th,td{border:1px solid #ccc;padding:.3rem .5rem;text-align:left;vertical-align:top}
th{background:#f3f3f3}.pass{color:#17692b}.fail,.error{color:#b00020;font-weight:600}.skipped{color:#777}
.badge{display:inline-block;padding:.2rem .6rem;border-radius:.3rem;color:#fff}.published{background:#17692b}.blocked,.failed{background:#b00020}
"""


def format_phases(seconds: dict[str, float] | None) -> str:
    """One line of phase times, e.g. `dbt_build 9.1s (start-up+parse 4.2s) · gx 1.3s`."""
    if not seconds:
        return ""
    startup = seconds.get("dbt_startup_parse")
    parts = [f"{name} {value:.1f}s" + (f" (start-up+parse {startup:.1f}s)" if name == "dbt_build" and startup
                                        is not None else "")
             for name, value in seconds.items() if name != "dbt_startup_parse"]
    return " · ".join(parts)


def write_report(reports_dir: Path, publication: dict[str, Any], checks: list[CheckResult]) -> Path:
    """The JSON and the one-table HTML page, created 0640 in a 0750 folder (see warehouse.private_files)."""
    make_dirs(reports_dir, GROUP_DIR)
    stem = reports_dir / f"publication_{publication['publication_id']:06d}"
    payload = {**publication, "checks": [c.to_dict() for c in checks]}
    write_file(stem.with_suffix(".json"), json.dumps(payload, ensure_ascii=False, indent=2, default=str), GROUP_FILE)
    rows = "\n".join(
        f"<tr><td>{html.escape(c.source)}</td><td>{html.escape(c.name)}</td><td>{html.escape(c.target or '')}</td>"
        f"<td>{c.severity}</td><td class='{c.status}'>{c.status}</td><td>{'' if c.failures is None else c.failures}"
        f"</td><td>{html.escape(c.message or '')}</td></tr>"
        for c in sorted(checks, key=lambda c: (c.status == "pass", c.source, c.name))
    )
    outcome = publication["outcome"]
    summary = "".join(
        f"<tr><th>{html.escape(k)}</th><td>{html.escape(str(v))}</td></tr>"
        for k, v in publication.items() if k not in ("checks", "phase_seconds")
    )
    if publication.get("phase_seconds"):
        summary += (f"<tr><th>phase_seconds / 各阶段耗时</th><td class='phases'>"
                    f"{html.escape(format_phases(publication['phase_seconds']))}</td></tr>")
    page = f"""<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">
<title>Publication {publication['publication_id']} — {outcome}</title><style>{_STYLE}</style></head><body>
<h1>Quality report / 质量报告 — publication {publication['publication_id']}
<span class="badge {outcome}">{outcome}</span></h1>
{_build_mode(publication)}
<table>{summary}</table>
<h2>Checks / 检查项 ({len(checks)})</h2>
<table><tr><th>source</th><th>check</th><th>target</th><th>severity</th><th>status</th><th>failures</th>
<th>message</th></tr>{rows}</table></body></html>"""
    return write_file(stem.with_suffix(".html"), page, GROUP_FILE)


def _build_mode(publication: dict[str, Any]) -> str:
    """One line saying how the marts were built: a partial build names what it carried over unchanged."""
    mode = publication.get("build_mode", "full")
    line = f"Build / 构建: <strong>{html.escape(mode)}</strong>"
    if mode == "partial":
        line += (f" — changed feeds / 变更数据源: {html.escape(', '.join(publication.get('changed_feeds', [])))}"
                 f"; marts carried over unchanged from the previous publication / 沿用上次发布: "
                 f"{html.escape(', '.join(publication.get('carried_over_marts', [])) or 'none')}")
    elif publication.get("build_mode_reason"):
        line += f" ({html.escape(publication['build_mode_reason'])})"
    return f"<p class='build-mode'>{line}</p>"
