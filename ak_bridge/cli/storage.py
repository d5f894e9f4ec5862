"""``ak-bridge db``: the schema's version, its upgrade, backups and the move to PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import click

from ak_bridge.adapters.store import is_postgres, migrations
from ak_bridge.adapters.store.copy import copy_store, verify_copy
from ak_bridge.cli import Failed, _settings, cli
from ak_bridge.service.ports import StoreError


def _raw(ctx: click.Context):  # noqa: ANN202 - a SqlStore, opened without the version check
    settings = _settings(ctx)
    try:
        if is_postgres(settings.database):
            from ak_bridge.adapters.store.postgres import PostgresStore

            return PostgresStore.open(
                str(settings.database), password=settings.database_password, check=False
            )
        from ak_bridge.adapters.store.sqlite import SqliteStore

        return SqliteStore.open(settings.database, check=False)
    except StoreError as exc:
        raise Failed(f"database: {exc}") from None


@cli.group()
def db() -> None:
    """The database: schema version, upgrade, backup, copy to PostgreSQL."""


@db.command("status")
@click.pass_context
def db_status(ctx: click.Context) -> None:
    """Say which schema version the database is at; exit 1 if the service would refuse it."""
    store = _raw(ctx)
    current = store.schema_version()
    where = _settings(ctx).database
    click.echo(f"database {where}: schema version {current}, this release {migrations.LATEST}")
    for step in migrations.pending(current):
        click.echo(f"  pending: {step.version} {step.name}")
    if why := migrations.refusal(current):
        raise Failed(why)
    click.echo("up to date")


@db.command("upgrade")
@click.pass_context
def db_upgrade(ctx: click.Context) -> None:
    """Apply the missing schema migrations (back the database up first)."""
    store = _raw(ctx)
    if store.schema_version() > migrations.LATEST:
        raise Failed(migrations.refusal(store.schema_version()) or "")
    done = store.upgrade(datetime.now(UTC))
    click.echo(
        f"applied {', '.join(map(str, done))}; now at {store.schema_version()}"
        if done
        else f"already at {store.schema_version()}"
    )


@db.command("copy")
@click.option("--to", "url", required=True, help="postgresql://user@host/db (no password).")
@click.pass_context
def db_copy(ctx: click.Context, url: str) -> None:
    """Copy the whole history, audit chain included, into an empty PostgreSQL database.

    Stop `serve` and `worker` first. The copy is verified (row counts, chain head, chain).
    """
    from ak_bridge.adapters.store.postgres import PostgresStore

    if not is_postgres(url):
        raise Failed("--to takes a postgresql:// URL")
    source = _raw(ctx)
    try:
        target = PostgresStore.open(url)
        copied = copy_store(source, target)
        problems = verify_copy(source, target)
    except StoreError as exc:
        raise Failed(f"copy: {exc}") from None
    click.echo(", ".join(f"{t} {n}" for t, n in copied.items()) + " rows copied")
    if problems:
        raise Failed("the copy does not match: " + "; ".join(problems))
    click.echo("verified: every table, the audit chain and its head match")


@db.command("backup")
@click.argument("target", type=click.Path(dir_okay=False, path_type=Path))
@click.pass_context
def db_backup(ctx: click.Context, target: Path) -> None:
    """A consistent copy of the SQLite file while the service runs (PostgreSQL: pg_dump)."""
    store = _raw(ctx)
    if not hasattr(store, "backup"):
        raise Failed("a PostgreSQL database is backed up with pg_dump (see README)")
    if target.exists():
        raise Failed(f"{target} exists: choose a new file")
    store.backup(target)
    click.echo(f"backed up to {target}")
