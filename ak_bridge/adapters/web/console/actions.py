"""Retry and cancel from the console: a preview of exactly what will be touched, then a
confirmation that acts on those deliveries only, audited under the operator's name."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, g, redirect, render_template, request, url_for

from ak_bridge.adapters.web.console.auth import exchange, operator_only
from ak_bridge.adapters.web.console.browse import selection_from_args
from ak_bridge.service import selection

VERBS = {"retry": selection.RETRYABLE, "cancel": selection.CANCELLABLE}


def _preview_rows(verb: str) -> list[dict[str, Any]]:
    """The deliveries named (``delivery=``) or filtered (the Messages page's query)."""
    store = exchange().store
    ids = [int(i) for i in request.values.getlist("delivery") if i.isdigit()]
    if ids:
        rows = []
        for did in ids:
            d = store.delivery(did)
            if d is not None:
                rows.append(d.plain() | {"delivery_id": d.id})
        return rows
    return selection.targets(store, selection_from_args(), VERBS[verb])


def install(bp: Blueprint) -> None:
    @bp.route("/actions/<verb>", methods=["GET"])
    @operator_only
    def preview(verb: str) -> Any:
        if verb not in VERBS:
            abort(404)
        try:
            rows = _preview_rows(verb)
        except ValueError as exc:
            return render_template("action.html", verb=verb, rows=[], error=str(exc)), 400
        for r in rows:
            r["touched"] = r["status"] in VERBS[verb]
        return render_template("action.html", verb=verb, rows=rows, error=None)

    @bp.route("/actions/<verb>", methods=["POST"])
    @operator_only
    def confirm(verb: str) -> Any:
        if verb not in VERBS:
            abort(404)
        ex = exchange()
        ids = [int(i) for i in request.form.getlist("delivery") if i.isdigit()]
        reason = request.form.get("reason", "").strip()
        if verb == "cancel" and not reason:
            abort(400, "a cancel needs a reason")
        note = f"{reason or 'retry requested'} (console, {g.operator})"
        if verb == "retry":
            done = ex.store.requeue(ids, ex.clock(), g.operator, note)
        else:
            done = ex.store.cancel(ids, ex.clock(), g.operator, note)
        return redirect(url_for(".done", verb=verb, n=len(done), of=len(ids)))

    @bp.route("/actions/<verb>/done")
    def done(verb: str) -> str:
        return render_template(
            "done.html",
            verb=verb,
            n=request.args.get("n", 0, type=int),
            of=request.args.get("of", 0, type=int),
        )
