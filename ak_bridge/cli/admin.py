"""Admin commands that change things: retry, cancel, purge; and the audit trail.

Each is safe while the service runs (the Store's writes are short immediate transactions);
each change is audited under the operator's name (``--operator``, AK_BRIDGE_OPERATOR or the
OS login); long runs show a progress bar on stderr and ``--dry-run`` shows what would
happen without changing anything. The listings are in ``cli/inspect.py``.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import click

from ak_bridge.bootstrap import own_identity
from ak_bridge.cli import Failed, _settings, _store, cli
from ak_bridge.cli.selecting import actor_option, checked
from ak_bridge.core.errors import AkBridgeError
from ak_bridge.core.settings import Settings
from ak_bridge.security.signing import Signer, Verifier, load_trusted
from ak_bridge.service import selection
from ak_bridge.service.ports import Store
from ak_bridge.service.selection import Selection

FAILED_STATES = ("dead", "waiting_retry", "held")
OPEN_STATES = ("pending", "waiting_retry", "dead", "held")
ALL_STATES = ("pending", "in_flight", "waiting_retry", "delivered", "dead", "cancelled", "held")


def _now() -> datetime:
    return datetime.now(UTC)


def _select(
    ctx: click.Context,
    store: Store,
    ids: Sequence[str],
    states: Sequence[str],
    sel: Selection,
    everything: bool,
    include_dead: bool = True,
) -> list[dict]:
    """Deliveries named by message id or delivery number, or by filter; in ``states`` only."""
    targets: list[dict] = []
    for ident in ids:
        rows = [store.delivery(int(ident))] if ident.isdigit() else store.deliveries_for(ident)
        rows = [r for r in rows if r is not None]
        if not rows:
            raise Failed(f"no message or delivery {ident}")
        targets += [r.plain() | {"delivery_id": r.id} for r in rows if r.status in states]
    if sel.partners or sel.failure_classes or everything:
        checked(ctx, store, sel)
        targets += selection.targets(store, sel, states, include_dead)
    seen: set[int] = set()
    return [t for t in targets if not (t["delivery_id"] in seen or seen.add(t["delivery_id"]))]


def _apply(
    rows: list[dict],
    verb: str,
    done: str,
    action: Callable[[int], list[int]],
    dry_run: bool,
    confirm: bool = False,
) -> None:
    """Run ``action`` on each delivery with a progress bar, or only list them (dry run).

    ``confirm``: more than one delivery needs a yes at the prompt (``--yes`` gives it).
    """
    if not rows:
        click.echo(f"nothing to {verb}")
        return
    if dry_run or confirm:
        for t in rows:
            click.echo(
                f"would {verb} delivery {t['delivery_id']} ({t['message_id']} to "
                f"{t['destination']}, {t['status']})"
            )
    if dry_run:
        click.echo(f"{len(rows)} delivery(ies) would be {done} (dry run)")
        return
    if confirm:
        click.confirm(f"{verb} these {len(rows)} deliveries?", abort=True)
    changed = 0
    with click.progressbar(rows, label=verb, file=sys.stderr) as bar:
        for t in bar:
            changed += len(action(t["delivery_id"]))
    click.echo(f"{changed} delivery(ies) {done}")


def _selection_options(fn: Callable) -> Callable:
    for option in reversed(
        [
            click.argument("ids", nargs=-1),
            click.option(
                "--partner", help="Every such delivery of this partner (sender or destination)."
            ),
            click.option(
                "--failure-class",
                help="Every such delivery whose last failure was of this class "
                "(transport, timeout, tls, server, fault, schema, signature, business).",
            ),
            click.option("--all", "everything", is_flag=True, help="Every such delivery."),
            click.option("--dry-run", is_flag=True, help="Show what would happen; change nothing."),
        ]
    ):
        fn = option(fn)
    return actor_option(fn)


def _need_selection(
    ids: Sequence[str], partner: str | None, failure_class: str | None, everything: bool
) -> Selection:
    if not (ids or partner or failure_class or everything):
        raise click.UsageError("give message ids, --partner, --failure-class or --all")
    return Selection(
        partners=(partner,) if partner else (),
        failure_classes=(failure_class,) if failure_class else (),
    )


@cli.command()
@_selection_options
@click.option(
    "--include-dead",
    is_flag=True,
    help="With --partner: requeue that partner's dead letters too (not by default).",
)
@click.pass_context
def retry(
    ctx: click.Context,
    ids: tuple[str, ...],
    partner: str | None,
    failure_class: str | None,
    everything: bool,
    dry_run: bool,
    operator: str,
    include_dead: bool,
) -> None:
    """Retry failed deliveries now, with a fresh retry budget and the same message ids.

    IDS are message ids or delivery numbers. Without IDS, say --partner, --failure-class or
    --all. Only dead, waiting and held (shadow mode) deliveries are retried. --partner alone
    retries the partner's waiting and held deliveries, not its dead letters: at a shadow
    go-live that releases what was held without resending old failures; add --include-dead
    (or name them, or use --failure-class / --all) to requeue dead letters.
    """
    sel = _need_selection(ids, partner, failure_class, everything)
    store = _store(ctx)
    dead_too = include_dead or bool(failure_class) or everything
    rows = _select(ctx, store, ids, FAILED_STATES, sel, everything, dead_too)
    _apply(
        rows,
        "retry",
        "queued for retry",
        lambda did: store.requeue([did], _now(), operator, f"retry requested by {operator}"),
        dry_run,
    )


@cli.command()
@_selection_options
@click.option("--reason", required=True, help="Why (kept in the audit trail).")
@click.option("--yes", is_flag=True, help="Cancel several deliveries without asking.")
@click.pass_context
def cancel(
    ctx: click.Context,
    ids: tuple[str, ...],
    partner: str | None,
    failure_class: str | None,
    everything: bool,
    dry_run: bool,
    operator: str,
    reason: str,
    yes: bool,
) -> None:
    """Stop deliveries that are pending, waiting or dead; they are kept, marked cancelled.

    More than one delivery is listed first and needs a yes (or --yes).
    """
    sel = _need_selection(ids, partner, failure_class, everything)
    store = _store(ctx)
    rows = _select(ctx, store, ids, OPEN_STATES, sel, everything)
    _apply(
        rows,
        "cancel",
        "cancelled",
        lambda did: store.cancel([did], _now(), operator, reason),
        dry_run,
        confirm=len(rows) > 1 and not yes,
    )


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
@actor_option
@click.pass_context
def purge(
    ctx: click.Context, older_than_days: int, dry_run: bool, vacuum: bool, operator: str
) -> None:
    """Remove the documents of old, finished messages; keep their metadata and audit."""
    store = _store(ctx)
    ids = store.purgeable(_now() - timedelta(days=older_than_days))
    if dry_run:
        click.echo(f"{len(ids)} message(s) would be purged (dry run)")
        return
    done = 0
    with click.progressbar(ids, label="purging", file=sys.stderr) as bar:
        for mid in bar:
            done += store.purge([mid], _now(), operator)
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
