"""The pilot report as one self-contained HTML page: inline CSS, inline SVG, no script.

Why one file: it is mailed to officials and archived with the pilot's minutes; it must open
and print (A4) the same years later, offline. The web console serves the same page
(``render_html``). Everything from the store is escaped: partner ids, codes and document
types are partner-supplied strings.
"""

from __future__ import annotations

from html import escape
from math import ceil

from ak_bridge.ops.report_figures import stamp
from ak_bridge.ops.report_summary import summary
from ak_bridge.ops.report_svg import column_chart, horizontal_bars, stacked_bars
from ak_bridge.ops.report_tables import Table, shown, tables
from ak_bridge.ops.reports import PilotReport

CSS = """
@page { size: A4; margin: 14mm 12mm; }
body { font: 11pt/1.45 Helvetica, Arial, sans-serif; color: #111; margin: 2em auto;
       max-width: 60em; padding: 0 1em; }
h1 { font-size: 1.6em; margin: 0 0 .2em; }
h2 { font-size: 1.15em; margin: 1.6em 0 .4em; border-bottom: 1px solid #999; }
.period { color: #333; margin: 0 0 1em; }
.summary { font-size: 1.08em; background: #f3f6f9; border-left: 4px solid #0072B2;
           padding: .7em 1em; }
table { border-collapse: collapse; width: 100%; font-size: .88em; margin: .3em 0; }
th, td { border: 1px solid #bbb; padding: .25em .45em; vertical-align: top; }
td { overflow-wrap: anywhere; }
td:first-child { white-space: nowrap; }
#totals table { width: auto; min-width: 50%; }
th { background: #e8edf2; text-align: left; font-weight: 600; }
td.n { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
p.note, p.none { color: #444; font-size: .9em; margin: .2em 0; }
figure { margin: .6em 0 1em; }
figcaption { font-size: .9em; color: #333; }
dl.defs dt { font-weight: 600; } dl.defs dd { margin: 0 0 .4em 1.2em; }
footer { margin-top: 2em; font-size: .85em; color: #444; }
@media print {
  body { margin: 0; max-width: none; font-size: 9.5pt; }
  table { font-size: 7.5pt; }
  th, td { padding: .2em .25em; }
  figure, tr, .summary { break-inside: avoid; }
  h2, p.note { break-after: avoid; }
  thead { display: table-header-group; }
  .summary { background: none; }
}
"""

DEFINITIONS = (
    (
        "Lane",
        "The certificate's issuing Party → importing Party. Every message about a "
        "certificate (its customs response too) counts in the certificate's lane.",
    ),
    (
        "Latency",
        "From the moment the bridge accepted a message to the moment the receiving "
        "system confirmed it, retries included. Shadow-mode deliveries are not timed.",
    ),
    ("Dead letter", "A delivery the bridge stopped retrying; an operator can retry it."),
    (
        "Refused at the door",
        "A message the bridge did not accept (bad signature, schema, "
        "business rule); the sender got the error code and the Form AK box.",
    ),
    ("Box 4", "Importing customs' decision, per goods item: given, not given, suspended."),
    (
        "Time to the customs decision",
        "From the certificate's receipt to the first customs response about it.",
    ),
    (
        "Percentiles",
        "Median (50th), 95th, 99th: that share of cases took at most this long (nearest rank).",
    ),
)


def _table(table: Table) -> str:
    out = [f'<section id="{escape(table.name)}"><h2>{escape(table.title)}</h2>']
    if table.note:
        out.append(f'<p class="note">{escape(table.note)}</p>')
    if not table.rows:
        out.append('<p class="none">None in this period.</p></section>')
        return "".join(out)
    head = "".join(f'<th scope="col">{escape(c.label)}</th>' for c in table.columns)
    out.append(f"<table><thead><tr>{head}</tr></thead><tbody>")
    for row in table.rows:
        cells = "".join(
            f"<td{'' if c.kind == 'text' else ' class=n'}>{escape(shown(row.get(c.key), c.kind))}"
            "</td>"
            for c in table.columns
        )
        out.append(f"<tr>{cells}</tr>")
    out.append("</tbody></table></section>")
    return "".join(out)


def _figure(svg: str, caption: str) -> str:
    return f"<figure>{svg}<figcaption>{escape(caption)}</figcaption></figure>"


def charts(report: PilotReport) -> list[str]:
    days = sorted(report.daily)
    types = report.document_types
    series = {t: [sum(c.get(t, 0) for c in report.daily[d].values()) for d in days] for t in types}
    labels = [d.strftime("%m-%d") for d in days]
    refusals = report.refusals_by_code().most_common()
    return [
        _figure(
            stacked_bars("Messages received per day", labels, series, ceil(len(days) / 16) or 1),
            "Messages received per day (UTC), all lanes, by document type.",
        ),
        _figure(
            column_chart("Deliveries", list(report.latency_histogram.items())),
            "Delivery latency: how many deliveries took how long, all lanes.",
        ),
        _figure(
            horizontal_bars("Refusals by error code", refusals),
            "Messages refused at the door, by error code.",
        ),
    ]


def render_html(report: PilotReport) -> str:
    """The whole page, ready to write to a file or to serve."""
    parts = tables(report)
    body = [
        "<header><h1>e-Form AK exchange: pilot report</h1>",
        f'<p class="period">Period {escape(report.period)} (UTC) · made '
        f"{escape(stamp(report.generated_at))}</p></header>",
        f'<section id="summary"><h2>Summary</h2><p class="summary">{escape(summary(report))}'
        "</p></section>",
        '<section id="charts"><h2>Charts</h2>',
        *charts(report),
        "</section>",
        _table(parts[0]),
        *(_table(t) for t in parts[1:]),
        '<section id="definitions"><h2>What the figures mean</h2><dl class="defs">',
        *(f"<dt>{escape(t)}</dt><dd>{escape(d)}</dd>" for t, d in DEFINITIONS),
        "</dl></section>",
        "<footer>Made by ak-bridge from its store and audit trail. Times in UTC.</footer>",
    ]
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>Pilot report {escape(report.period)}</title>"
        f'<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<style>{CSS}</style></head><body>\n" + "\n".join(body) + "\n</body></html>\n"
    )
