"""The operator console at /admin: server-rendered pages over the store, for people.

Every asset ships in the package (templates/ and static/), nothing from a CDN. Access is by
named accounts (``ak-bridge operators add``); sessions are signed with the secret of
AK_BRIDGE_CONSOLE_SECRET (read by config.py into ``settings.console``), which every instance
must share. Without it /admin answers 503 and says so: a generated per-process secret would
log people out at random behind two instances, and a file of it would be one more secret to
back up.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from flask import Blueprint, Flask

from ak_bridge.adapters.web.console import actions, auth, browse, pages


@dataclass(frozen=True)
class ConsoleTools:
    """What the console needs from layers above the adapters, given by the composition root.

    ``evidence_pack(issuing_country, reference_no)`` builds the signed zip (ops/evidence);
    ``pilot_report()`` gives the pilot report as one self-contained HTML page (ops/report_html).
    """

    secret: str | None = field(repr=False)  # settings.console.secret: never in a log line
    evidence_pack: Callable[[str, str], bytes]
    pilot_report: Callable[[], Any]
    secure_cookies: bool = True


def register(app: Flask, tools: ConsoleTools) -> None:
    """Mount /admin on the service's app (a small call from ``create_app``)."""
    bp = Blueprint(
        "console",
        __name__,
        url_prefix="/admin",
        template_folder="templates",
        static_folder="static",
        static_url_path="/static",
    )
    app.extensions["ak_bridge_console"] = tools
    app.extensions["ak_bridge_console_throttled"] = auth.RepeatedFailures()
    app.before_request(auth.close_throttled_series)
    if tools.secret:
        app.secret_key = tools.secret
    app.config.update(
        SESSION_COOKIE_NAME="ak_console",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Strict",
        SESSION_COOKIE_SECURE=tools.secure_cookies,
        SESSION_COOKIE_PATH="/admin",
        PERMANENT_SESSION_LIFETIME=timedelta(hours=8),
    )
    auth.install(bp)
    auth.install_errors(bp)
    pages.install(bp)
    browse.install(bp)
    actions.install(bp)
    app.register_blueprint(bp)
