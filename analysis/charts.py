"""Small server-side SVG charts for the staff dashboard.

Drawn here rather than with a JavaScript library: nothing to vendor or load from
a CDN, the page works without scripts, and a test can read the numbers back out
of the markup. Every text is escaped; the functions return safe strings.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

STATUS_COLOURS = {
    "pending": "#9e9e9e",
    "processing": "#1e88e5",
    "completed": "#43a047",
    "failed": "#e53935",
    "cancelled": "#fb8c00",
    "deleted": "#6d4c41",
}
SERIES_COLOURS = ["#1e88e5", "#8e24aa", "#43a047", "#fb8c00", "#e53935", "#00897b"]
FONT = 'font-family="system-ui, sans-serif" font-size="11"'


def _nice_max(value: float) -> float:
    """A round axis maximum at or above ``value``."""
    if value <= 0:
        return 1
    magnitude = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * magnitude:
            return step * magnitude
    return 10 * magnitude


def _number(value: float) -> str:
    return f"{value:,.0f}" if value >= 10 or value == int(value) else f"{value:,.1f}"


def _svg(width: int, height: int, body: list[str], label: str) -> SafeString:
    return mark_safe(  # noqa: S308 (every interpolated text is escaped above)
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="100%" role="img" aria-label="{escape(label)}">' + "".join(body) + "</svg>"
    )


def _legend(names: Sequence[str], colours: dict[str, str], x: int, y: int) -> list[str]:
    parts, offset = [], 0
    for name in names:
        parts.append(
            f'<rect x="{x + offset}" y="{y - 9}" width="10" height="10" fill="{colours[name]}"/>'
            f'<text x="{x + offset + 14}" y="{y}" {FONT}>{escape(name)}</text>'
        )
        offset += 22 + 7 * len(name)
    return parts


def stacked_bars(
    labels: Sequence[str],
    series: dict[str, Sequence[int]],
    colours: dict[str, str],
    *,
    title: str,
    width: int = 760,
    height: int = 260,
) -> SafeString:
    """One bar per label, stacked by series (requests per day by status)."""
    left, right, top, bottom = 44, 10, 24, 40
    plot_w, plot_h = width - left - right, height - top - bottom
    totals = [sum(values[i] for values in series.values()) for i in range(len(labels))]
    top_value = _nice_max(max(totals, default=0))
    slot = plot_w / max(len(labels), 1)
    body = _axis(left, top, plot_w, plot_h, top_value)
    for i, label in enumerate(labels):
        x = left + i * slot + slot * 0.15
        y = top + plot_h
        for name, values in series.items():
            value = values[i]
            if not value:
                continue
            h = plot_h * value / top_value
            y -= h
            body.append(
                f'<rect class="bar" x="{x:.1f}" y="{y:.1f}" width="{slot * 0.7:.1f}" '
                f'height="{h:.1f}" fill="{colours.get(name, "#607d8b")}" data-series="{escape(name)}" '
                f'data-value="{value}"><title>{escape(label)} {escape(name)}: {value}</title></rect>'
            )
        every = max(1, math.ceil(len(labels) / 10))
        if i % every == 0:
            body.append(
                f'<text x="{left + i * slot + slot / 2:.1f}" y="{top + plot_h + 14}" '
                f'text-anchor="middle" {FONT}>{escape(label)}</text>'
            )
    body += _legend(list(series), colours, left, height - 8)
    return _svg(width, height, body, title)


def grouped_bars(
    groups: Sequence[str],
    series: dict[str, Sequence[float]],
    *,
    title: str,
    unit: str = "",
    width: int = 760,
    height: int = 240,
) -> SafeString:
    """Bars side by side per group (latency p50/p95 per provider)."""
    left, right, top, bottom = 56, 10, 24, 40
    plot_w, plot_h = width - left - right, height - top - bottom
    colours = {name: SERIES_COLOURS[i % len(SERIES_COLOURS)] for i, name in enumerate(series)}
    top_value = _nice_max(max((v for values in series.values() for v in values), default=0))
    slot = plot_w / max(len(groups), 1)
    bar_w = slot * 0.7 / max(len(series), 1)
    body = _axis(left, top, plot_w, plot_h, top_value, unit)
    for i, group in enumerate(groups):
        for j, (name, values) in enumerate(series.items()):
            value = values[i]
            h = plot_h * value / top_value
            x = left + i * slot + slot * 0.15 + j * bar_w
            body.append(
                f'<rect class="bar" x="{x:.1f}" y="{top + plot_h - h:.1f}" width="{bar_w:.1f}" '
                f'height="{h:.1f}" fill="{colours[name]}" data-series="{escape(name)}" '
                f'data-value="{value:g}"><title>{escape(group)} {escape(name)}: '
                f"{_number(value)}{escape(unit)}</title></rect>"
            )
        body.append(
            f'<text x="{left + i * slot + slot / 2:.1f}" y="{top + plot_h + 14}" '
            f'text-anchor="middle" {FONT}>{escape(group)}</text>'
        )
    body += _legend(list(series), colours, left, height - 8)
    return _svg(width, height, body, title)


def horizontal_bars(
    labels: Sequence[str],
    values: Sequence[float],
    *,
    title: str,
    formatter: Callable[[float], str] = _number,
    width: int = 760,
) -> SafeString:
    """One horizontal bar per label, value printed at its end (storage per category)."""
    row, left, right = 26, 120, 110
    height = row * max(len(labels), 1) + 10
    top_value = max(max(values, default=0), 1)
    body = []
    for i, (label, value) in enumerate(zip(labels, values, strict=True)):
        y = 6 + i * row
        w = (width - left - right) * value / top_value
        body.append(
            f'<text x="{left - 6}" y="{y + 14}" text-anchor="end" {FONT}>{escape(label)}</text>'
            f'<rect class="bar" x="{left}" y="{y}" width="{w:.1f}" height="18" fill="#1e88e5" '
            f'data-series="{escape(label)}" data-value="{value:g}"/>'
            f'<text x="{left + w + 6:.1f}" y="{y + 14}" {FONT}>{escape(formatter(value))}</text>'
        )
    return _svg(width, height, body, title)


def gauge(percent: float, *, warning: float, critical: float, title: str) -> SafeString:
    """A half-circle gauge with the warning and critical zones marked."""
    width, height, cx, cy, r = 240, 140, 120, 120, 95

    def point(p: float) -> tuple[float, float]:
        angle = math.pi * (1 - min(max(p, 0), 100) / 100)
        return cx + r * math.cos(angle), cy - r * math.sin(angle)

    def arc(start: float, end: float, colour: str, stroke: int = 18) -> str:
        (x1, y1), (x2, y2) = point(start), point(end)
        return (
            f'<path d="M {x1:.1f} {y1:.1f} A {r} {r} 0 0 1 {x2:.1f} {y2:.1f}" fill="none" '
            f'stroke="{colour}" stroke-width="{stroke}"/>'
        )

    level = "critical" if percent >= critical else "warning" if percent >= warning else "ok"
    colour = {"ok": "#43a047", "warning": "#fb8c00", "critical": "#e53935"}[level]
    body = [
        arc(0, warning, "#e8f5e9"),
        arc(warning, critical, "#fff3e0"),
        arc(critical, 100, "#ffebee"),
        arc(0, percent, colour, 10) if percent > 0 else "",
        f'<text class="gauge-value" x="{cx}" y="{cy - 10}" text-anchor="middle" '
        f'font-family="system-ui, sans-serif" font-size="26" data-value="{percent:.1f}" '
        f'data-level="{level}">{percent:.1f}%</text>',
        f'<text x="{cx}" y="{cy + 14}" text-anchor="middle" {FONT}>'
        f"warning {warning:g}% · critical {critical:g}%</text>",
    ]
    return _svg(width, height, body, title)


def _axis(left, top, plot_w, plot_h, top_value, unit: str = "") -> list[str]:
    parts = []
    for k in range(5):
        value = top_value * k / 4
        y = top + plot_h - plot_h * k / 4
        parts.append(
            f'<line x1="{left}" x2="{left + plot_w}" y1="{y:.1f}" y2="{y:.1f}" stroke="#e0e0e0"/>'
            f'<text x="{left - 4}" y="{y + 4:.1f}" text-anchor="end" {FONT}>'
            f"{_number(value)}{escape(unit)}</text>"
        )
    return parts
