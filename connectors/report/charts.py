"""Small inline SVG charts for the offline auditor's report (no JavaScript, no network)."""

from __future__ import annotations

import math
from html import escape

_BAR = "#2f6f8f"


def bar_chart(title: str, labels: list[str], values: list[float], *, width: int = 640) -> str:
    """Horizontal bars, one per label, with the value written at the end of each bar."""
    row, label_width, top = 22, 260, 28
    height = top + row * max(len(labels), 1) + 10
    peak = max(values, default=0) or 1
    scale = (width - label_width - 80) / peak
    parts = [
        f'<svg class="chart" role="img" aria-label="{escape(title)}" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}" xmlns="http://www.w3.org/2000/svg">',
        f'<text x="0" y="16" font-weight="bold">{escape(title)}</text>',
    ]
    for i, (label, value) in enumerate(zip(labels, values, strict=True)):
        y = top + i * row
        length = max(value * scale, 0)
        parts.append(f'<text x="0" y="{y + 15}" font-size="12">{escape(label)}</text>')
        parts.append(
            f'<rect x="{label_width}" y="{y + 3}" width="{length:.1f}" height="{row - 6}" '
            f'fill="{_BAR}"><title>{escape(label)}: {value:,.0f}</title></rect>'
        )
        parts.append(
            f'<text x="{label_width + length + 6:.1f}" y="{y + 15}" font-size="12">'
            f"{value:,.0f}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


def histogram(
    title: str,
    edges: list[float],
    counts: list[int],
    *,
    width: int = 640,
    log: bool = True,
    below: int | None = None,
) -> str:
    """Vertical bars over bins ``edges[i]..edges[i+1]``; with ``below``, a first bar, set
    apart, for the values under ``edges[0]``.

    With ``log`` (the default) bar heights follow log10(1 + count), with a gridline at each
    power of ten: one band holding nearly every row would otherwise flatten the others to
    nothing, and a band of 2 rows next to one of 50,000 must still show. Every band with at
    least one row is at least 3 px tall, and each bar's count is in its tooltip."""
    height, bottom, left, right = 220, 30, 56, 24
    plot = height - 40  # the tallest bar
    peak = max([*counts, below or 0]) or 1

    def scaled(value: float) -> float:
        if value <= 0:
            return 0.0
        if log:
            return max(plot * math.log10(1 + value) / math.log10(1 + peak), 3.0)
        return max(plot * value / peak, 3.0)

    slots = len(counts) + (0 if below is None else 3)  # the "below" bar, and a gap
    bar = (width - left - right) / max(slots, 1)
    start = left + (width - left - right) - bar * len(counts)  # where edges[0] sits
    scale = "log scale" if log else "linear scale"
    parts = [
        f'<svg class="chart" role="img" aria-label="{escape(title)} ({scale})" width="{width}" '
        f'height="{height + bottom}" viewBox="0 0 {width} {height + bottom}" '
        'xmlns="http://www.w3.org/2000/svg">',
        f'<text x="0" y="16" font-weight="bold">{escape(title)}</text>',
        f'<text x="{width - right}" y="16" font-size="11" text-anchor="end">rows ({scale})</text>',
    ]
    ticks = [10**k for k in range(int(math.log10(peak)) + 1)] if log else [peak]
    parts.append(
        f'<line x1="{left - 3}" x2="{width - right}" y1="{height}" y2="{height}" stroke="#999"/>'
    )
    for tick in ticks:  # the baseline is 0
        y = height - scaled(tick)
        parts.append(
            f'<line x1="{left - 3}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}" '
            'stroke="#ddd" stroke-width="1"/>'
            f'<text x="{left - 6}" y="{y + 4:.1f}" font-size="11" text-anchor="end">'
            f"{tick:,}</text>"
        )

    def column(x: float, count: int, band: str) -> str:
        h = scaled(count)
        return (
            f'<rect x="{x:.1f}" y="{height - h:.1f}" width="{bar - 2:.1f}" height="{h:.1f}" '
            f'fill="{_BAR}"><title>{escape(band)}: {count:,}</title></rect>'
        )

    def label(x: float, text: str) -> str:
        return (
            f'<text x="{x:.1f}" y="{height + 18}" font-size="11" text-anchor="middle">'
            f"{escape(text)}</text>"
        )

    if below is not None:
        parts.append(column(left, below, f"below {edges[0]:.2f}"))
        parts.append(label(left + (bar - 2) / 2, f"<{edges[0]:.2f}"))
    for i, count in enumerate(counts):
        parts.append(column(start + i * bar, count, f"{edges[i]:.2f}-{edges[i + 1]:.2f}"))
    step = max(len(counts) // 5, 1)
    for i in range(0, len(counts) + 1, step):
        parts.append(label(start + i * bar, f"{edges[i]:.2f}"))
    parts.append("</svg>")
    return "".join(parts)
