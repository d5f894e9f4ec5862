"""Shared fixtures: everything is real (servers on loopback, SQLite files, signatures)."""

from __future__ import annotations

import ipaddress
import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pg
import pytest

from ak_bridge.service.exchange import Exchange
from ak_bridge.sim.topology import PILOT, Topology, build_topology

PARTNER_IDS = tuple(s.partner_id for s in PILOT)

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

    for key in list(os.environ):
        if key.startswith("AK_BRIDGE_"):
            monkeypatch.delenv(key)


@pytest.fixture(scope="session")
def postgres_server() -> str:
    """The PostgreSQL server the tests use; they fail, never skip, without one."""
    if not pg.SERVER:
        pytest.fail(pg.MISSING)
    return pg.SERVER


@pytest.fixture
def pg_url(postgres_server: str) -> Iterator[str]:
    """A fresh, empty database on the test server, dropped afterwards."""
    url = pg.create_database(postgres_server)
    yield url
    pg.drop_database(url, postgres_server)


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
def signed(tmp_path: Path) -> Iterator[Topology]:
    """The pilot exchange with ``sign_receipts = true`` for every partner, bridge started."""
    topo = build_topology(
        tmp_path / "signed", partner_lines={p: "sign_receipts = true\n" for p in PARTNER_IDS}
    )
    topo.start_bridge()
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
