"""Evidence packs from the command line: make one for a CO, or check one offline."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import click

from ak_bridge.adapters.store import open_store
from ak_bridge.bootstrap import own_identity
from ak_bridge.cli import Failed, _settings, cli
from ak_bridge.core.settings import Channel
from ak_bridge.ops.evidence import build_pack, verify_pack
from ak_bridge.security.signing import Signer


@cli.group()
def evidence() -> None:
    """Evidence packs: everything about one CO, signed, verifiable offline."""


@evidence.command("export")
@click.argument("issuing_country")
@click.argument("reference_no")
@click.option("--out", "out", type=click.Path(dir_okay=False, path_type=Path), required=True)
@click.option("--issuing-body", "body", default="", help="the CO's issuing body (1.1: KCS, KCCI)")
@click.pass_context
def export_pack(
    ctx: click.Context, issuing_country: str, reference_no: str, out: Path, body: str
) -> None:
    """Write the evidence pack of one CO (and of the COs it replaced) to OUT (a zip)."""
    assert ctx.parent is not None
    settings = _settings(ctx.parent)
    store = open_store(settings)
    if store.certificate(issuing_country, reference_no, body) is None:
        raise Failed(f"no certificate {issuing_country}/{reference_no}")
    identity = own_identity(settings)
    partner_certs = {
        p.id: [c.read_bytes() for c in p.certificates]
        for p in settings.partners.values()
        if p.channel is not Channel.ASW
    }
    data = build_pack(
        store,
        Signer(identity),
        identity.cert_pem,
        partner_certs,
        issuing_country,
        reference_no,
        datetime.now(UTC),
        body,
    )
    out.write_bytes(data)
    click.echo(f"{out}: {len(data)} bytes; check it with: ak-bridge evidence verify {out}")


@evidence.command("verify")
@click.argument("pack", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def verify(pack: Path) -> None:
    """Check a pack offline: manifest signature, file hashes, every signature, audit hashes."""
    problems = verify_pack(pack.read_bytes())
    for p in problems:
        click.echo(p)
    if problems:
        raise Failed(f"{pack}: {len(problems)} problem(s)")
    click.echo(f"{pack}: intact; every signature verifies")
