"""The console's access rules through Flask's test client on the real app: the secret,
login, roles, CSRF on every POST, the shared login throttle, disabled accounts."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from ak_bridge import create_app
from ak_bridge.adapters.store import open_store
from ak_bridge.service.operators import hash_password
from ak_bridge.sim.topology import Topology, build_topology

PASSWORD = "correct horse battery"


@pytest.fixture
def app_topology(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Topology]:
    monkeypatch.setenv("AK_BRIDGE_CONSOLE_SECRET", "s" * 40)
    monkeypatch.setenv("AK_BRIDGE_CONSOLE_HTTP", "1")
    topo = build_topology(tmp_path / "console", start_partners=())
    store = open_store(topo.settings)
    store.add_operator("olga", "operator", hash_password(PASSWORD), _now())
    store.add_operator("vera", "viewer", hash_password(PASSWORD), _now())
    store.close()
    yield topo
    topo.stop()


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
    monkeypatch.delenv("AK_BRIDGE_CONSOLE_SECRET")
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


def test_cookies_are_secure_unless_told_otherwise(
    app_topology: Topology, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AK_BRIDGE_CONSOLE_HTTP")
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
