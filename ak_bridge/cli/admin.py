"""Admin commands: list, show, retry, cancel, export, purge, audit.

Each is safe while the service runs (the Store's writes are short immediate transactions);
each change is audited with actor ``admin``; long runs show a progress bar on stderr and
``--dry-run`` shows what would happen without changing anything.
"""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import click

from ak_bridge.adapters.store import open_store
from ak_bridge.bootstrap import own_identity
from ak_bridge.cli import Failed, _settings, _store, cli
from ak_bridge.core.errors import AkBridgeError
from ak_bridge.core.settings import Settings
from ak_bridge.security.signing import Signer, Verifier, load_trusted
from ak_bridge.service.ports import Store, from_iso

FAILED_STATES = ("dead", "waiting_retry", "held")
OPEN_STATES = ("pending", "waiting_retry", "dead", "held")
ALL_STATES = ("pending", "in_flight", "waiting_retry", "delivered", "dead", "cancelled", "held")


def _now() -> datetime:
    return datetime.now(UTC)


def _select(
    store: Store,
    ids: Sequence[str],
    states: Sequence[str],
    partner: str | None = None,
    failure_class: str | None = None,
    everything: bool = False,
) -> list[dict]:
    """Deliveries named by message id or delivery number, or by filter; in ``states`` only."""
    targets: list[dict] = []
    for ident in ids:
        rows = [store.delivery(int(ident))] if ident.isdigit() else store.deliveries_for(ident)
        rows = [r for r in rows if r is not None]
        if not rows:
            raise Failed(f"no message or delivery {ident}")
        targets += [r.plain() | {"delivery_id": r.id} for r in rows if r.status in states]
    if partner or failure_class or everything:
        targets += [
            v.plain()
            for v in store.find_deliveries(
                status=list(states),
                destination=partner,
                failure_class=failure_class,
                limit=10_000_000,
            )
        ]
    seen: set[int] = set()
    return [t for t in targets if not (t["delivery_id"] in seen or seen.add(t["delivery_id"]))]


def _apply(
    rows: list[dict],
    verb: str,
    done: str,
    action: Callable[[int], list[int]],
    dry_run: bool,
) -> None:
    """Run ``action`` on each delivery with a progress bar, or only list them (dry run)."""
    if not rows:
        click.echo(f"nothing to {verb}")
        return
    if dry_run:
        for t in rows:
            click.echo(
                f"would {verb} delivery {t['delivery_id']} ({t['message_id']} to "
                f"{t['destination']}, {t['status']})"
            )
        click.echo(f"{len(rows)} delivery(ies) would be {done} (dry run)")
        return
    changed = 0
    with click.progressbar(rows, label=verb, file=sys.stderr) as bar:
        for t in bar:
            changed += len(action(t["delivery_id"]))
    click.echo(f"{changed} delivery(ies) {done}")


def _selection_options(fn: Callable) -> Callable:
    for option in reversed(
        [
            click.argument("ids", nargs=-1),
            click.option("--partner", help="Every such delivery to this partner."),
            click.option(
                "--failure-class",
                help="Every such delivery whose last failure was of this class "
                "(transport, timeout, tls, server, fault, schema, business).",
            ),
            click.option("--all", "everything", is_flag=True, help="Every such delivery."),
            click.option("--dry-run", is_flag=True, help="Show what would happen; change nothing."),
        ]
    ):
        fn = option(fn)
    return fn


def _need_selection(
    ids: Sequence[str], partner: str | None, failure_class: str | None, everything: bool
) -> None:
    if not (ids or partner or failure_class or everything):
        raise click.UsageError("give message ids, --partner, --failure-class or --all")


@cli.command()
@click.option(
    "--status",
    "statuses",
    multiple=True,
    type=click.Choice(ALL_STATES),
    help="Delivery state (repeatable).",
)
@click.option("--partner", help="Destination partner id.")
@click.option("--failure-class", help="Last failure class (transport, timeout, fault, …).")
@click.option("--reference", help="Certificate reference number.")
@click.option("--since", type=click.DateTime(), help="Received at or after (UTC).")
@click.option("--csv", "as_csv", is_flag=True, help="Write CSV to standard output.")
@click.option("--limit", default=1000, show_default=True)
@click.pass_context
def messages(
    ctx: click.Context,
    statuses: tuple[str, ...],
    partner: str | None,
    failure_class: str | None,
    reference: str | None,
    since: datetime | None,
    as_csv: bool,
    limit: int,
) -> None:
    """List stored messages with their delivery state (one line per delivery)."""
    rows = _store(ctx).find_deliveries(
        status=list(statuses) or None,
        destination=partner,
        failure_class=failure_class,
        reference_no=reference,
        since=since.replace(tzinfo=UTC) if since else None,
        limit=limit,
    )
    if as_csv:
        writer = csv.DictWriter(sys.stdout, fieldnames=list(rows[0]) if rows else ["delivery_id"])
        writer.writeheader()
        writer.writerows(r.plain() for r in rows)
        return
    click.echo(
        f"{'delivery':>8} {'message id':32} {'from':10} {'to':10} {'reference no':24} "
        f"{'state':13} {'tries':>5}"
    )
    for r in rows:
        click.echo(
            f"{r['delivery_id']:>8} {r['message_id']:32} {r['sender']:10} "
            f"{r['destination']:10} {r['reference_no'] or '-':24} {r['status']:13} "
            f"{r['attempts']:>5}"
        )
    more = " (limit reached: use --limit)" if len(rows) == limit else ""
    click.echo(f"{len(rows)} delivery(ies){more}")


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
    click.echo(f"CO        {m['issuing_country']} {m['reference_no']}")
    click.echo(f"received  {m['created_at']}")
    if m["purged_at"]:
        click.echo(f"purged    {m['purged_at']} (documents removed, metadata kept)")
    if m["issuing_country"] and m["reference_no"]:
        cert = store.certificate(m["issuing_country"], m["reference_no"])
        if cert:
            click.echo(f"CO state  {cert['state']}")
    now = _now()
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
@click.pass_context
def timeline(ctx: click.Context, issuing_country: str, reference_no: str) -> None:
    """One CO's life: its state, then every event of every message about it, in order.

    Includes the COs it replaced, so a corrected CO shows where it came from.
    """
    store = _store(ctx)
    cert = store.certificate(issuing_country, reference_no)
    if cert is None:
        raise Failed(f"no certificate {issuing_country}/{reference_no}")
    click.echo(f"CO        {issuing_country}/{reference_no} for {cert['importing_country']}")
    click.echo(
        f"state     {cert['state']}"
        + (f" (replaced by {cert['replaced_by']})" if cert["replaced_by"] else "")
    )
    refs = [*reversed(store.predecessors(issuing_country, reference_no)), reference_no]
    if len(refs) > 1:
        click.echo(f"chain     {' -> '.join(refs)}")
    events = []
    for ref in refs:
        for m in store.messages_for_certificate(issuing_country, ref):
            for e in store.audit_for(m["id"]):
                events.append((e["at"], ref, m["document_type"], e))
    for at, ref, doc_type, e in sorted(events, key=lambda t: (t[0], t[3]["seq"])):
        extra = f" [{e['code']}]" if e["code"] else ""
        click.echo(
            f"  {at} {ref:22} {doc_type:22} {e['event']}{extra} {e['detail'] or ''}".rstrip()
        )


@cli.command()
@_selection_options
@click.pass_context
def retry(
    ctx: click.Context,
    ids: tuple[str, ...],
    partner: str | None,
    failure_class: str | None,
    everything: bool,
    dry_run: bool,
) -> None:
    """Retry failed deliveries now, with a fresh retry budget and the same message ids.

    IDS are message ids or delivery numbers. Without IDS, say --partner, --failure-class or
    --all. Only dead, waiting and held (shadow mode) deliveries are retried.
    """
    _need_selection(ids, partner, failure_class, everything)
    store = _store(ctx)
    rows = _select(store, ids, FAILED_STATES, partner, failure_class, everything)
    _apply(
        rows,
        "retry",
        "queued for retry",
        lambda did: store.requeue([did], _now(), "admin", "retry requested by an admin"),
        dry_run,
    )


@cli.command()
@_selection_options
@click.option("--reason", required=True, help="Why (kept in the audit trail).")
@click.pass_context
def cancel(
    ctx: click.Context,
    ids: tuple[str, ...],
    partner: str | None,
    failure_class: str | None,
    everything: bool,
    dry_run: bool,
    reason: str,
) -> None:
    """Stop deliveries that are pending, waiting or dead; they are kept, marked cancelled."""
    _need_selection(ids, partner, failure_class, everything)
    store = _store(ctx)
    rows = _select(store, ids, OPEN_STATES, partner, failure_class, everything)
    _apply(
        rows,
        "cancel",
        "cancelled",
        lambda did: store.cancel([did], _now(), "admin", reason),
        dry_run,
    )


@cli.command()
@click.argument("output", type=click.File("w"), default="-")
@click.option("--status", "statuses", multiple=True, type=click.Choice(ALL_STATES))
@click.option("--partner", help="Destination partner id.")
@click.option("--since", type=click.DateTime(), help="Received at or after (UTC).")
@click.pass_context
def export(
    ctx: click.Context,
    output,
    statuses: tuple[str, ...],
    partner: str | None,
    since: datetime | None,
) -> None:
    """Export deliveries with their message metadata as CSV (to OUTPUT, default stdout)."""
    rows = _store(ctx).find_deliveries(
        status=list(statuses) or None,
        destination=partner,
        since=since.replace(tzinfo=UTC) if since else None,
        limit=10_000_000,
    )
    fields = list(rows[0]) if rows else ["delivery_id"]
    writer = csv.DictWriter(output, fieldnames=fields)
    writer.writeheader()
    writer.writerows(r.plain() for r in rows)
    if output is not sys.stdout:
        click.echo(f"{len(rows)} row(s) written", err=True)


@cli.command()
@click.option(
    "--older-than-days",
    type=click.IntRange(min=1),
    required=True,
    help="Retention: documents of finished messages older than this are removed.",
)
@click.option("--dry-run", is_flag=True, help="Count what would be purged; change nothing.")
@click.option(
    "--vacuum",
    is_flag=True,
    help="Then give the freed space back (rewrites the database: needs its size free on disk).",
)
@click.pass_context
def purge(ctx: click.Context, older_than_days: int, dry_run: bool, vacuum: bool) -> None:
    """Remove the documents of old, finished messages; keep their metadata and audit."""
    store = _store(ctx)
    ids = store.purgeable(_now() - timedelta(days=older_than_days))
    if dry_run:
        click.echo(f"{len(ids)} message(s) would be purged (dry run)")
        return
    done = 0
    with click.progressbar(ids, label="purging", file=sys.stderr) as bar:
        for mid in bar:
            done += store.purge([mid], _now(), "admin")
    click.echo(f"{done} message(s) purged; metadata, attempts and audit kept")
    if vacuum:
        store.compact()
        click.echo("space given back (VACUUM)")


@cli.group()
def audit() -> None:
    """The tamper-evident audit trail."""


@audit.command("verify")
@click.option(
    "--anchor",
    "anchor",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="An anchor written earlier by `audit anchor`: the chain must still hold it.",
)
@click.pass_context
def audit_verify(ctx: click.Context, anchor: Path | None) -> None:
    """Check the hash chain: exit 1 if any row was edited, deleted or inserted.

    The chain alone cannot see rows cut off at its very end; an anchor kept elsewhere can.
    """
    assert ctx.parent is not None
    store = _store(ctx.parent)
    problems = store.verify_audit()
    if anchor is not None:
        problems += _check_anchor(_settings(ctx.parent), store, anchor)
    for p in problems:
        click.echo(p)
    if problems:
        raise Failed(f"audit trail broken in {len(problems)} place(s)")
    click.echo("audit trail intact" + (f", and it still holds {anchor}" if anchor else ""))


@audit.command("anchor")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="Where to write the anchor (and OUT.sig.xml, its signature).",
)
@click.pass_context
def audit_anchor(ctx: click.Context, out: Path) -> None:
    """Write the chain's head (seq and hash), signed by the bridge, to keep somewhere else.

    Send it to both customs administrations (e.g. daily); `audit verify --anchor` later
    proves that nothing up to that row was changed or cut off.
    """
    assert ctx.parent is not None
    settings = _settings(ctx.parent)
    head = _store(ctx.parent).audit_row()
    if head is None:
        raise Failed("the audit trail is empty")
    body = {
        "seq": head["seq"],
        "hash": head["hash"],
        "at": head["at"],
        "database": str(settings.database),
    }
    identity = own_identity(settings)
    out.write_text(json.dumps(body, indent=1, sort_keys=True))
    out.with_name(out.name + ".sig.xml").write_bytes(Signer(identity).sign_json(body))
    click.echo(f"anchored audit row {head['seq']} ({head['hash'][:16]}…) in {out}")


def _check_anchor(settings: Settings, store: Store, anchor: Path) -> list[str]:
    body = json.loads(anchor.read_text())
    signature = anchor.with_name(anchor.name + ".sig.xml")
    try:
        Verifier(load_trusted([settings.identity_cert])).verify_json(body, signature.read_bytes())
    except (OSError, AkBridgeError) as exc:
        return [f"{anchor}: not signed by this bridge: {exc}"]
    row = store.audit_row(int(body["seq"]))
    if row is None:
        return [f"audit row {body['seq']} of the anchor is gone: the trail was cut"]
    if row["hash"] != body["hash"]:
        return [f"audit row {body['seq']} differs from the anchor: the trail was rewritten"]
    return []
