"""``ak-bridge config check``: the effective configuration, secrets masked, and its problems.

Why: a deploying authority changes config/ and wants to know before a restart whether the
service will start and do what it meant: a misspelled key, a wrong type, a key that does
not match its certificate, a certificate without digitalSignature, partners without
credentials. This runs the same loading and start checks as ``serve`` without starting it.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import click

from ak_bridge.cli import Failed, cli
from ak_bridge.config import load_settings, warnings_for
from ak_bridge.core.errors import ConfigError
from ak_bridge.core.settings import Settings

MASK = "***"
SECRET_FIELDS = {"identity_passphrase", "database_password"}


def effective(settings: Settings) -> dict[str, Any]:
    """Settings as JSON-able data; secrets replaced by a mask, hashes by their count."""
    data = dataclasses.asdict(settings)
    for name in SECRET_FIELDS:
        data[name] = MASK if data.get(name) else None
    data["console"]["secret"] = MASK if settings.console.secret else None
    data["format_mappings"] = sorted(settings.format_mappings)
    data["auth"]["admin_token_sha256"] = f"{len(settings.auth.admin_token_hashes)} digest(s)"
    data["auth"].pop("admin_token_hashes", None)
    for pid, partner in settings.partners.items():
        entry = data["partners"][pid]
        entry["token_hashes"] = f"{len(partner.token_hashes)} digest(s)"
        entry["client_cert_hashes"] = f"{len(partner.client_cert_hashes)} digest(s)"
    return data


@cli.group("config")
def config_group() -> None:
    """Check the configuration without starting anything."""


@config_group.command("check")
@click.option("--quiet", "-q", is_flag=True, help="Only the problems, not the configuration.")
@click.pass_context
def check(ctx: click.Context, quiet: bool) -> None:
    """Print the effective configuration (secrets masked) and every problem; exit 1 on one."""
    from ak_bridge.bootstrap import preflight

    assert ctx.parent is not None
    try:
        settings = load_settings(ctx.parent.obj["config"])
    except ConfigError as exc:
        raise Failed(f"configuration error: {exc}") from None
    if not quiet:
        click.echo(json.dumps(effective(settings), indent=2, sort_keys=True, default=str))
    problems = []
    try:
        preflight(settings)
    except ConfigError as exc:
        problems.append(str(exc))
    for warning in warnings_for(settings):
        click.echo(f"warning: {warning}", err=True)
    if problems:
        raise Failed("; ".join(problems))
    click.echo("configuration ok", err=True)
