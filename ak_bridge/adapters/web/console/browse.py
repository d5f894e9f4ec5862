"""Console pages to find things: messages, one message, refusals, one audit row, downloads."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, Response, abort, current_app, render_template, request

from ak_bridge.adapters.web.console.auth import exchange
from ak_bridge.service import selection
from ak_bridge.service.selection import Selection

PAGE = 50


def _day(name: str) -> datetime | None:
    text = request.args.get(name, "").strip()
    if not text:
        return None
    try:
        return datetime.fromisoformat(text).replace(tzinfo=UTC)
    except ValueError:
        raise ValueError(f"{name}: not a date (YYYY-MM-DD)") from None


def selection_from_args() -> Selection:
    """The filters of the query string, checked (``ValueError`` with a "did you mean")."""
    args = request.args

    def many(name: str) -> tuple[str, ...]:
        return tuple(v for v in args.getlist(name) if v)

    sel = Selection(
        partners=many("partner"),
        states=many("state"),
        directions=many("direction"),
        document_types=many("document_type"),
        failure_classes=many("failure_class"),
        reference_no=args.get("reference", "").strip() or None,
        partner_message_id=args.get("partner_message_id", "").strip() or None,
        since=_day("since"),
        until=_day("until"),
    )
    ex = exchange()
    return selection.check(sel, selection.known_partners(ex.store, ex.settings.partners))


def _choices() -> dict[str, Any]:
    ex = exchange()
    return {
        "partners": selection.known_partners(ex.store, ex.settings.partners),
        "states": selection.STATES,
        "directions": selection.DIRECTIONS,
        "document_types": selection.DOCUMENT_TYPES,
    }


def install(bp: Blueprint) -> None:
    @bp.route("/messages")
    def messages() -> Any:
        page = max(request.args.get("page", 1, type=int) or 1, 1)
        try:
            sel = selection_from_args()
        except ValueError as exc:
            return render_template("messages.html", error=str(exc), rows=[], **_choices()), 400
        rows = selection.search(exchange().store, sel, offset=(page - 1) * PAGE, limit=PAGE + 1)
        for r in rows:
            r["failure"] = selection.failure_reason(r)
        query = request.args.to_dict(flat=False)
        query.pop("page", None)
        return render_template(
            "messages.html",
            rows=rows[:PAGE],
            page=page,
            more=len(rows) > PAGE,
            query=query,
            error=None,
            **_choices(),
        )

    @bp.route("/messages/<message_id>")
    def message(message_id: str) -> Any:
        store = exchange().store
        m = store.message(message_id)
        if m is None:
            abort(404)
        deliveries = [
            {"d": d, "attempts": store.attempts_for(d["id"])}
            for d in store.deliveries_for(message_id)
        ]
        cert = (
            store.certificate(m["issuing_country"], m["reference_no"], m["issuing_body"])
            if m["issuing_country"] and m["reference_no"]
            else None
        )
        return render_template(
            "message.html",
            m=m,
            deliveries=deliveries,
            audit=store.audit_for(message_id),
            cert=cert,
        )

    @bp.route("/messages/<message_id>/received")
    def received(message_id: str) -> Response:
        m = exchange().store.message(message_id)
        if m is None or m["raw"] is None:
            abort(404)
        return _download(bytes(m["raw"]), f"{message_id}-received.xml", "application/xml")

    @bp.route("/deliveries/<int:delivery_id>/sent")
    def sent(delivery_id: int) -> Response:
        d = exchange().store.delivery(delivery_id)
        if d is None:
            abort(404)
        ext = "json" if "json" in d["content_type"] else "xml"
        name = f"{d['message_id']}-to-{d['destination']}.{ext}"
        return _download(bytes(d["payload"]), name, d["content_type"])

    @bp.route("/evidence/<issuing_country>/<reference_no>")
    def evidence(issuing_country: str, reference_no: str) -> Response:
        body = request.args.get("body", "")  # 1.1: the issuing body is part of the CO's key
        if exchange().store.certificate(issuing_country, reference_no, body) is None:
            abort(404)
        pack = current_app.extensions["ak_bridge_console"].evidence_pack(
            issuing_country, reference_no, body
        )
        name = "-".join(p for p in ("evidence", issuing_country, body, reference_no) if p)
        return _download(pack, f"{name}.zip", "application/zip")

    @bp.route("/refusals")
    def refusals() -> Any:
        partners = tuple(p for p in request.args.getlist("partner") if p)
        rows = [
            selection.refusal_view(r)
            for r in exchange().store.refusals(
                partners=partners,
                partner_message_id=request.args.get("partner_message_id") or None,
                limit=500,
            )
        ]
        return render_template("refusals.html", rows=rows, **_choices())

    @bp.route("/audit/<int:seq>")
    def audit_row(seq: int) -> Any:
        row = exchange().store.audit_row(seq)
        if row is None:
            abort(404)
        return render_template("audit.html", row=row)


def _download(data: bytes, name: str, content_type: str) -> Response:
    return Response(
        data,
        content_type=content_type,
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
