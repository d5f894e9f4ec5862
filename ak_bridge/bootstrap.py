"""Composition root shared by the web app, the worker, the CLI and the demo."""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from datetime import UTC, datetime

from .config import Channel, Settings
from .exchange import Exchange
from .formats import build_codecs
from .signing import Signer, Verifier, load_identity, load_trusted
from .store import Store


def build_exchange(
    settings: Settings,
    clock: Callable[[], datetime] | None = None,
    worker_id: str | None = None,
) -> Exchange:
    from .outbound import build_senders  # outbound adapters are wired here and only here

    store = Store.open(settings.database)
    identity = load_identity(
        settings.identity_key, settings.identity_cert, settings.identity_passphrase
    )
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
