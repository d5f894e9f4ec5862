"""/healthz (the process answers), /readyz (it can accept), /health/worker (deliveries go on).

Why readiness ignores the worker: /readyz is what a load balancer probes. If a worker
outage made it 503, the balancer would stop inbound submissions too, turning a delivery
delay (which the retry queue absorbs) into refused certificates. So readiness is "the store
takes writes"; the worker's liveness is reported beside it and on its own endpoint (and as
``ak_bridge_worker_up`` on /metrics) for monitoring to alert on.
"""

from __future__ import annotations

from datetime import datetime

from flask import Blueprint, Response, jsonify

from ak_bridge.adapters.web.context import exchange
from ak_bridge.service.ports import Store, from_iso

bp = Blueprint("health", __name__)

HEARTBEAT_STALE_SECONDS = 60


def store_writable(store: Store) -> str | None:
    """None when the store takes a write; else why not (the error's type, nothing more)."""
    try:
        store.ping()
    except Exception as exc:  # any failure here means not ready
        return type(exc).__name__
    return None


def worker_status(store: Store, now: datetime) -> dict[str, object]:
    beat = store.last_heartbeat()
    age = (now - beat).total_seconds() if beat else None
    return {
        "alive": age is not None and age <= HEARTBEAT_STALE_SECONDS,
        "heartbeat_age_seconds": age,
        "stale_after_seconds": HEARTBEAT_STALE_SECONDS,
    }


@bp.get("/healthz")
def healthz() -> Response:
    return jsonify({"status": "ok"})


@bp.get("/readyz")
def readyz() -> Response:
    ex = exchange()
    now = ex.clock()
    problem = store_writable(ex.store)
    checks: dict[str, object] = {
        "store": "writable" if problem is None else f"not writable: {problem}",
        "worker": worker_status(ex.store, now),  # reported, never a reason to be unready
        "backlog": [
            {
                "partner": row["destination"],
                "backlog": row["backlog"],
                "oldest_pending_age_seconds": (now - from_iso(row["oldest"])).total_seconds(),
            }
            for row in ex.store.backlog()
        ],
    }
    ready = problem is None
    resp = jsonify({"status": "ready" if ready else "not_ready", "checks": checks})
    resp.status_code = 200 if ready else 503
    return resp


@bp.get("/health/worker")
def worker_health() -> Response:
    """200 while a worker's heartbeat is fresh, 503 when none is: for the worker's own probe."""
    ex = exchange()
    status = worker_status(ex.store, ex.clock())
    resp = jsonify({"status": "alive" if status["alive"] else "stale", **status})
    resp.status_code = 200 if status["alive"] else 503
    return resp
