"""Read-only admin commands: messages, refusals, export, show, timeline.

Listings go through ``service/selection.py`` (the web console's filters too): a partner
matches either side, and values that name nothing are a usage error with a "did you mean".
"""

from __future__ import annotations

import csv
import sys
from collections.abc import Callable
from datetime import UTC, datetime

import click

from ak_bridge.adapters.store import open_store
from ak_bridge.cli import Failed, _settings, _store, cli
from ak_bridge.cli.selecting import checked, emit_json, utc
from ak_bridge.core.model import certificate_name
from ak_bridge.service import selection
from ak_bridge.service.ports import from_iso
from ak_bridge.service.selection import LISTING_FIELDS, Selection


def _filters(fn: Callable) -> Callable:
    for option in reversed(
        [
            click.option(
                "--status", "statuses", multiple=True, help="Delivery state (repeatable)."
            ),
            click.option(
                "--partner", "partners", multiple=True, help="Sender or destination (repeatable)."
            ),
            click.option("--direction", "directions", multiple=True, help="in or out."),
            click.option(
                "--document-type", "document_types", multiple=True, help="FORM_AK, ACK, …"
            ),
            click.option(
                "--failure-class",
                "failure_classes",
                multiple=True,
                help="Last failure class (transport, timeout, fault, …).",
            ),
            click.option("--reference", help="Certificate reference number."),
            click.option("--partner-message-id", help="The partner's own message id."),
            click.option("--since", type=click.DateTime(), help="Received at or after (UTC)."),
            click.option("--until", type=click.DateTime(), help="Received before (UTC)."),
        ]
    ):
        fn = option(fn)
    return fn


def _selection(ctx: click.Context, store, kw: dict) -> Selection:
    return checked(
        ctx,
        store,
        Selection(
            partners=kw["partners"],
            states=kw["statuses"],
            directions=kw["directions"],
            document_types=kw["document_types"],
            failure_classes=kw["failure_classes"],
            reference_no=kw["reference"],
            partner_message_id=kw["partner_message_id"],
            since=utc(kw["since"]),
            until=utc(kw["until"]),
        ),
    )


def _write_csv(out, rows: list[dict], fields: tuple[str, ...]) -> None:
    writer = csv.DictWriter(out, fieldnames=list(fields), extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)


@cli.command()
@_filters
@click.option("--csv", "as_csv", is_flag=True, help="Write CSV to standard output.")
@click.option("--json", "as_json", is_flag=True, help="Write JSON (README, Operators).")
@click.option("--limit", default=1000, show_default=True)
@click.pass_context
def messages(ctx: click.Context, as_csv: bool, as_json: bool, limit: int, **kw) -> None:
    """List stored messages with their delivery state (one line per delivery)."""
    store = _store(ctx)
    rows = selection.search(store, _selection(ctx, store, kw), limit=limit)
    if as_csv:
        _write_csv(sys.stdout, rows, LISTING_FIELDS)
        return
    if as_json:
        emit_json("messages", rows)
        return
    click.echo(
        f"{'received':20} {'delivery':>8} {'message id':32} {'document':22} {'from':10} "
        f"{'to':10} {'reference no':24} {'state':13} {'tries':>5}  failure"
    )
    for r in rows:
        click.echo(
            f"{r['created_at'][:19] + 'Z':20} {r['delivery_id']:>8} {r['message_id']:32} "
            f"{r['document_type']:22} {r['sender']:10} {r['destination']:10} "
            f"{r['reference_no'] or '-':24} {r['status']:13} {r['attempts']:>5}  "
            f"{selection.failure_reason(r)[:60]}".rstrip()
        )
    more = " (limit reached: use --limit)" if len(rows) == limit else ""
    click.echo(f"{len(rows)} delivery(ies){more}")


@cli.command()
@click.option("--partner", "partners", multiple=True, help="Partner refused (repeatable).")
@click.option("--code", "codes", multiple=True, help="Error code (repeatable).")
@click.option("--partner-message-id", help="The partner's own message id.")
@click.option("--since", type=click.DateTime(), help="At or after (UTC).")
@click.option("--until", type=click.DateTime(), help="Before (UTC).")
@click.option("--json", "as_json", is_flag=True, help="Write JSON (README, Operators).")
@click.option("--limit", default=1000, show_default=True)
@click.pass_context
def refusals(
    ctx: click.Context,
    partners: tuple[str, ...],
    codes: tuple[str, ...],
    partner_message_id: str | None,
    since: datetime | None,
    until: datetime | None,
    as_json: bool,
    limit: int,
) -> None:
    """Messages refused at the door, newest first: code, Form AK box, partner, their id."""
    store = _store(ctx)
    checked(ctx, store, Selection(partners=partners, since=utc(since), until=utc(until)))
    rows = [
        selection.refusal_view(r)
        for r in store.refusals(
            partners=partners,
            codes=codes,
            partner_message_id=partner_message_id,
            since=utc(since),
            until=utc(until),
            limit=limit,
        )
    ]
    if as_json:
        emit_json("refusals", rows)
        return
    click.echo(f"{'at':20} {'audit':>7} {'code':28} {'box':8} {'partner':12} their message id")
    for r in rows:
        click.echo(
            f"{r['at'][:19]:20} {r['seq']:>7} {r['code'] or '-':28} {r['box'] or '-':8} "
            f"{r['partner'] or '-':12} {r['partner_message_id'] or '-'}"
        )
    click.echo(f"{len(rows)} refusal(s)")


@cli.command()
@click.argument("output", type=click.File("w"), default="-")
@_filters
@click.pass_context
def export(ctx: click.Context, output, **kw) -> None:
    """Export deliveries with their message metadata as CSV (to OUTPUT, default stdout).

    The header is always whole, even when nothing matches.
    """
    store = _store(ctx)
    rows = selection.search(store, _selection(ctx, store, kw), limit=10_000_000)
    _write_csv(output, rows, LISTING_FIELDS)
    if output is not sys.stdout:
        click.echo(f"{len(rows)} row(s) written", err=True)


@cli.command()
@click.argument("message_id")
@click.pass_context
def show(ctx: click.Context, message_id: str) -> None:
    """One message with its deliveries, every attempt, why it waits, and its audit events."""
    settings = _settings(ctx)
    store = open_store(settings)
    m = store.message(message_id)
    if m is None:
        raise Failed(f"no message {message_id}")
    click.echo(f"message   {m['id']}  ({m['document_type']}, function {m['function']})")
    click.echo(f"from      {m['sender']} via {m['via']}, their id {m['partner_message_id']}")
    body = f" (issued by {m['issuing_body']})" if m["issuing_body"] else ""
    click.echo(f"CO        {m['issuing_country']} {m['reference_no']}{body}")
    click.echo(f"received  {m['created_at']}")
    if m["purged_at"]:
        click.echo(f"purged    {m['purged_at']} (documents removed, metadata kept)")
    if m["issuing_country"] and m["reference_no"]:
        cert = store.certificate(m["issuing_country"], m["reference_no"], m["issuing_body"])
        if cert:
            click.echo(f"CO state  {cert['state']}")
    now = datetime.now(UTC)
    for d in store.deliveries_for(message_id):
        partner = settings.partner(d["destination"])
        max_attempts = partner.retry.max_attempts if partner else "?"
        in_round = d["attempts"] - d["budget_start"]
        click.echo(
            f"delivery {d['id']} to {d['destination']} ({d['channel']}): {d['status']}, "
            f"attempt {in_round} of {max_attempts} ({d['attempts']} in all)"
        )
        if d["status"] == "waiting_retry":
            wait = (from_iso(d["next_attempt_at"]) - now).total_seconds()
            click.echo(
                f"  waiting: next attempt at {d['next_attempt_at']} (in {max(0, wait):.0f}s)"
                f" after {d['last_failure_class']}: {d['last_error']}"
            )
        if d["status"] in ("pending", "waiting_retry"):
            breaker = store.breaker(d["destination"])
            if breaker.state(now) == "open":
                click.echo(
                    f"  breaker open until {breaker.open_until:%Y-%m-%dT%H:%M:%SZ} "
                    f"after {breaker.failures} failures in a row: nothing is sent before"
                )
        if d["status"] == "dead":
            click.echo(f"  dead letter ({d['last_failure_class']}): {d['last_error']}")
        for a in store.attempts_for(d["id"]):
            click.echo(
                f"  attempt {a['number']} at {a['started_at']}: {a['outcome']} "
                f"{a['failure_class'] or ''} {a['http_status'] or ''} "
                f"{a['duration_ms']:.0f} ms {a['detail'] or ''}".rstrip()
            )
    click.echo("audit")
    for e in store.audit_for(message_id):
        extra = f" [{e['code']} box {e['box']}]" if e["code"] else ""
        click.echo(f"  {e['at']} {e['event']}{extra} {e['detail'] or ''}".rstrip())


@cli.command()
@click.argument("issuing_country")
@click.argument("reference_no")
@click.option("--issuing-body", "body", default="", help="the CO's issuing body (1.1: KCS, KCCI)")
@click.pass_context
def timeline(ctx: click.Context, issuing_country: str, reference_no: str, body: str) -> None:
    """One CO's life: its state, then every event of every message about it, in order.

    Includes the COs it replaced, so a corrected CO shows where it came from. The issuing
    body is part of a 1.1 CO's key: KCS's and KCCI's COs with one number are two COs.
    """
    store = _store(ctx)
    cert = store.certificate(issuing_country, reference_no, body)
    about = certificate_name(issuing_country, reference_no, body)
    if cert is None:
        others = [b for b in store.certificates_numbered(issuing_country, reference_no) if b]
        hint = f" (issued by {', '.join(others)}: use --issuing-body)" if others else ""
        raise Failed(f"no certificate {about}{hint}")
    click.echo(f"CO        {about} for {cert['importing_country']}")
    click.echo(
        f"state     {cert['state']}"
        + (f" (replaced by {cert['replaced_by']})" if cert["replaced_by"] else "")
    )
    refs = [*reversed(store.predecessors(issuing_country, reference_no, body)), reference_no]
    if len(refs) > 1:
        click.echo(f"chain     {' -> '.join(refs)}")
    events = []
    for ref in refs:
        for m in store.messages_for_certificate(issuing_country, ref, body):
            for e in store.audit_for(m["id"]):
                events.append((e["at"], ref, m["document_type"], e))
    for at, ref, doc_type, e in sorted(events, key=lambda t: (t[0], t[3]["seq"])):
        extra = f" [{e['code']}]" if e["code"] else ""
        click.echo(
            f"  {at} {ref:22} {doc_type:22} {e['event']}{extra} {e['detail'] or ''}".rstrip()
        )
