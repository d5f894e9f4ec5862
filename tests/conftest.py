"""Shared fixtures: everything is real (servers on loopback, SQLite files, signatures)."""

from __future__ import annotations

import ipaddress
import os
import secrets
import socket
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

from ak_bridge.service.exchange import Exchange
from ak_bridge.sim.topology import Topology, build_topology

_real_connect = socket.socket.connect


def _loopback_only(self: socket.socket, address: object) -> object:
    host = address[0] if isinstance(address, tuple) else None
    if host is not None and self.family in (socket.AF_INET, socket.AF_INET6):
        try:
            ok = ipaddress.ip_address(host).is_loopback
        except ValueError:
            ok = host == "localhost"
        if not ok:
            raise OSError(f"test tried to reach {host}: only loopback is allowed")
    return _real_connect(self, address)


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail any connection that is not to this machine."""
    monkeypatch.setattr(socket.socket, "connect", _loopback_only)


@pytest.fixture(autouse=True)
def clean_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for key in list(os.environ):
        if key.startswith("AK_BRIDGE_"):
            monkeypatch.delenv(key)


# Read once, before any test's clean_environ: scripts/test (scripts/with-postgres) sets it.
POSTGRES_SERVER = os.environ.get("AK_BRIDGE_TEST_POSTGRES", "")


@pytest.fixture(scope="session")
def postgres_server() -> str:
    """The PostgreSQL server the tests use; they fail, never skip, without one."""
    if not POSTGRES_SERVER:
        pytest.fail(
            "no PostgreSQL: run the tests through scripts/test, or scripts/with-postgres "
            "pytest ..., or set AK_BRIDGE_TEST_POSTGRES=postgresql://..."
        )
    return POSTGRES_SERVER


@pytest.fixture
def pg_url(postgres_server: str) -> Iterator[str]:
    """A fresh, empty database on the test server, dropped afterwards."""
    import psycopg

    name = f"akb_{secrets.token_hex(6)}"
    with psycopg.connect(postgres_server, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    parts = urlsplit(postgres_server)
    yield urlunsplit(parts._replace(path=f"/{name}"))
    with psycopg.connect(postgres_server, autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A database setting for each backend: a SQLite path, then a PostgreSQL URL."""
    if request.param == "sqlite":
        return str(tmp_path / "store.db")
    return request.getfixturevalue("pg_url")


@pytest.fixture
def topology(tmp_path: Path) -> Iterator[Topology]:
    """PKI, config, simulated KCS / Indonesia (SOAP) / Viet Nam (REST), all started."""
    topo = build_topology(tmp_path / "exchange")
    yield topo
    topo.stop()


@pytest.fixture
def bridge(topology: Topology) -> Exchange:
    """The bridge's real Flask app, serving on a free loopback port."""
    return topology.start_bridge()


@pytest.fixture
def worker(topology: Topology, bridge: Exchange) -> Exchange:
    """The worker's own composition (as a separate process would have)."""
    return topology.worker_exchange()
