"""Login, logout, roles and CSRF for the console.

CSRF: a random token per session, put in every form and checked on every POST (our own
check, a dozen lines, rather than Flask-WTF for one feature). The session cookie is also
SameSite=Strict and HttpOnly (Secure unless AK_BRIDGE_CONSOLE_HTTP=1 on a loopback test).
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Callable
from functools import wraps
from time import monotonic
from typing import Any

from flask import (
    Blueprint,
    abort,
    current_app,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)

from ak_bridge.adapters.web.auth import RepeatedFailures
from ak_bridge.service.exchange import Exchange
from ak_bridge.service.operators import NAME_KEPT, audit_failed_login, authenticate

OPEN_ENDPOINTS = {"console.login", "console.static"}


def exchange() -> Exchange:
    return current_app.extensions["ak_bridge"]


def csrf_token() -> str:
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(32)
    return session["csrf"]


def client_address() -> str:
    """Who is logging in, for the audit trail: the peer, or behind a proxy of ``[auth]
    trusted_proxies`` the last address that proxy put in X-Forwarded-For (anything further
    left was written by the client and proves nothing)."""
    peer = request.remote_addr or "-"
    forwarded = request.headers.get("X-Forwarded-For", "").split(",")[-1].strip()
    if forwarded and peer in exchange().settings.auth.trusted_proxies:
        return f"{forwarded[:64]} via {peer}"
    return peer


def _audit_throttled(name: str, source: str) -> None:
    """A throttled login costs its sender nothing, so it is audited as a series (as edge.py
    does for bad tokens): the first one, then the repeats within 60 s only counted, and one
    row with the count when the series ends. Its own rows, not ``rejected`` ones: those are
    partners' messages refused at the door, which the pilot report counts."""
    key = (source, name[: NAME_KEPT + 1])  # bounded: the series are kept in memory
    if throttled_series().record(key, monotonic()):
        ex = exchange()
        audit_failed_login(ex.store, name, ex.clock(), source, "throttled")


def throttled_series() -> RepeatedFailures:
    return current_app.extensions["ak_bridge_console_throttled"]


def close_throttled_series() -> None:
    """Before any request to the app: write the count of each series that has ended."""
    ended = throttled_series().ended(monotonic())
    if ended:
        ex = exchange()
        for (source, name), repeats in ended:
            audit_failed_login(ex.store, name, ex.clock(), source, "throttled", repeats)


def operator_only(view: Callable[..., Any]) -> Callable[..., Any]:
    """Viewers may look but not change: 403 even for a hand-made request."""

    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if g.role != "operator":
            abort(403, "viewers may not change deliveries")
        return view(*args, **kwargs)

    return wrapped


def _guard() -> Any:
    """Before every /admin request: a secret, a CSRF token on POST, a logged-in operator."""
    if not current_app.extensions["ak_bridge_console"].secret:
        return render_template("unavailable.html"), 503
    if request.method == "POST":
        sent = request.form.get("csrf_token", "")
        if not (session.get("csrf") and hmac.compare_digest(sent, session["csrf"])):
            abort(403, "missing or wrong CSRF token")
    if request.endpoint in OPEN_ENDPOINTS:
        return None
    name = session.get("operator")
    account = exchange().store.operator(name) if name else None
    if account is None or account["disabled_at"]:
        session.pop("operator", None)
        return redirect(url_for("console.login", next=request.path))
    g.operator, g.role = account["name"], account["role"]
    return None


def install(bp: Blueprint) -> None:
    bp.before_request(_guard)
    bp.app_context_processor(lambda: {"csrf_token": csrf_token})

    @bp.route("/login", methods=["GET", "POST"])
    def login() -> Any:
        error = None
        if request.method == "POST":
            ex = exchange()
            name = request.form.get("name", "").strip()
            password = request.form.get("password", "")
            source = client_address()
            result = authenticate(ex.store, name, password, ex.clock(), source)
            if result.reason == "throttled":
                _audit_throttled(name, source)
            if result.refused is None:
                session.clear()
                session.permanent = True
                session["operator"] = result.name
                target = request.args.get("next", "")
                return redirect(target if target.startswith("/admin") else url_for(".dashboard"))
            error = (
                "Too many failed logins for this account: wait 15 minutes."
                if result.refused == "throttled"
                else "Wrong name or password."
            )
        return render_template("login.html", error=error)

    @bp.route("/logout", methods=["POST"])
    def logout() -> Any:
        session.clear()
        return redirect(url_for(".login"))


def install_errors(bp: Blueprint) -> None:
    """Console errors are pages for people, not the SOAP/JSON answers partners get."""

    def page(exc: Any) -> Any:
        code = getattr(exc, "code", 500) or 500
        return render_template("error.html", code=code, text=exc.description), code

    for code in (400, 403, 404):
        bp.register_error_handler(code, page)
