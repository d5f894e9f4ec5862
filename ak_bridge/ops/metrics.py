"""GET /metrics: Prometheus text format, counters from every process plus gauges from the store.

Counters and histograms are added to where things happen (ak_bridge.adapters.telemetry)
and summed across processes by prometheus_client's multiprocess collector. Gauges are
computed here on each scrape from the store, the source of truth shared by every process:
a worker that died cannot leave a stale backlog figure behind.

Protected by the admin token, unless ``auth.metrics_public = true`` (for a scraper on a
private bind) or authentication is off. Each metric is listed in README "Monitoring".
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator
from datetime import datetime

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from flask import Blueprint, Response
from prometheus_client import REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from ak_bridge.adapters.telemetry import multiprocess_dir
from ak_bridge.adapters.web.auth import identify
from ak_bridge.adapters.web.context import exchange
from ak_bridge.adapters.web.health import HEARTBEAT_STALE_SECONDS, store_writable
from ak_bridge.core.errors import Unauthenticated
from ak_bridge.core.settings import Settings
from ak_bridge.ops.reports import overdue_verifications
from ak_bridge.security.signing import load_trusted
from ak_bridge.service.exchange import ADMIN, Exchange
from ak_bridge.service.ports import from_iso

log = logging.getLogger(__name__)
bp = Blueprint("metrics", __name__)
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
BREAKER_STATES = {"closed": 0, "half_open": 1, "open": 2}


def _gauge(name: str, doc: str, labels: list[str] | None = None) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, doc, labels=labels)


def certificate_expiry(settings: Settings, now: datetime) -> Iterator[tuple[str, str, float]]:
    """(partner, sha256, days left) for our own certificate and every pinned one."""
    own = x509.load_pem_x509_certificates(settings.identity_cert.read_bytes())[0]
    digest = hashlib.sha256(own.public_bytes(Encoding.DER)).hexdigest()
    yield "own", digest, (own.not_valid_after_utc - now).total_seconds() / 86400
    for partner in settings.partners.values():
        for cert in load_trusted(partner.certificates):
            yield partner.id, cert.fingerprint, (cert.not_after - now).total_seconds() / 86400


class StoreCollector(Collector):
    """Gauges read from the store (and the certificate files) at scrape time."""

    def __init__(self, ex: Exchange) -> None:
        self.ex = ex

    def collect(self) -> Iterator[GaugeMetricFamily]:
        ex, now = self.ex, self.ex.clock()
        store = ex.store
        up = _gauge("ak_bridge_store_writable", "1 when the store takes a write (readiness)")
        up.add_metric([], 0.0 if store_writable(store) else 1.0)
        yield up
        beat = store.last_heartbeat()
        age = (now - beat).total_seconds() if beat else None
        alive = _gauge(
            "ak_bridge_worker_up",
            f"1 when a worker's heartbeat is at most {HEARTBEAT_STALE_SECONDS} s old",
        )
        alive.add_metric([], 1.0 if age is not None and age <= HEARTBEAT_STALE_SECONDS else 0.0)
        yield alive
        heartbeat = _gauge(
            "ak_bridge_worker_heartbeat_age_seconds",
            "Seconds since the last worker heartbeat (+Inf if no worker ever ran)",
        )
        heartbeat.add_metric([], age if age is not None else float("inf"))
        yield heartbeat
        backlog = _gauge("ak_bridge_backlog", "Unfinished deliveries per partner", ["partner"])
        oldest = _gauge(
            "ak_bridge_oldest_pending_age_seconds",
            "Age of the oldest unfinished delivery per partner",
            ["partner"],
        )
        rows = {row["destination"]: row for row in store.backlog()}
        for pid in ex.settings.partners:
            row = rows.get(pid)
            backlog.add_metric([pid], float(row["backlog"]) if row else 0.0)
            age_s = (now - from_iso(row["oldest"])).total_seconds() if row else 0.0
            oldest.add_metric([pid], age_s)
        yield backlog
        yield oldest
        counts = store.counts_by_status()
        by_status = _gauge("ak_bridge_deliveries", "Deliveries per status", ["status"])
        for status, n in sorted(counts.items()):
            by_status.add_metric([status], float(n))
        yield by_status
        dead = _gauge("ak_bridge_dead_letters", "Deliveries given up (status dead), all partners")
        dead.add_metric([], float(counts.get("dead", 0)))
        yield dead
        breaker = _gauge(
            "ak_bridge_breaker_state", "Circuit breaker: 0 closed, 1 half-open, 2 open", ["partner"]
        )
        for pid, partner in ex.settings.partners.items():
            if partner.enabled:
                breaker.add_metric([pid], float(BREAKER_STATES[store.breaker(pid).state(now)]))
        yield breaker
        expiry = _gauge(
            "ak_bridge_certificate_expiry_days",
            "Days until a certificate expires (own = the bridge's signing certificate)",
            ["partner", "sha256"],
        )
        for pid, digest, days in certificate_expiry(ex.settings, now):
            expiry.add_metric([pid, digest], days)
        yield expiry
        overdue = _gauge(
            "ak_bridge_verification_replies_overdue",
            "Verification requests still unanswered past their reply due date",
        )
        overdue.add_metric([], float(len(overdue_verifications(store, now))))
        yield overdue


def _registry(ex: Exchange) -> CollectorRegistry:
    directory = multiprocess_dir()
    if directory is None:
        registry: CollectorRegistry = CollectorRegistry()
        registry.register(_Everything())
    else:
        registry = CollectorRegistry()
        MultiProcessCollector(registry, path=str(directory))
    registry.register(StoreCollector(ex))
    return registry


class _Everything(Collector):
    """This process's default registry (single-process mode: tests, the demo)."""

    def collect(self) -> Iterator:
        yield from REGISTRY.collect()


@bp.get("/metrics")
def metrics() -> Response:
    ex = exchange()
    auth = ex.settings.auth
    if auth.required and not auth.metrics_public:
        try:
            admin = identify(ex.settings) == ADMIN
        except Unauthenticated:
            admin = False
        if not admin:
            return Response("admin token required\n", status=401, mimetype="text/plain")
    return Response(generate_latest(_registry(ex)), content_type=CONTENT_TYPE)
