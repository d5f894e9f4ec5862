"""Alert sinks (a webhook taking a JSON POST, an SMTP server) behind a bounded queue.

Why a queue and a thread: the worker's checks must never wait on a sink. A webhook that
hangs or an SMTP server that is down costs the sender thread at most ``timeout_seconds``
per alert and sink; the checks (and the deliveries beside them) only ever ``put_nowait``.
When ``queue_size`` alerts are already waiting, a new one is dropped with a log line.
"""

from __future__ import annotations

import logging
import queue
import smtplib
import threading
from collections.abc import Callable, Mapping, Sequence
from email.message import EmailMessage
from typing import Any

import requests

from ak_bridge.core.settings import AlertSettings
from ak_bridge.logs import ALERTS

log = logging.getLogger(ALERTS)
Alert = Mapping[str, Any]
Sink = Callable[[Alert], None]


def webhook(url: str, timeout: float) -> Sink:
    """POST the alert as JSON; any status but 2xx is a failure."""

    def send(alert: Alert) -> None:
        requests.post(url, json=dict(alert), timeout=timeout).raise_for_status()

    send.__name__ = "webhook"
    return send


def email(cfg: AlertSettings) -> Sink:
    """One plain-text mail per alert, subject ``[ak-bridge] FIRING: summary``."""

    def send(alert: Alert) -> None:
        msg = EmailMessage()
        msg["From"] = cfg.smtp_from
        msg["To"] = ", ".join(cfg.smtp_to)
        msg["Subject"] = f"[ak-bridge] {str(alert['state']).upper()}: {alert['summary']}"
        msg.set_content("\n".join(f"{k}: {v}" for k, v in alert.items()) + "\n")
        with smtplib.SMTP(cfg.smtp_host or "", cfg.smtp_port, timeout=cfg.timeout_seconds) as s:
            if cfg.smtp_starttls:
                s.starttls()
            if cfg.smtp_user:
                s.login(cfg.smtp_user, cfg.smtp_password or "")
            s.send_message(msg)

    send.__name__ = "email"
    return send


def sinks_for(cfg: AlertSettings) -> list[Sink]:
    out = [webhook(cfg.webhook_url, cfg.timeout_seconds)] if cfg.webhook_url else []
    return out + ([email(cfg)] if cfg.smtp else [])


class Dispatcher:
    """Hands alerts to the sinks from one daemon thread; ``submit`` never blocks."""

    def __init__(self, sinks: Sequence[Sink], queue_size: int = 100) -> None:
        self.sinks = list(sinks)
        self.queue: queue.Queue[Alert] = queue.Queue(maxsize=queue_size)
        self.thread = threading.Thread(target=self._run, name="alert-sinks", daemon=True)
        if self.sinks:
            self.thread.start()

    def submit(self, alert: Alert) -> bool:
        """Queue an alert for every sink; False (and a log line) when it had to be dropped."""
        if not self.sinks:
            return False
        try:
            self.queue.put_nowait(alert)
            return True
        except queue.Full:
            log.error(
                "alert dropped, %d already waiting for the sinks: %s",
                self.queue.maxsize,
                alert.get("summary"),
                extra={"key": alert.get("key"), "state": alert.get("state")},
            )
            return False

    def _run(self) -> None:
        while True:
            alert = self.queue.get()
            for sink in self.sinks:
                try:
                    sink(alert)
                except Exception as exc:  # down, slow past the timeout, refused: logged only
                    log.error(
                        "alert sink %s failed: %s",
                        sink.__name__,
                        type(exc).__name__,
                        extra={"key": alert.get("key"), "state": alert.get("state")},
                    )
            self.queue.task_done()

    def drain(self, timeout: float) -> bool:
        """Wait until every queued alert was tried (tests, shutdown); True if it got there."""
        done = threading.Event()
        threading.Thread(target=lambda: (self.queue.join(), done.set()), daemon=True).start()
        return done.wait(timeout)
