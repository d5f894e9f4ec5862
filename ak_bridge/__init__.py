"""ak-bridge: a standalone e-Form AK gateway beside the ASEAN Single Window.

``create_app`` is the Flask factory; nothing runs at import time.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flask import Flask

    from ak_bridge.core.settings import Settings


def create_app(settings: Settings | None = None) -> Flask:
    """Build the web app; importing the package stays free of Flask and of the wiring."""
    from flask import Flask

    from ak_bridge.adapters import web
    from ak_bridge.bootstrap import build_exchange
    from ak_bridge.config import load_settings

    settings = settings or load_settings()
    if not settings.auth.required:
        logging.getLogger(__name__).warning(
            "[auth] required = false: no caller is authenticated or authorized; "
            "for local development only"
        )
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes

    exchange = build_exchange(settings)
    web.register(app, exchange)
    from ak_bridge.adapters.web import console
    from ak_bridge.bootstrap import console_tools

    console.register(app, console_tools(settings, exchange))
    from ak_bridge.ops import metrics

    app.register_blueprint(metrics.bp)
    return app
