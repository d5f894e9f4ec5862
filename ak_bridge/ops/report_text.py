"""The pilot report on a terminal: the summary paragraph, then each table, aligned."""

from __future__ import annotations

import textwrap

from ak_bridge.ops.report_figures import stamp
from ak_bridge.ops.report_summary import summary
from ak_bridge.ops.report_tables import Table, shown, tables
from ak_bridge.ops.reports import PilotReport


def _table(table: Table) -> list[str]:
    if not table.rows:
        return [f"{table.title}: none", ""]
    cells = [[c.label for c in table.columns]]
    cells += [[shown(row.get(c.key), c.kind) for c in table.columns] for row in table.rows]
    widths = [max(len(line[i]) for line in cells) for i in range(len(table.columns))]
    numeric = [c.kind != "text" for c in table.columns]
    out = [table.title]
    for line in cells:
        parts = [
            v.rjust(w) if num else v.ljust(w)
            for v, w, num in zip(line, widths, numeric, strict=True)
        ]
        out.append("  " + "  ".join(parts).rstrip())
    if table.note:
        out.append(f"  ({table.note})")
    return [*out, ""]


def render_text(report: PilotReport) -> str:
    lines = [
        f"Pilot report {report.period} (UTC), made {stamp(report.generated_at)}",
        "",
        *textwrap.wrap(summary(report), 96),
        "",
    ]
    for table in tables(report):
        lines += _table(table)
    return "\n".join(lines)
