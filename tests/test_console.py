"""The console's access rules through Flask's test client on the real app: the secret,
login, roles, CSRF on every POST, the shared login throttle, disabled accounts."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner
from flask.testing import FlaskClient

from ak_bridge import create_app
from ak_bridge.adapters.store import open_store
from ak_bridge.adapters.web.console import auth as console_auth
from ak_bridge.cli import cli
from ak_bridge.config import load_settings
from ak_bridge.core.settings import ConsoleSettings, Settings
from ak_bridge.service.operators import hash_password
from ak_bridge.sim.topology import Topology, build_topology

PASSWORD = "correct horse battery"


@pytest.fixture
def app_topology(tmp_path: Path) -> Iterator[Topology]:
    topo = build_topology(tmp_path / "console", start_partners=())
    topo.settings = with_console(topo, "s" * 40, secure_cookies=False)
    store = open_store(topo.settings)
    store.add_operator("olga", "operator", hash_password(PASSWORD), _now())
    store.add_operator("vera", "viewer", hash_password(PASSWORD), _now())
    store.close()
    yield topo
    topo.stop()


def with_console(topo: Topology, secret: str | None, secure_cookies: bool) -> Settings:
    return replace(topo.settings, console=ConsoleSettings(secret, secure_cookies))


def _now():
    from datetime import UTC, datetime

    return datetime.now(UTC)


def client(topo: Topology) -> FlaskClient:
    return create_app(topo.settings).test_client()


def token(c: FlaskClient, path: str = "/admin/login") -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', c.get(path).get_data(as_text=True))
    assert found, path
    return found.group(1)


def login(c: FlaskClient, name: str, password: str = PASSWORD):
    return c.post("/admin/login", data={"name": name, "password": password, "csrf_token": token(c)})


def test_without_a_secret_the_console_is_refused(
    app_topology: Topology, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AK_BRIDGE_CONSOLE_SECRET", "s" * 40)  # read by config.py only
    app_topology.settings = with_console(app_topology, None, secure_cookies=False)
    resp = client(app_topology).get("/admin/login")
    assert resp.status_code == 503
    assert "AK_BRIDGE_CONSOLE_SECRET" in resp.get_data(as_text=True)


def test_pages_need_a_login_and_cookies_are_strict(app_topology: Topology) -> None:
    c = client(app_topology)
    assert c.get("/admin/messages").status_code == 302
    resp = login(c, "olga")
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/admin/")
    store = open_store(app_topology.settings)
    (event,) = store.audit_events("console_login")
    assert event["actor"] == "olga"
    store.close()
    cookie = resp.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/admin" in cookie
    for page in (
        "/admin/",
        "/admin/messages",
        "/admin/refusals",
        "/admin/partners",
        "/admin/report",
    ):
        assert c.get(page).status_code == 200, page
    assert c.get("/admin/messages?partner=VN").status_code == 400
    assert "did you mean VN-ECOSYS?" in c.get("/admin/messages?partner=VN").get_data(as_text=True)


def test_cookies_are_secure_unless_told_otherwise(app_topology: Topology) -> None:
    app_topology.settings = with_console(app_topology, "s" * 40, secure_cookies=True)
    c = client(app_topology)
    assert "Secure" in c.get("/admin/login").headers["Set-Cookie"]


def test_every_post_needs_the_csrf_token(app_topology: Topology) -> None:
    c = client(app_topology)
    c.get("/admin/login")
    no_token = c.post("/admin/login", data={"name": "olga", "password": PASSWORD})
    assert no_token.status_code == 403
    assert login(c, "olga").status_code == 302
    assert c.post("/admin/actions/retry", data={"delivery": "1"}).status_code == 403
    assert c.post("/admin/logout", data={"csrf_token": "forged"}).status_code == 403


def test_a_viewer_may_look_but_not_act(app_topology: Topology) -> None:
    c = client(app_topology)
    login(c, "vera")
    assert c.get("/admin/messages").status_code == 200
    assert c.get("/admin/actions/retry?delivery=1").status_code == 403
    forged = c.post(
        "/admin/actions/retry", data={"delivery": "1", "csrf_token": token(c, "/admin/")}
    )
    assert forged.status_code == 403


def test_login_throttle_is_shared_by_every_instance(app_topology: Topology) -> None:
    first, second = client(app_topology), client(app_topology)  # two apps, one store
    for _ in range(5):
        assert "Wrong name or password" in login(first, "olga", "wrong").get_data(as_text=True)
    refused = login(second, "olga")  # the right password, on the other instance
    assert refused.status_code == 200
    assert "Too many failed logins" in refused.get_data(as_text=True)
    assert login(second, "vera").status_code == 302  # other accounts are not locked


def test_a_disabled_account_is_logged_out(app_topology: Topology) -> None:
    c = client(app_topology)
    assert login(c, "olga").status_code == 302
    store = open_store(app_topology.settings)
    store.disable_operator("olga", _now())
    store.close()
    assert c.get("/admin/").status_code == 302
    assert login(client(app_topology), "olga").status_code == 200  # refused


def test_every_failed_login_is_an_audit_row(
    app_topology: Topology, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Unknown name, wrong password, disabled account, throttled: each leaves a row with the
    name tried and the client's address, never the password; the chain stays intact.
    Throttled logins cost the sender nothing, so they are a series: one row, repeats counted
    in one more row when the series ends; none of them a partner's refusal (``rejected``)."""
    c = client(app_topology)
    login(c, "mallory", "guess one 123")
    login(c, "vera\n" + "x" * 100, "guess two 123")
    for _ in range(5):
        login(c, "olga", "guess three 123")
    for _ in range(3):
        login(c, "olga")  # the right password, but throttled now: one row, two counted
    store = open_store(app_topology.settings)
    store.disable_operator("vera", _now())
    store.close()
    login(c, "vera")
    later = time.monotonic() + 61  # the throttled series has ended; the next request says so
    monkeypatch.setattr(console_auth, "monotonic", lambda: later)
    c.get("/admin/login")
    store = open_store(app_topology.settings)
    rows = list(reversed(store.audit_events("console_login_failed")))
    assert [r["detail"].split(": ", 1)[1] for r in rows] == (
        ["unknown_user", "unknown_user"]
        + ["wrong_password"] * 5
        + ["throttled", "disabled", "throttled; 2 more like it within 60 s"]
    )
    assert rows[0]["detail"] == "name 'mallory' from 127.0.0.1: unknown_user"
    assert rows[1]["detail"].startswith("name 'vera?xxx") and "…" in rows[1]["detail"]
    assert len(rows[1]["detail"]) < 120  # the tried name is bounded
    assert rows[-1]["detail"].startswith("name 'olga' from 127.0.0.1: ")
    assert all(r["actor"] == "system" for r in rows)  # nobody authenticated did this
    trail = " ".join(str(dict(r)) for r in store.audit_events())
    assert "guess" not in trail and PASSWORD not in trail
    assert store.audit_events("console_login") == []
    assert store.audit_events("rejected") == []  # the pilot report's refusals: untouched
    assert store.verify_audit() == []
    store.close()


def test_behind_a_trusted_proxy_the_forwarded_client_is_audited(
    app_topology: Topology,
) -> None:
    settings = app_topology.settings
    proxied = replace(settings, auth=replace(settings.auth, trusted_proxies=("127.0.0.1",)))
    c = create_app(proxied).test_client()
    c.environ_base["HTTP_X_FORWARDED_FOR"] = "203.0.113.9, 198.51.100.7"
    login(c, "olga", "wrong password")
    login(c, "olga")
    store = open_store(settings)
    (failed,) = store.audit_events("console_login_failed")
    assert failed["detail"] == "name 'olga' from 198.51.100.7 via 127.0.0.1: wrong_password"
    (ok,) = store.audit_events("console_login")
    assert ok["actor"] == "olga" and ok["detail"] == "from 198.51.100.7 via 127.0.0.1"
    store.close()
    direct = client(app_topology)  # no trusted proxy: the header proves nothing
    direct.environ_base["HTTP_X_FORWARDED_FOR"] = "203.0.113.9"
    login(direct, "nobody")
    store = open_store(settings)
    assert store.audit_events("console_login_failed")[0]["detail"].endswith(
        "from 127.0.0.1: unknown_user"
    )
    store.close()


def test_the_console_variables_are_read_by_config_and_never_shown(
    app_topology: Topology,
) -> None:
    """config.py is the one reader of the environment; the secret stays out of repr (log
    lines) and out of ``config check``'s dump."""
    config = app_topology.settings.root / "config"
    environ = {"AK_BRIDGE_CONSOLE_SECRET": "console-secret-" + "z" * 30}
    settings = load_settings(config, environ={**environ, "AK_BRIDGE_CONSOLE_HTTP": "1"})
    assert settings.console == ConsoleSettings(environ["AK_BRIDGE_CONSOLE_SECRET"], False)
    assert load_settings(config, environ={}).console == ConsoleSettings(None, True)
    assert load_settings(config, environ=environ).console.secure_cookies
    assert "console-secret" not in repr(settings)
    shown = CliRunner(env=environ).invoke(cli, ["--config", str(config), "config", "check"])
    assert "console-secret" not in shown.output
    assert json.loads(shown.stdout)["console"] == {"secret": "***", "secure_cookies": True}
