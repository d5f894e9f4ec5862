"""Records to rows and back: timestamps are stored as one sortable UTC text form."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields
from datetime import datetime
from functools import cache
from typing import Any, TypeVar

from ak_bridge.service.ports import from_iso, iso
from ak_bridge.service.records import Record

R = TypeVar("R", bound=Record)


@cache
def _columns(cls: type[Record]) -> tuple[tuple[str, bool], ...]:
    """(name, is a timestamp) per field; ``at`` of the audit stays the hashed text (a str)."""
    return tuple((f.name, "datetime" in str(f.type)) for f in fields(cls))


def to_row(record: Record, *, without: tuple[str, ...] = ()) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, _ in _columns(type(record)):
        if name in without:
            continue
        value = getattr(record, name)
        out[name] = iso(value) if isinstance(value, datetime) else value
    return out


def from_row(cls: type[R], row: Mapping[str, Any]) -> R:
    values: dict[str, Any] = {}
    for name, stamp in _columns(cls):
        if name in row:
            value = row[name]
            if isinstance(value, memoryview):
                value = bytes(value)
            values[name] = from_iso(value) if stamp and isinstance(value, str) else value
    return cls(**values)


def from_rows(cls: type[R], rows: list[dict[str, Any]]) -> list[R]:
    return [from_row(cls, r) for r in rows]
