"""The pilot report's tables as CSV files, one per table, for a spreadsheet.

Every file gets its header row even when the table has no rows, so a script reading
``refusals.csv`` of a quiet month finds the columns it expects. Durations are in seconds.
"""

from __future__ import annotations

import csv
from pathlib import Path

from ak_bridge.ops.report_tables import raw, tables
from ak_bridge.ops.reports import PilotReport


def csv_header(label: str, kind: str) -> str:
    return f"{label} (s)" if kind == "seconds" else f"{label} (%)" if kind == "pct" else label


def write_csv(report: PilotReport, directory: Path) -> list[Path]:
    """Write ``<table>.csv`` for every table into ``directory``; the paths written."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for table in tables(report):
        path = directory / f"{table.name}.csv"
        with path.open("w", newline="", encoding="utf-8") as out:
            writer = csv.writer(out)
            writer.writerow([csv_header(c.label, c.kind) for c in table.columns])
            for row in table.rows:
                writer.writerow([raw(row.get(c.key), c.kind) for c in table.columns])
        written.append(path)
    return written
