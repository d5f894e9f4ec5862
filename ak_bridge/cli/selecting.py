"""What the admin commands share: checked filters, the operator's name, one JSON shape.

A filter value that names nothing (``--partner VN``, ``--failure-class falut``) is a usage
error (exit 2) with a "did you mean", never an empty listing or "nothing to retry".
"""

from __future__ import annotations

import getpass
import json
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import click

from ak_bridge.cli import _settings
from ak_bridge.service import selection
from ak_bridge.service.ports import Store


def actor_option(fn: Callable) -> Callable:
    """``--operator``, else AK_BRIDGE_OPERATOR, else the OS login: who the audit names."""
    return click.option(
        "--operator",
        envvar="AK_BRIDGE_OPERATOR",
        default=getpass.getuser,
        show_default="the OS login name",
        help="Your name in the audit trail (env AK_BRIDGE_OPERATOR).",
    )(fn)


def utc(moment: datetime | None) -> datetime | None:
    return moment.replace(tzinfo=UTC) if moment else None


def checked(ctx: click.Context, store: Store, sel: selection.Selection) -> selection.Selection:
    """The selection, or exit 2 naming the value that matches nothing."""
    partners = selection.known_partners(store, _settings(ctx).partners)
    try:
        return selection.check(sel, partners)
    except ValueError as exc:
        raise click.UsageError(str(exc), ctx) from None


def emit_json(command: str, items: Sequence[Any]) -> None:
    """Every admin ``--json``: {"command": ..., "count": n, "items": [...]}."""
    click.echo(json.dumps(selection.envelope(command, items), indent=2, default=_text))


def _text(value: Any) -> str:
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%dT%H:%M:%SZ")
    return str(value)
