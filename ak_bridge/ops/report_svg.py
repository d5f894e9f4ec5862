"""Inline SVG charts for the pilot report's HTML page, drawn here: no script, no library,
nothing fetched, so the page prints and opens the same on an official's offline laptop.

Every label is escaped: partner ids, document types and error codes reach these charts.
"""

from __future__ import annotations

from html import escape

# Okabe-Ito: told apart by readers with colour-blindness, and in greyscale print.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000")
FONT = 'font-family="Helvetica, Arial, sans-serif" font-size="11"'
# Geometry of the vertical charts: width, height, margins left/bottom/top, legend width.
W, H, LEFT, BOTTOM, TOP, LEGEND = 720, 280, 44, 40, 14, 175
PLOT_W, PLOT_H = W - LEFT - LEGEND - 10, H - TOP - BOTTOM


def _nice_max(value: int) -> tuple[int, int]:
    """The axis top (1, 2 or 5 times a power of ten, at least ``value``) and how many
    steps divide it into whole numbers (0-20 in 4 steps of 5, 0-50 in 5 of 10)."""
    power = 1
    while True:
        for m, steps in ((1, 5), (2, 4), (5, 5)):
            top = m * power
            if top >= value:
                return top, min(steps, top)
        power *= 10


def _frame(width: int, height: int, label: str, body: list[str]) -> str:
    return (
        f'<svg viewBox="0 0 {width} {height}" '
        f'width="100%" role="img" aria-label="{escape(label)}" {FONT}>'
        f"<title>{escape(label)}</title>" + "".join(body) + "</svg>"
    )


def stacked_bars(
    label: str,
    categories: list[str],
    series: dict[str, list[int]],
    every: int = 1,
    legend_shown: bool = True,
) -> str:
    """Vertical bars per category, stacked by series (e.g. messages per day by type)."""
    width, height, left, top, legend, plot_w, plot_h = W, H, LEFT, TOP, LEGEND, PLOT_W, PLOT_H
    totals = [sum(s[i] for s in series.values()) for i in range(len(categories))]
    ymax, steps = _nice_max(max(totals, default=0) or 1)
    body = _y_axis(left, top, plot_w, plot_h, ymax, steps)
    slot = plot_w / max(1, len(categories))
    bar = min(48.0, max(1.0, slot * 0.75))
    for i, cat in enumerate(categories):
        x, y = left + i * slot + (slot - bar) / 2, top + plot_h
        for k, values in enumerate(series.values()):
            h = plot_h * values[i] / ymax
            if h > 0:
                y -= h
                body.append(
                    f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar:.1f}" height="{h:.1f}" '
                    f'fill="{PALETTE[k % len(PALETTE)]}"><title>{escape(cat)}: '
                    f"{escape(list(series)[k])} {values[i]}</title></rect>"
                )
        if i % every == 0:
            body.append(
                f'<text x="{x + bar / 2:.1f}" y="{top + plot_h + 14}" text-anchor="middle" '
                f'font-size="10">'
                f"{escape(cat)}</text>"
            )
    for k, name in enumerate(series if legend_shown else []):
        y = top + 4 + 16 * k
        body.append(
            f'<rect x="{width - legend}" y="{y}" width="10" height="10" '
            f'fill="{PALETTE[k % len(PALETTE)]}"/>'
            f'<text x="{width - legend + 14}" y="{y + 9}">{escape(name)}</text>'
        )
    return _frame(width, height, label, body)


def _y_axis(left: int, top: int, plot_w: float, plot_h: float, ymax: int, steps: int) -> list[str]:
    out = []
    for n in range(steps + 1):
        value = ymax * n / steps
        y = top + plot_h - plot_h * n / steps
        text = f"{value:g}"
        out.append(
            f'<line x1="{left}" y1="{y:.1f}" x2="{left + plot_w:.1f}" y2="{y:.1f}" '
            f'stroke="#ccc" stroke-width="0.5"/>'
            f'<text x="{left - 4}" y="{y + 4:.1f}" text-anchor="end">{text}</text>'
        )
    return out


def column_chart(label: str, bars: list[tuple[str, int]]) -> str:
    """One bar per category with its count on top (e.g. the latency histogram)."""
    columns = stacked_bars(label, [b for b, _ in bars], {label: [n for _, n in bars]}, 1, False)
    return columns.replace("</svg>", _counts_on_top(bars) + "</svg>")


def _counts_on_top(bars: list[tuple[str, int]]) -> str:
    ymax, _ = _nice_max(max((n for _, n in bars), default=0) or 1)
    slot = PLOT_W / max(1, len(bars))
    out = []
    for i, (_, n) in enumerate(bars):
        x = LEFT + i * slot + slot / 2
        y = TOP + PLOT_H - PLOT_H * n / ymax - 3
        out.append(f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="middle">{n}</text>')
    return "".join(out)


def horizontal_bars(label: str, bars: list[tuple[str, int]]) -> str:
    """One labelled horizontal bar per item, longest first (e.g. refusals by error code)."""
    row, left, width = 22, 220, 720
    height = 20 + row * max(1, len(bars))
    top = max((n for _, n in bars), default=0) or 1
    body = []
    for i, (name, n) in enumerate(bars):
        y = 10 + i * row
        w = (width - left - 60) * n / top
        body.append(
            f'<text x="{left - 6}" y="{y + 14}" text-anchor="end">{escape(name)}</text>'
            f'<rect x="{left}" y="{y + 3}" width="{w:.1f}" height="{row - 8}" '
            f'fill="{PALETTE[5]}"/><text x="{left + w + 4:.1f}" y="{y + 14}">{n}</text>'
        )
    if not bars:
        body.append(f'<text x="{left}" y="24">none</text>')
    return _frame(width, height, label, body)
