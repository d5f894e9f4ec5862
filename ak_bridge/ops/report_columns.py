"""A table of the pilot report: named columns with their kind, and how a cell is shown.

Why a kind per column: CSV writes the raw value (durations in seconds, percentages as numbers),
text and HTML the humane form (``human_duration``), from the same rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from ak_bridge.ops.report_figures import human_duration, human_pct

Kind = Literal["text", "int", "pct", "seconds", "number"]


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    kind: Kind = "int"


@dataclass(frozen=True)
class Table:
    name: str  # file name of its CSV
    title: str
    columns: tuple[Column, ...]
    rows: list[dict[str, Any]]
    note: str = ""


def shown(value: Any, kind: Kind) -> str:
    """A cell as people read it."""
    if value is None or value == "":
        return "-"
    if kind == "seconds":
        return human_duration(value)
    if kind == "pct":
        return human_pct(value)
    if kind == "number":
        return f"{value:.2f}"
    return str(value)


def raw(value: Any, kind: Kind) -> Any:
    """A cell for a spreadsheet: numbers stay numbers; durations in seconds, to the ms."""
    if value is None:
        return ""
    if kind in ("seconds", "pct", "number"):
        return round(float(value), 3)
    return value


def col(key: str, label: str, kind: Kind = "int") -> Column:
    return Column(key, label, kind)
