"""Charts as inline SVG, drawn here: no JavaScript, no CDN, the same on an isolated network.

Each point carries its value (`data-x`, `data-y` and a <title> tooltip), so the figure a
reader sees is checkable against `audit`.
"""
from __future__ import annotations

import html

PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
           "#bcbd22", "#17becf", "#393b79", "#637939", "#8c6d31", "#843c39", "#7b4173", "#3182bd")


def _fmt(value: float) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def line_chart(chart_id: str, title: str, series: dict[str, list[tuple[int, float]]], *, y_label: str = "",
               y_max: float | None = None, width: int = 760, height: int = 260) -> str:
    """Lines over publication ids; one series per name. Empty series draw an empty frame with a note."""
    left, right, top, bottom = 56, 170, 28, 34
    xs = sorted({x for points in series.values() for x, _ in points})
    ys = [y for points in series.values() for _, y in points]
    top_y = y_max if y_max is not None else max([*ys, 1])
    plot_w, plot_h = width - left - right, height - top - bottom

    def px(x: int) -> float:
        return left + (plot_w / 2 if len(xs) < 2 else plot_w * xs.index(x) / (len(xs) - 1))

    def py(y: float) -> float:
        return top + plot_h - plot_h * (y / top_y if top_y else 0)

    parts = [f'<svg id="{chart_id}" class="chart" role="img" xmlns="http://www.w3.org/2000/svg" '
             f'viewBox="0 0 {width} {height}" width="{width}" height="{height}">',
             f'<title>{html.escape(title)}</title>',
             f'<text x="{left}" y="16" class="chart-title">{html.escape(title)}</text>',
             f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" class="axis"/>',
             f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + plot_h}" class="axis"/>']
    for fraction in (0, 0.5, 1):
        value = top_y * fraction
        parts.append(f'<text x="{left - 6}" y="{py(value) + 4:.1f}" text-anchor="end" class="tick">'
                     f'{_fmt(round(value, 2))}</text>')
    if y_label:
        parts.append(f'<text x="12" y="{top + plot_h / 2:.0f}" class="tick" transform="rotate(-90 12 '
                     f'{top + plot_h / 2:.0f})" text-anchor="middle">{html.escape(y_label)}</text>')
    step = max(1, len(xs) // 12)
    for x in xs[::step]:
        parts.append(f'<text x="{px(x):.1f}" y="{height - 14}" text-anchor="middle" class="tick">#{x}</text>')
    if not xs:
        parts.append(f'<text x="{left + plot_w / 2}" y="{top + plot_h / 2}" text-anchor="middle" class="tick">'
                     'no data yet / 暂无数据</text>')
    for index, (name, points) in enumerate(sorted(series.items())):
        color = PALETTE[index % len(PALETTE)]
        points = sorted(points)
        if len(points) > 1:
            path = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in points)
            parts.append(f'<polyline points="{path}" fill="none" stroke="{color}" stroke-width="2"/>')
        for x, y in points:
            parts.append(f'<circle cx="{px(x):.1f}" cy="{py(y):.1f}" r="3" fill="{color}" '
                         f'data-series="{html.escape(name)}" data-x="{x}" data-y="{_fmt(y)}">'
                         f'<title>{html.escape(name)} #{x}: {_fmt(y)}</title></circle>')
        legend_y = top + 14 * index
        parts.append(f'<rect x="{width - right + 12}" y="{legend_y}" width="10" height="10" fill="{color}"/>'
                     f'<text x="{width - right + 26}" y="{legend_y + 9}" class="legend">{html.escape(name)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def sparkline(values: list[tuple[int, float]], *, width: int = 160, height: int = 28) -> str:
    """A small line of one mart's rows over publications, ending in a dot at the latest value."""
    if not values:
        return ""
    values = sorted(values)
    low, high = min(v for _, v in values), max(v for _, v in values)
    span = (high - low) or 1

    def point(i: int, v: float) -> tuple[float, float]:
        x = 2 + (width - 4) * (i / (len(values) - 1) if len(values) > 1 else 0.5)
        return x, height - 3 - (height - 6) * (v - low) / span

    path = " ".join(f"{x:.1f},{y:.1f}" for x, y in (point(i, v) for i, (_, v) in enumerate(values)))
    last_x, last_y = point(len(values) - 1, values[-1][1])
    return (f'<svg class="spark" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="{width}" '
            f'height="{height}"><polyline points="{path}" fill="none" stroke="#1f77b4" stroke-width="1.5"/>'
            f'<circle cx="{last_x:.1f}" cy="{last_y:.1f}" r="2.5" fill="#1f77b4"/></svg>')
