"""Small inline SVG charts for the offline auditor's report (no JavaScript, no network)."""

from __future__ import annotations

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


def histogram(title: str, edges: list[float], counts: list[int], *, width: int = 640) -> str:
    """Vertical bars over bins ``edges[i]..edges[i+1]``."""
    height, bottom, left = 220, 30, 50
    peak = max(counts, default=0) or 1
    bar = (width - left - 10) / max(len(counts), 1)
    parts = [
        f'<svg class="chart" role="img" aria-label="{escape(title)}" width="{width}" '
        f'height="{height + bottom}" xmlns="http://www.w3.org/2000/svg">',
        f'<text x="0" y="16" font-weight="bold">{escape(title)}</text>',
    ]
    for i, count in enumerate(counts):
        h = (height - 40) * count / peak
        x = left + i * bar
        parts.append(
            f'<rect x="{x:.1f}" y="{height - h:.1f}" width="{bar - 2:.1f}" height="{h:.1f}" '
            f'fill="{_BAR}"><title>{edges[i]:.2f}-{edges[i + 1]:.2f}: {count:,}</title></rect>'
        )
    for i in (0, len(counts) // 2, len(counts)):
        x = left + i * bar
        parts.append(f'<text x="{x:.1f}" y="{height + 18}" font-size="11">{edges[i]:.2f}</text>')
    parts.append(f'<text x="0" y="{height}" font-size="11">0</text>')
    parts.append(f'<text x="0" y="40" font-size="11">{peak:,}</text>')
    parts.append("</svg>")
    return "".join(parts)
