"""Composition root shared by the web app, the worker, the CLI and the demo."""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from ak_bridge.adapters.store import open_store
from ak_bridge.core.errors import ConfigError
from ak_bridge.core.settings import Channel, Settings
from ak_bridge.formats import build_codecs
from ak_bridge.security.signing import (
    Signer,
    SigningIdentity,
    Verifier,
    load_identity,
    load_trusted,
)
from ak_bridge.service.exchange import Exchange

if TYPE_CHECKING:
    from ak_bridge.adapters.web.console import ConsoleTools
    from ak_bridge.ops.alerts import Monitor


def own_identity(settings: Settings) -> SigningIdentity:
    """Our signing key: needed to sign, so only commands that sign ask for its passphrase."""
    if settings.identity_passphrase_unset:
        raise ConfigError(
            str(settings.identity_key),
            "identity.key_passphrase_env",
            f"variable {settings.identity_passphrase_unset} is not set",
        )
    return load_identity(
        settings.identity_key, settings.identity_cert, settings.identity_passphrase
    )


def build_exchange(
    settings: Settings,
    clock: Callable[[], datetime] | None = None,
    worker_id: str | None = None,
) -> Exchange:
    from ak_bridge.adapters.outbound import (
        build_senders,  # outbound adapters are wired here and only here
    )

    store = open_store(settings)
    identity = own_identity(settings)
    verifiers = {
        p.id: Verifier(load_trusted(p.certificates))
        for p in settings.partners.values()
        if p.channel is not Channel.ASW
    }
    return Exchange(
        settings=settings,
        store=store,
        codecs=build_codecs(settings.format_mappings),
        signer=Signer(identity),
        verifiers=verifiers,
        senders=build_senders(settings),
        clock=clock or (lambda: datetime.now(UTC)),
        worker_id=worker_id or f"{socket.gethostname()}:{os.getpid()}",
    )


def build_alerts(exchange: Exchange) -> Monitor:
    """The worker's alert checks, sending to the ``[alerts]`` sinks from their own thread."""
    from ak_bridge.adapters.alert_sinks import Dispatcher, sinks_for
    from ak_bridge.ops.alerts import Monitor

    cfg = exchange.settings.alerts
    out = Dispatcher(sinks_for(cfg), cfg.queue_size)
    return Monitor(exchange.store, exchange.settings, exchange.clock, out)


def preflight(settings: Settings) -> None:
    """What would fail in every web worker, checked once before gunicorn forks.

    Our key and certificate (passphrase, key match, KeyUsage digitalSignature) and every
    pinned partner certificate: a bad one is one ConfigError line at start, not a traceback
    per worker process.
    """
    own_identity(settings)
    for p in settings.partners.values():
        if p.channel is not Channel.ASW:
            load_trusted(p.certificates)


def prepare_metrics_dir(settings: Settings) -> None:
    """Point prometheus_client's multiprocess mode at ``service.metrics_dir`` (before import).

    serve and worker share the directory, so /metrics sums the web processes' counters and
    the worker's. Files of processes that are gone are dropped first.
    """
    import sys

    if settings.metrics_dir is None:
        return
    if "prometheus_client" in sys.modules and "PROMETHEUS_MULTIPROC_DIR" not in os.environ:
        return  # already counting in this process alone (run in-process, e.g. by tests)
    settings.metrics_dir.mkdir(parents=True, exist_ok=True)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(settings.metrics_dir)
    from ak_bridge.adapters.telemetry import forget_dead_processes

    forget_dead_processes(settings.metrics_dir)


def console_tools(settings: Settings, exchange: Exchange) -> ConsoleTools:
    """What /admin needs from the operations layer (the adapters may not import it); its
    secret and cookie flag are ``settings.console`` (config.py reads them)."""
    from ak_bridge.adapters.web.console import ConsoleTools
    from ak_bridge.ops.evidence import build_pack
    from ak_bridge.ops.report_html import render_html
    from ak_bridge.ops.reports import pilot_report

    def evidence_pack(issuing_country: str, reference_no: str, issuing_body: str = "") -> bytes:
        identity = own_identity(settings)
        partner_certs = {
            p.id: [c.read_bytes() for c in p.certificates]
            for p in settings.partners.values()
            if p.channel is not Channel.ASW
        }
        return build_pack(
            exchange.store,
            Signer(identity),
            identity.cert_pem,
            partner_certs,
            issuing_country,
            reference_no,
            exchange.clock(),
            issuing_body,
        )

    return ConsoleTools(
        secret=settings.console.secret,
        evidence_pack=evidence_pack,
        pilot_report=lambda: render_html(
            pilot_report(
                exchange.store,
                exchange.clock(),
                shadow_partners=frozenset(p.id for p in settings.partners.values() if p.shadow),
                now=exchange.clock(),
            )
        ),
        secure_cookies=settings.console.secure_cookies,
    )
