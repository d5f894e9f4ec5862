"""The ``ak-bridge`` command: serve, worker, demo and the admins' tools.

Exit codes: 0 ok, 1 the thing asked for failed, 2 usage error (click's own). Every admin
command is safe while the service runs: it goes through the same Store, whose writes are
short immediate transactions.
"""

from __future__ import annotations

import csv
import logging
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import click

from ..config import Settings, load_settings
from ..errors import ConfigError
from ..store import Store, from_iso

FAILED_STATES = ("dead", "waiting_retry")


class Failed(click.ClickException):
    exit_code = 1


def _settings(ctx: click.Context) -> Settings:
    try:
        return load_settings(ctx.obj["config"])
    except ConfigError as exc:
        raise Failed(f"configuration error: {exc}") from None


def _store(ctx: click.Context) -> Store:
    return Store.open(_settings(ctx).database)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config",
    "config",
    envvar="AK_BRIDGE_CONFIG",
    default="config",
    show_default=True,
    type=click.Path(file_okay=False),
    help="Configuration directory (ak_bridge.toml, partners.toml, formats/).",
)
@click.option("-v", "--verbose", is_flag=True, help="Log at INFO level.")
@click.pass_context
def cli(ctx: click.Context, config: str, verbose: bool) -> None:
    """ak-bridge: the e-Form AK gateway between KCS UNI-PASS and AMS national CO systems."""
    ctx.ensure_object(dict)
    ctx.obj["config"] = config
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


@cli.command()
@click.option("--host", default=None, help="Listen address (default: from config).")
@click.option("--port", default=None, type=int, help="Listen port (default: from config).")
@click.pass_context
def serve(ctx: click.Context, host: str | None, port: int | None) -> None:
    """Run the web service (SOAP for KCS and AMS, REST, health).

    For production run it under gunicorn instead: gunicorn 'ak_bridge:create_app()'.
    """
    from werkzeug.serving import run_simple

    from .. import create_app

    settings = _settings(ctx)
    run_simple(host or settings.host, port or settings.port, create_app(settings), threaded=True)


@cli.command()
@click.option("--once", is_flag=True, help="Run one delivery sweep and exit.")
@click.pass_context
def worker(ctx: click.Context, once: bool) -> None:
    """Run the scheduler that delivers and retries (exactly one process should)."""
    from ..bootstrap import build_exchange
    from ..scheduler import build_scheduler, sweep

    settings = _settings(ctx)
    exchange = build_exchange(settings)
    if once:
        sweep(exchange)
        return
    click.echo(f"worker {exchange.worker_id}: sweeping every {settings.worker_interval_seconds}s")
    build_scheduler(exchange, settings.worker_interval_seconds).start()


@cli.command()
@click.option(
    "--workdir",
    type=click.Path(file_okay=False),
    default=None,
    help="Where to put the demo's PKI, config and database (default: a temp dir).",
)
def demo(workdir: str | None) -> None:
    """Run a real exchange: simulated KCS, Indonesia (SOAP) and Viet Nam (REST) on loopback."""
    from ..demo import run_demo

    if workdir:
        code = run_demo(Path(workdir), click.echo)
    else:
        with tempfile.TemporaryDirectory(prefix="ak-bridge-demo-") as tmp:
            code = run_demo(Path(tmp), click.echo)
    sys.exit(code)


@cli.command()
@click.option(
    "--status",
    "statuses",
    multiple=True,
    type=click.Choice(["pending", "in_flight", "waiting_retry", "delivered", "dead", "cancelled"]),
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
    """List stored messages with their delivery state."""
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
        writer.writerows(rows)
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
    click.echo(f"{len(rows)} message(s)")


@cli.command()
@click.argument("message_id")
@click.pass_context
def show(ctx: click.Context, message_id: str) -> None:
    """One message with its deliveries, every attempt and its audit events."""
    settings = _settings(ctx)
    store = Store.open(settings.database)
    m = store.message(message_id)
    if m is None:
        raise Failed(f"no message {message_id}")
    click.echo(f"message   {m['id']}  ({m['document_type']}, function {m['function']})")
    click.echo(f"from      {m['sender']} via {m['via']}, their id {m['partner_message_id']}")
    click.echo(f"CO        {m['issuing_country']} {m['reference_no']}")
    click.echo(f"received  {m['created_at']}")
    if m["issuing_country"] and m["reference_no"]:
        cert = store.certificate(m["issuing_country"], m["reference_no"])
        if cert:
            click.echo(f"CO state  {cert['state']}")
    now = datetime.now(UTC)
    for d in store.deliveries_for(message_id):
        partner = settings.partner(d["destination"])
        max_attempts = partner.retry.max_attempts if partner else "?"
        click.echo(
            f"delivery {d['id']} to {d['destination']} ({d['channel']}): {d['status']}, "
            f"{d['attempts']} of {max_attempts} attempts"
        )
        if d["status"] == "waiting_retry":
            wait = (from_iso(d["next_attempt_at"]) - now).total_seconds()
            click.echo(
                f"  waiting: next attempt at {d['next_attempt_at']} "
                f"(in {max(0, wait):.0f}s) after {d['last_failure_class']}: {d['last_error']}"
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
@click.argument("ids", nargs=-1)
@click.option("--partner", help="Every failed delivery to this partner.")
@click.option("--failure-class", help="Every failed delivery of this failure class.")
@click.option("--all", "all_failed", is_flag=True, help="Every failed delivery.")
@click.option("--dry-run", is_flag=True, help="Show what would be retried; change nothing.")
@click.pass_context
def retry(
    ctx: click.Context,
    ids: tuple[str, ...],
    partner: str | None,
    failure_class: str | None,
    all_failed: bool,
    dry_run: bool,
) -> None:
    """Retry failed deliveries now, keeping their message ids.

    IDS are message ids or delivery numbers. Without IDS, say --partner, --failure-class or
    --all. Only dead and waiting deliveries are retried.
    """
    if not (ids or partner or failure_class or all_failed):
        raise click.UsageError("give message ids, --partner, --failure-class or --all")
    store = _store(ctx)
    targets: list[dict] = []
    for ident in ids:
        rows = [store.delivery(int(ident))] if ident.isdigit() else store.deliveries_for(ident)
        rows = [r for r in rows if r is not None]
        if not rows:
            raise Failed(f"no message or delivery {ident}")
        targets += [r | {"delivery_id": r["id"]} for r in rows if r["status"] in FAILED_STATES]
    if partner or failure_class or all_failed:
        targets += store.find_deliveries(
            status=list(FAILED_STATES),
            destination=partner,
            failure_class=failure_class,
            limit=1_000_000,
        )
    seen: set[int] = set()
    unique = [t for t in targets if not (t["delivery_id"] in seen or seen.add(t["delivery_id"]))]
    if not unique:
        click.echo("nothing to retry")
        return
    if dry_run:
        for t in unique:
            click.echo(
                f"would retry delivery {t['delivery_id']} ({t['message_id']} to "
                f"{t['destination']}, {t['status']})"
            )
        click.echo(f"{len(unique)} delivery(ies) would be retried")
        return
    changed: list[int] = []
    with click.progressbar(unique, label="requeueing", file=sys.stderr) as bar:
        for t in bar:
            changed += store.requeue(
                [t["delivery_id"]],
                datetime.now(UTC),
                "admin",
                "retry requested with ak-bridge retry",
            )
    click.echo(f"{len(changed)} delivery(ies) queued for retry")


@cli.group()
def audit() -> None:
    """The tamper-evident audit trail."""


@audit.command("verify")
@click.pass_context
def audit_verify(ctx: click.Context) -> None:
    """Check the hash chain: exit 1 if any row was edited, deleted or inserted."""
    problems = _store(ctx.parent).verify_audit() if ctx.parent else []
    for p in problems:
        click.echo(p)
    if problems:
        raise Failed(f"audit trail broken in {len(problems)} place(s)")
    click.echo("audit trail intact")


@cli.command()
@click.option("--older-than-days", type=int, default=None, help="Only list what is this old.")
@click.pass_context
def report(ctx: click.Context, older_than_days: int | None) -> None:
    """Pilot report: deliveries by state and backlog per partner."""
    store = _store(ctx)
    click.echo("deliveries by state")
    for state, n in sorted(store.counts_by_status().items()):
        click.echo(f"  {state:14} {n}")
    click.echo("backlog per partner")
    now = datetime.now(UTC)
    for row in store.backlog():
        age = now - from_iso(row["oldest"])
        if older_than_days is None or age >= timedelta(days=older_than_days):
            click.echo(f"  {row['destination']:12} {row['backlog']:6} oldest {age}")


def main() -> None:
    cli(obj={})
