"""Run the web app under gunicorn: one app per worker process, nothing shared but SQLite.

gunicorn rather than werkzeug's development server because the service faces partners'
production systems: several processes use both cores (signature checks are CPU-bound and
hold the GIL), a crashed or hung worker is replaced, and request parsing is hardened
(stack-notes.md section 8: one sync worker ≈ 490 verify-and-store requests/s, two ≈ 800).
Threads (gthread) keep a slow client from pinning a whole worker when no buffering proxy
sits in front.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from gunicorn.app.base import BaseApplication


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


def serve(
    make_app: Callable[[], Any],
    host: str,
    port: int,
    workers: int,
    logconfig: dict[str, Any] | None = None,
) -> None:
    """gunicorn's own lines go through ``logconfig`` (ak_bridge.logs): same format, -v's level."""
    GunicornServer(
        make_app,
        {
            "bind": f"{host}:{port}",
            "workers": workers,
            "worker_class": "gthread",
            "threads": 4,
            "timeout": 60,
            "graceful_timeout": 10,
            "accesslog": None,  # ak_bridge.access logs each request, with partner and ids
            "errorlog": "-",
            **({"logconfig_dict": logconfig} if logconfig else {"loglevel": "warning"}),
        },
    ).run()
