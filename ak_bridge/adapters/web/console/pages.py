"""Console pages that summarise: the dashboard, partners and certificates, the report."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from flask import Blueprint, Response, current_app, render_template
from markupsafe import Markup

from ak_bridge.adapters.web.console import charts
from ak_bridge.adapters.web.console.auth import exchange
from ak_bridge.security.signing import load_trusted
from ak_bridge.service.ports import from_iso

HEARTBEAT_STALE = timedelta(minutes=2)


def _hours(now: datetime) -> tuple[datetime, list[str]]:
    start = now.replace(minute=0, second=0, microsecond=0) - timedelta(hours=23)
    return start, [(start + timedelta(hours=i)).strftime("%Y-%m-%dT%H") for i in range(24)]


def _certificates(now: datetime) -> list[dict[str, Any]]:
    """Our signing certificate and every partner's pinned ones, soonest expiry first."""
    settings = exchange().settings
    rows = []
    for who, paths in [("our signing certificate", (settings.identity_cert,))] + [
        (p.id, p.certificates) for p in settings.partners.values()
    ]:
        try:
            certs = load_trusted(paths)
        except Exception as exc:  # a missing file is shown, not a 500
            rows.append({"who": who, "subject": f"unreadable: {exc}", "days": None})
            continue
        for c in certs:
            days = (c.not_after - now).total_seconds() / 86400
            rows.append(
                {
                    "who": who,
                    "subject": c.subject,
                    "fingerprint": c.fingerprint,
                    "not_after": c.not_after,
                    "days": days,
                }
            )
    return sorted(rows, key=lambda r: r["days"] if r["days"] is not None else -1e9)


def install(bp: Blueprint) -> None:
    @bp.route("/")
    def dashboard() -> str:
        ex = exchange()
        now = ex.clock()
        start, hours = _hours(now)
        backlog = {b["destination"]: b for b in ex.store.backlog()}
        finished: dict[str, dict[str, list[int]]] = {}
        for row in ex.store.finished_per_hour(start):
            per = finished.setdefault(row["destination"], {"delivered": [0] * 24, "dead": [0] * 24})
            if row["hour"] in hours:
                per[row["status"]][hours.index(row["hour"])] = int(row["n"])
        partners = []
        for pid in sorted({*ex.settings.partners, *backlog, *finished}):
            series = finished.get(pid, {"delivered": [0] * 24, "dead": [0] * 24})
            b = backlog.get(pid)
            partners.append(
                {
                    "id": pid,
                    "backlog": b["backlog"] if b else 0,
                    "oldest": from_iso(b["oldest"]) if b else None,
                    "breaker": ex.store.breaker(pid).state(now),
                    "delivered": sum(series["delivered"]),
                    "dead": sum(series["dead"]),
                    "chart": Markup(charts.bars(hours, series, f"{pid}: last 24 h")),
                }
            )
        workers = [
            {"worker": h["worker"], "at": h["at"], "ok": now - from_iso(h["at"]) < HEARTBEAT_STALE}
            for h in ex.store.heartbeats()
        ]
        return render_template(
            "dashboard.html",
            partners=partners,
            workers=workers,
            certificates=_certificates(now)[:6],
            now=now,
        )

    @bp.route("/partners")
    def partners() -> str:
        ex = exchange()
        return render_template(
            "partners.html",
            partners=sorted(ex.settings.partners.values(), key=lambda p: p.id),
            certificates=_certificates(ex.clock()),
        )

    @bp.route("/report")
    def report() -> str:
        """The same page officials get from ``report --html``, framed in the console: a
        sandboxed frame keeps its print styles and the console's apart (it has no script)."""
        page = current_app.extensions["ak_bridge_console"].pilot_report()
        return render_template("report.html", page=page)

    @bp.route("/report.html")
    def report_download() -> Response:
        page = current_app.extensions["ak_bridge_console"].pilot_report()
        return Response(
            page,
            mimetype="text/html",
            headers={"Content-Disposition": 'attachment; filename="pilot-report.html"'},
        )
