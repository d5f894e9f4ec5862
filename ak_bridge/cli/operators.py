"""``ak-bridge operators``: the named accounts of the web console (README, Operators)."""

from __future__ import annotations

from datetime import UTC, datetime

import click

from ak_bridge.cli import Failed, _store, cli
from ak_bridge.cli.selecting import emit_json
from ak_bridge.service.operators import ROLES, hash_password
from ak_bridge.service.ports import DuplicateKey


@cli.group()
def operators() -> None:
    """Console accounts: add, list, disable."""


@operators.command("add")
@click.argument("name")
@click.option("--role", type=click.Choice(ROLES), required=True, help="viewer or operator.")
@click.option(
    "--password",
    envvar="AK_BRIDGE_OPERATOR_PASSWORD",
    prompt=True,
    hide_input=True,
    confirmation_prompt=True,
    help="Asked at the prompt (or env AK_BRIDGE_OPERATOR_PASSWORD, for scripts).",
)
@click.pass_context
def add(ctx: click.Context, name: str, role: str, password: str) -> None:
    """Create an account; only its argon2id hash is stored."""
    assert ctx.parent is not None
    try:
        digest = hash_password(password)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="password") from None
    try:
        _store(ctx.parent).add_operator(name, role, digest, datetime.now(UTC))
    except DuplicateKey:
        raise Failed(f"operator {name} exists") from None
    click.echo(f"operator {name} added ({role})")


@operators.command("list")
@click.option("--json", "as_json", is_flag=True, help="Write JSON (README, Operators).")
@click.pass_context
def list_(ctx: click.Context, as_json: bool) -> None:
    """Every account, its role and whether it is disabled."""
    assert ctx.parent is not None
    rows = _store(ctx.parent).operators()
    if as_json:
        emit_json("operators", rows)
        return
    for r in rows:
        state = f"disabled {r['disabled_at']}" if r["disabled_at"] else "active"
        click.echo(f"{r['name']:20} {r['role']:9} {state}")
    click.echo(f"{len(rows)} operator(s)")


@operators.command("disable")
@click.argument("name")
@click.pass_context
def disable(ctx: click.Context, name: str) -> None:
    """Refuse the account's logins from now on (its audit rows stay)."""
    assert ctx.parent is not None
    if not _store(ctx.parent).disable_operator(name, datetime.now(UTC)):
        raise Failed(f"no active operator {name}")
    click.echo(f"operator {name} disabled")
