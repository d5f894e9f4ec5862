"""/healthz (the process answers) and /readyz (it can do its job), both JSON."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from ak_bridge.adapters.web.context import exchange
from ak_bridge.service.ports import from_iso

bp = Blueprint("health", __name__)

HEARTBEAT_STALE_SECONDS = 60


@bp.get("/healthz")
def healthz() -> Response:
    return jsonify({"status": "ok"})


@bp.get("/readyz")
def readyz() -> Response:
    ex = exchange()
    now = ex.clock()
    checks: dict[str, object] = {}
    ready = True
    try:
        ex.store.ping()
        checks["store"] = "writable"
    except Exception as exc:  # any failure here means not ready
        checks["store"] = f"not writable: {type(exc).__name__}"
        ready = False
    beat = ex.store.last_heartbeat()
    age = (now - beat).total_seconds() if beat else None
    checks["worker_heartbeat_age_seconds"] = age
    if age is None or age > HEARTBEAT_STALE_SECONDS:
        ready = False
    checks["backlog"] = [
        {
            "partner": row["destination"],
            "backlog": row["backlog"],
            "oldest_pending_age_seconds": (now - from_iso(row["oldest"])).total_seconds(),
        }
        for row in ex.store.backlog()
    ]
    resp = jsonify({"status": "ready" if ready else "not_ready", "checks": checks})
    resp.status_code = 200 if ready else 503
    return resp
