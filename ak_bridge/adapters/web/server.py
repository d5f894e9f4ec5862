"""Run the web app under gunicorn: one app per worker process, nothing shared but SQLite.

gunicorn rather than werkzeug's development server because the service faces partners'
production systems: several processes use both cores (signature checks are CPU-bound and
hold the GIL), a crashed or hung worker is replaced, and request parsing is hardened
(stack-notes.md section 8: one sync worker ≈ 490 verify-and-store requests/s, two ≈ 800).
Each process runs :class:`~ak_bridge.adapters.web.buffering.BufferingWorker` (gthread whose
event loop reads every request whole before a thread sees it), with header and body read
deadlines and a connection cap: slow clients (slowloris) cost a socket, never a thread.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from gunicorn.app.base import BaseApplication

from ak_bridge.adapters.web.buffering import BufferingWorker
from ak_bridge.core.settings import Settings


class GunicornServer(BaseApplication):  # type: ignore[misc]
    """gunicorn's documented way to embed it: options as data, the app built per worker."""

    def __init__(self, make_app: Callable[[], Any], options: dict[str, Any]) -> None:
        self.make_app = make_app
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        return self.make_app()


def options(settings: Settings, host: str, port: int, workers: int) -> dict[str, Any]:
    """gunicorn's settings for ``serve``, from ``[service]`` (see README, Slow clients)."""
    edge = settings.edge
    worker = type(
        "AkBridgeWorker",
        (BufferingWorker,),
        {
            "header_timeout": edge.header_timeout_seconds,
            "body_timeout": edge.body_timeout_seconds,
            "max_body": settings.max_body_bytes,
        },
    )
    return {
        "bind": f"{host}:{port}",
        "workers": workers,
        "worker_class": worker,
        "threads": edge.threads,
        "worker_connections": edge.max_connections,
        "keepalive": edge.keepalive_seconds,
        "timeout": 60,
        "graceful_timeout": 10,
        # X-Forwarded-Proto only from [auth] trusted_proxies (none: believed from nobody).
        "forwarded_allow_ips": ",".join(settings.auth.trusted_proxies),
        "accesslog": None,  # ak_bridge.access logs each request, with partner and ids
        "errorlog": "-",
        "loglevel": "warning",
    }


def serve(
    make_app: Callable[[], Any],
    settings: Settings,
    host: str,
    port: int,
    workers: int,
    logconfig: dict[str, Any] | None = None,
) -> None:
    """gunicorn's own lines go through ``logconfig`` (ak_bridge.logs): same format, -v's level."""
    opts = options(settings, host, port, workers)
    if logconfig:
        opts.pop("loglevel")
        opts["logconfig_dict"] = logconfig
    GunicornServer(make_app, opts).run()
