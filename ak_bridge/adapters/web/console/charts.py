"""Inline SVG bar charts: no script, no CDN, readable in any browser and in a screenshot."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

WIDTH, HEIGHT, PAD = 480, 120, 18


def bars(hours: Sequence[str], series: dict[str, Sequence[int]], title: str) -> str:
    """Stacked bars per hour: ``series`` maps a label (delivered, dead) to one count per hour."""
    colours = {"delivered": "#2e7d32", "dead": "#c62828"}
    totals = [sum(s[i] for s in series.values()) for i in range(len(hours))]
    top = max([*totals, 1])
    step = (WIDTH - 2 * PAD) / max(len(hours), 1)
    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT + 2 * PAD}" role="img" '
        f'aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">',
        f"<title>{escape(title)}</title>",
        f'<line x1="{PAD}" y1="{HEIGHT + PAD}" x2="{WIDTH - PAD}" y2="{HEIGHT + PAD}" '
        'stroke="#888"/>',
        f'<text x="{PAD}" y="{PAD - 4}" font-size="10">max {top}/h</text>',
    ]
    for i, hour in enumerate(hours):
        base = HEIGHT + PAD
        for label, counts in series.items():
            n = counts[i]
            if not n:
                continue
            h = HEIGHT * n / top
            base -= h
            parts.append(
                f'<rect x="{PAD + i * step + 1:.1f}" y="{base:.1f}" width="{step - 2:.1f}" '
                f'height="{h:.1f}" fill="{colours.get(label, "#555")}">'
                f"<title>{escape(hour)}:00 {escape(label)} {n}</title></rect>"
            )
        if i % 6 == 0:
            parts.append(
                f'<text x="{PAD + i * step:.1f}" y="{HEIGHT + 2 * PAD - 4}" font-size="9">'
                f"{escape(hour[11:13])}h</text>"
            )
    parts.append("</svg>")
    return "".join(parts)
