"""Onboarding a partner: ``ak-bridge conformance`` and ``ak-bridge contracts check``.

Why here and not in a test bed: the suite must run with the bridge's real configuration,
senders and signing key against the partner's configured (UAT) endpoint, so that a PASS
says something about production; and the drift watch must run from cron beside the
bridge. Exit 1 means a check failed (conformance) or a partner's contract drifted.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import click

from ak_bridge.adapters.outbound import build_senders
from ak_bridge.bootstrap import own_identity
from ak_bridge.cli import Failed, _settings, cli
from ak_bridge.core.errors import ConfigError
from ak_bridge.core.settings import Channel, PartnerConfig
from ak_bridge.formats import build_codecs
from ak_bridge.onboarding.conformance import Status, run_conformance, write_signed_report
from ak_bridge.onboarding.contract_drift import ContractState, check_partner
from ak_bridge.security.signing import Signer
from ak_bridge.sim.certificates import sample_form_ak

__all__ = ["conformance", "contracts_group"]


@cli.command()
@click.argument("partner_id")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the report JSON here and the bridge's signature to OUT.sig.xml.",
)
@click.option(
    "--latency-sends",
    type=click.IntRange(1, 100),
    default=5,
    show_default=True,
    help="Accepted sends timed for the latency check.",
)
@click.option(
    "--production",
    is_flag=True,
    help="Run against the production endpoint (it receives test certificates).",
)
@click.pass_context
def conformance(
    ctx: click.Context,
    partner_id: str,
    as_json: bool,
    out: Path | None,
    latency_sends: int,
    production: bool,
) -> None:
    """Run the conformance suite against PARTNER_ID's UAT endpoint (``uat_endpoint``).

    Sends signed sample certificates (references CONF-<timestamp>-n) through the bridge's
    real senders: WSDL, acceptance, idempotency, tampered signature, cancellation, latency.
    Refuses the production endpoint unless --production is given: the samples are test
    certificates a partner's live system would take as real.
    Exit 0 when every check passed or was skipped, 1 when one failed.
    """
    settings = _settings(ctx)
    partner = settings.partner(partner_id)
    if partner is None:
        raise Failed(f"no partner {partner_id!r} in the configuration")
    if partner.channel is Channel.ASW:
        raise Failed(f"{partner_id} is the ASW gateway: the suite is for Form AK partners")
    partner = dataclasses.replace(partner, endpoint=_target(partner, production))
    try:
        identity = own_identity(settings)
        signer = Signer(identity)
        codecs = build_codecs(settings.format_mappings)
    except ConfigError as exc:
        raise Failed(f"configuration error: {exc}") from None
    report = run_conformance(
        settings,
        partner,
        build_senders(settings),
        signer,
        codecs,
        sample_form_ak,
        latency_sends=latency_sends,
    )
    if as_json:
        click.echo(json.dumps(report, indent=2, ensure_ascii=False))
    else:
        click.echo(f"{report['partner']} at {report['endpoint']} ({report['reference_prefix']})")
        for r in report["results"]:
            click.echo(f"{r['status']:<4}  {r['check']:<9}  {r['seconds']:7.3f}s  {r['reason']}")
    if out is not None:
        sig = write_signed_report(report, signer, out)
        click.echo(f"report: {out}; bridge signature: {sig}", err=as_json)
    summary = report["summary"]
    if summary["fail"]:
        raise Failed(f"{summary['fail']} check(s) failed")
    if not as_json:
        click.echo(f"{Status.PASS}: {summary['pass']} passed, {summary['skip']} skipped")


def _target(partner: PartnerConfig, production: bool) -> str:
    """The UAT endpoint; the production one only when asked for in so many words."""
    if production:
        return partner.endpoint
    if partner.uat_endpoint is None:
        raise Failed(
            f"{partner.id} has no uat_endpoint: the suite sends test certificates; set"
            f" uat_endpoint, or pass --production to send them to {partner.endpoint}"
        )
    if partner.uat_endpoint.rstrip("/") == partner.endpoint.rstrip("/"):
        raise Failed(
            f"{partner.id}'s uat_endpoint is its production endpoint ({partner.endpoint}):"
            " pass --production to send test certificates there"
        )
    return partner.uat_endpoint


@cli.group("contracts")
def contracts_group() -> None:
    """Partners' published contracts compared with ours."""


@contracts_group.command("check")
@click.option("--partner", "partners", multiple=True, help="Only this SOAP partner (repeatable).")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per partner, in a list.")
@click.pass_context
def contracts_check(ctx: click.Context, partners: tuple[str, ...], as_json: bool) -> None:
    """Fetch every SOAP partner's ?wsdl and compare it with our local WSDL for it.

    same | drifted (what differs) | unreachable. Exit 1 when one has drifted or cannot be
    reached (an unwatched contract is not a same one); run it from cron to hear of a
    contract change before the next delivery fails.
    """
    settings = _settings(ctx)
    chosen = [
        p
        for p in settings.partners.values()
        if p.channel is Channel.SOAP and (not partners or p.id in partners)
    ]
    unknown = set(partners) - {p.id for p in chosen}
    if unknown:
        raise Failed(f"not a configured SOAP partner: {', '.join(sorted(unknown))}")
    statuses = [check_partner(p) for p in chosen]
    if as_json:
        click.echo(json.dumps([s.as_dict() for s in statuses], indent=2))
    else:
        for s in statuses:
            detail = f"  {s.detail}" if s.detail else ""
            click.echo(f"{s.partner:<12} {s.state:<11} {s.url}{detail}")
            for d in s.differences:
                click.echo(f"    {d}")
    drifted = [s.partner for s in statuses if s.state is ContractState.DRIFTED]
    unreachable = [s.partner for s in statuses if s.state is ContractState.UNREACHABLE]
    problems = [f"contract drifted: {', '.join(drifted)}"] if drifted else []
    problems += [f"unreachable: {', '.join(unreachable)}"] if unreachable else []
    if problems:
        raise Failed("; ".join(problems))
