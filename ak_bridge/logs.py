"""Logging, configured in this one place for every process (serve, its workers, worker, CLI).

Why: an operator's log pipeline (journald, Loki, Elastic) wants one JSON object a line with
fields it can filter on (``message_id``, ``partner``, ``outcome``), while a person at a
terminal wants a line they can read. The default follows where the output goes: text on a
terminal, JSON otherwise (under systemd). ``AK_BRIDGE_LOG_FORMAT`` or ``--log-format`` decide.

Operational lines (start-up, the access log, one line per delivery attempt) are INFO on
loggers of their own that stay on at the default level; ``-v`` adds everyone else's INFO.
APScheduler's own lines (a start line every sweep, "maximum number of running instances
reached" while a long sweep runs, which ``max_instances=1`` intends) are dropped unless -v -v.
Secrets never reach a log line: tokens are hashed on arrival and the passphrase is never
formatted (tests/test_secrets.py).
"""

from __future__ import annotations

import logging
import sys
from typing import Any

from pythonjsonlogger.json import JsonFormatter

# Loggers whose INFO lines are what an operator needs even without -v.
ACCESS = "ak_bridge.access"  # one line per HTTP request
DELIVERY = "ak_bridge.delivery"  # one line per delivery attempt
LIFECYCLE = "ak_bridge.lifecycle"  # start-up, shutdown, configuration warnings
ALERTS = "ak_bridge.alerts"  # an alert fired or cleared, a sink that failed, a dropped alert
OPERATIONAL = (ACCESS, DELIVERY, LIFECYCLE, ALERTS)

_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


class TextFormatter(logging.Formatter):
    """``time LEVEL logger: message key=value ...``: the structured fields stay visible."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        extra = {k: v for k, v in vars(record).items() if k not in _STANDARD}
        if extra:
            line += " " + " ".join(f"{k}={v}" for k, v in extra.items())
        return line


def formatter(fmt: str) -> logging.Formatter:
    if fmt == "json":
        return JsonFormatter(
            "%(asctime)s %(levelname)s %(name)s %(message)s",
            rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
            timestamp=False,
        )
    return TextFormatter()


def choose_format(requested: str | None) -> str:
    if requested in ("json", "text"):
        return requested
    return "text" if sys.stderr.isatty() else "json"


def configure(verbosity: int = 0, fmt: str | None = None) -> str:
    """Root handler on stderr; returns the format chosen (gunicorn's logs use it too)."""
    chosen = choose_format(fmt)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter(chosen))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(
        logging.DEBUG if verbosity > 1 else logging.INFO if verbosity else logging.WARNING
    )
    for name in OPERATIONAL:
        logging.getLogger(name).setLevel(logging.DEBUG if verbosity > 1 else logging.INFO)
    logging.getLogger("apscheduler").setLevel(logging.INFO if verbosity > 1 else logging.ERROR)
    return chosen


def gunicorn_logconfig(fmt: str, verbosity: int) -> dict[str, Any]:
    """gunicorn's own lines (booting, worker died) in the same format, at -v's level.

    gunicorn's access log stays off: ours (``ak_bridge.access``) knows the partner, the
    operation, the message id and the result code, which gunicorn's cannot.
    """
    cls = "pythonjsonlogger.json.JsonFormatter" if fmt == "json" else "ak_bridge.logs.TextFormatter"
    fmt_cfg: dict[str, Any] = {"()": cls}
    if fmt == "json":
        fmt_cfg |= {
            "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        }
    level = "DEBUG" if verbosity > 1 else "INFO" if verbosity else "WARNING"
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"ak": fmt_cfg},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "formatter": "ak",
                "stream": "ext://sys.stderr",
            }
        },
        "root": {"level": level, "handlers": ["stderr"]},  # gunicorn replaces the root's
        "loggers": {
            "gunicorn.error": {"level": level, "handlers": ["stderr"], "propagate": False},
            "gunicorn.access": {"level": "CRITICAL", "handlers": [], "propagate": False},
        },
    }
