"""Form D passed unchanged to a configured ASW gateway; /healthz and /readyz."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import requests
from flask import Flask

from ak_bridge.adapters.scheduler import sweep
from ak_bridge.core.model import DocumentType
from ak_bridge.sim.certificates import sample_form_ak
from ak_bridge.sim.server import LiveServer
from ak_bridge.sim.topology import build_topology
from ak_bridge.standard.contracts import AMS

TODAY = datetime.now(UTC).date()


def test_form_d_is_forwarded_byte_for_byte_to_a_configured_asw(tmp_path: Path) -> None:
    topo = build_topology(tmp_path / "asw", asw=True)
    try:
        topo.start_bridge()
        worker = topo.worker_exchange()
        ind = topo.systems["ID-SKA"]
        co = sample_form_ak("0009/SKA-D/JKT/2026", "ID", "KR", TODAY)
        xml, _, _ = ind.document_for(co)
        env = ind.envelope_for(co, "ID-D9", document_type=DocumentType.FORM_D)
        reply = ind.submit_soap(topo.bridge_url, AMS, env, xml)
        assert reply.Status == "forwarded_to_asw"
        worker.deliver_due()
        assert topo.asw is not None
        assert topo.asw.received == [(xml, reply.MessageId)]  # the very bytes, never re-signed
        assert topo.systems["KR-KCS"].received == []  # and never translated or routed
        (event,) = [e for e in worker.store.audit_for(reply.MessageId) if e["event"] != "delivered"]
        assert event["event"] == "form_d_forwarded"
    finally:
        topo.stop()


def test_health_and_readiness(tmp_path: Path) -> None:
    topo = build_topology(tmp_path / "health")
    try:
        bridge = topo.start_bridge()
        assert requests.get(topo.bridge_url + "/healthz", timeout=5).json() == {"status": "ok"}

        # No worker has ever swept: the bridge still accepts (a load balancer probing
        # /readyz must not stop inbound submissions for a delivery outage); the worker's
        # state is reported beside readiness and on its own endpoint.
        resp = requests.get(topo.bridge_url + "/readyz", timeout=5)
        assert resp.status_code == 200 and resp.json()["status"] == "ready"
        assert resp.json()["checks"]["store"] == "writable"
        assert resp.json()["checks"]["worker"]["alive"] is False
        assert resp.json()["checks"]["worker"]["heartbeat_age_seconds"] is None
        worker = requests.get(topo.bridge_url + "/health/worker", timeout=5)
        assert worker.status_code == 503 and worker.json()["status"] == "stale"

        topo.systems["VN-ECOSYS"].stop()
        kcs = topo.systems["KR-KCS"]
        co = sample_form_ak("KR-2026-AK-000601", "KR", "VN", TODAY)
        xml, _, _ = kcs.document_for(co)
        kcs.submit_soap(topo.bridge_url, kcs.contract, kcs.envelope_for(co, "K-h"), xml)
        sweep(topo.worker_exchange())  # heartbeat, then a failed delivery to Viet Nam

        body = requests.get(topo.bridge_url + "/readyz", timeout=5).json()
        assert body["status"] == "ready"
        assert body["checks"]["worker"]["alive"] is True
        assert body["checks"]["worker"]["heartbeat_age_seconds"] < 60
        assert requests.get(topo.bridge_url + "/health/worker", timeout=5).status_code == 200
        (backlog,) = body["checks"]["backlog"]
        assert (backlog["partner"], backlog["backlog"]) == ("VN-ECOSYS", 1)
        assert 0 <= backlog["oldest_pending_age_seconds"] < 60  # queued during this test
        assert bridge.store.last_heartbeat() is not None
    finally:
        topo.stop()


def test_a_taken_port_is_an_error_not_an_exit() -> None:
    """werkzeug calls sys.exit when it cannot bind; a test or the demo must get an error."""
    import socket

    import pytest

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        with pytest.raises(OSError, match="already in use"):
            LiveServer(Flask("x"), port=taken.getsockname()[1]).start()
