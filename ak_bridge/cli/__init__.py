"""The ``ak-bridge`` command: serve, worker, demo and the admins' tools.

Exit codes: 0 ok, 1 the thing asked for failed, 2 usage error (click's own). Every admin
command is safe while the service runs: it goes through the same Store, whose writes are
short immediate transactions.
"""

from __future__ import annotations

import logging
import os
import sys
import tempfile
from pathlib import Path

import click

from ak_bridge import logs
from ak_bridge.adapters.store import open_store
from ak_bridge.config import load_settings, warnings_for
from ak_bridge.core.errors import ConfigError
from ak_bridge.core.settings import Settings
from ak_bridge.service.ports import Store, StoreError

lifecycle = logging.getLogger(logs.LIFECYCLE)


class Failed(click.ClickException):
    exit_code = 1


class _Group(click.Group):
    """A configuration error found while a command runs is one line and exit 1, never a trace."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except ConfigError as exc:
            raise Failed(f"configuration error: {exc}") from None


def _settings(ctx: click.Context) -> Settings:
    try:
        return load_settings(ctx.obj["config"])
    except ConfigError as exc:
        raise Failed(f"configuration error: {exc}") from None


def _store(ctx: click.Context) -> Store:
    """The configured store; a schema of another release is refused with what to run."""
    try:
        return open_store(_settings(ctx))
    except StoreError as exc:
        raise Failed(f"database: {exc}") from None


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config",
    "config",
    envvar="AK_BRIDGE_CONFIG",
    default="config",
    show_default=True,
    type=click.Path(file_okay=False),
    help="Configuration directory (ak_bridge.toml, partners.toml, formats/).",
)
@click.option(
    "-v", "--verbose", count=True, help="-v: every INFO line (gunicorn's too); -vv: DEBUG."
)
@click.option(
    "--log-format",
    envvar="AK_BRIDGE_LOG_FORMAT",
    type=click.Choice(["auto", "json", "text"]),
    default="auto",
    show_default=True,
    help="json: one JSON object a line; text: for people; auto: text on a terminal.",
)
@click.pass_context
def cli(ctx: click.Context, config: str, verbose: int, log_format: str) -> None:
    """ak-bridge: the e-Form AK gateway between KCS UNI-PASS and AMS national CO systems."""
    ctx.ensure_object(dict)
    ctx.obj["config"] = config
    ctx.obj["verbosity"] = verbose
    ctx.obj["log_format"] = logs.configure(verbose, log_format)


def _start(settings: Settings) -> None:
    """Checks shared by serve and worker: keys, pinned certificates, warnings, /metrics."""
    from ak_bridge.bootstrap import preflight, prepare_metrics_dir

    preflight(settings)  # a ConfigError here is one line and exit 1 (see _Group)
    for warning in warnings_for(settings):
        lifecycle.warning(warning)
    prepare_metrics_dir(settings)


@cli.command()
@click.option("--host", default=None, help="Listen address (default: from config).")
@click.option("--port", default=None, type=int, help="Listen port (default: from config).")
@click.option(
    "--workers",
    default=None,
    type=click.IntRange(min=1),
    help="gunicorn worker processes (default: service.workers, 2).",
)
@click.option("--dev", is_flag=True, help="werkzeug's single-process server, for development.")
@click.pass_context
def serve(
    ctx: click.Context, host: str | None, port: int | None, workers: int | None, dev: bool
) -> None:
    """Run the web service (SOAP for KCS and AMS, REST, health) under gunicorn.

    Put a TLS-terminating reverse proxy in front of it, and run a `worker` beside it.
    """
    from ak_bridge import create_app

    settings = _settings(ctx)
    _store(ctx)  # refuse a database of another schema here, before any worker forks
    host, port = host or settings.host, port or settings.port
    _start(settings)
    workers = 1 if dev else workers or settings.workers
    lifecycle.info(
        "serving on http://%s:%d (%d web process%s); /readyz, /metrics",
        host,
        port,
        workers,
        "" if workers == 1 else "es",
        extra={"host": host, "port": port, "workers": workers, "database": str(settings.database)},
    )
    if dev:
        from werkzeug.serving import run_simple

        run_simple(host, port, create_app(settings), threaded=True)
        return
    from ak_bridge.adapters.web.server import serve as serve_with_gunicorn

    master = os.getpid()
    try:
        serve_with_gunicorn(
            lambda: create_app(settings),
            settings,
            host,
            port,
            workers,
            logconfig=logs.gunicorn_logconfig(ctx.obj["log_format"], ctx.obj["verbosity"]),
        )
    finally:  # gunicorn leaves with SystemExit, its forked workers through here too
        if os.getpid() == master:
            lifecycle.info("stopped serving on http://%s:%d", host, port)


@cli.command()
@click.option("--once", is_flag=True, help="Run one delivery sweep and exit.")
@click.pass_context
def worker(ctx: click.Context, once: bool) -> None:
    """Run the scheduler that delivers and retries (one is enough; several are safe)."""
    settings = _settings(ctx)
    _start(settings)  # before the scheduler's imports: it sets the /metrics directory
    from ak_bridge.adapters.scheduler import add_periodic, build_scheduler, start_waker, sweep
    from ak_bridge.bootstrap import build_alerts, build_exchange

    _store(ctx)  # refuse a database of another schema with what to run
    exchange = build_exchange(settings)
    if once:
        sweep(exchange)
        return
    lifecycle.info(
        "worker %s: sweeping every %ss",
        exchange.worker_id,
        settings.worker_interval_seconds,
        extra={"worker": exchange.worker_id, "database": str(settings.database)},
    )
    try:
        scheduler = build_scheduler(exchange, settings.worker_interval_seconds)
        alerts = build_alerts(exchange)
        add_periodic(scheduler, "alerts", alerts.check, settings.alerts.interval_seconds)
        lifecycle.info(
            "alerts checked every %ss, sent to: %s",
            settings.alerts.interval_seconds,
            ", ".join(s.__name__ for s in alerts.out.sinks) or "nowhere (logged only)",
        )
        start_waker(scheduler, exchange, settings.worker_interval_seconds)
        scheduler.start()
    except (KeyboardInterrupt, SystemExit):
        pass
    lifecycle.info("worker %s stopped", exchange.worker_id)


@cli.command()
@click.option(
    "--workdir",
    type=click.Path(file_okay=False),
    default=None,
    help="Where to put the demo's PKI, config and database (default: a temp dir).",
)
@click.option(
    "--database",
    default=None,
    help="An empty PostgreSQL database (postgresql://…) instead of the SQLite file.",
)
@click.option(
    "--instances",
    type=click.IntRange(1, 4),
    default=1,
    show_default=True,
    help="Bridges (web app and worker each) sharing the database, as machines would.",
)
def demo(workdir: str | None, database: str | None, instances: int) -> None:
    """Run a real exchange: simulated KCS, Indonesia (SOAP) and Viet Nam (REST) on loopback."""
    from ak_bridge.sim.demo import run_demo

    if instances > 1 and not database:
        raise Failed("several instances share a PostgreSQL database: give --database")
    if workdir:
        code = run_demo(Path(workdir), click.echo, database, instances)
    else:
        with tempfile.TemporaryDirectory(prefix="ak-bridge-demo-") as tmp:
            code = run_demo(Path(tmp), click.echo, database, instances)
    sys.exit(code)


def main() -> None:
    cli(obj={})


# Command groups in their own modules register themselves on ``cli`` when imported.
from ak_bridge.cli import (  # noqa: E402, F401
    admin,
    configuration,
    evidence,
    inspect,
    keys,
    onboarding,
    operators,
    report,
    sandbox,
    security,
    standard,
    storage,
)
