"""kill -9 of the real service and worker processes loses no accepted message.

The bridge runs as `ak-bridge serve` and `ak-bridge worker` subprocesses on the config the
topology wrote; the partner systems run in this process and count what they receive.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
import requests

from ak_bridge.adapters.store import open_database
from ak_bridge.sim.certificates import sample_form_ak
from ak_bridge.sim.topology import Topology, build_topology
from ak_bridge.standard.contracts import KCS

pytestmark = pytest.mark.slow
TODAY = datetime.now(UTC).date()
CLI = [sys.executable, "-m", "ak_bridge"]
N = 150  # more than the service can take before the kill, so the kill lands mid-load


def start(topo: Topology, *args: str) -> subprocess.Popen:
    return start_config(topo.settings.root / "config", *args)


def start_config(config: Path, *args: str) -> subprocess.Popen:
    """``ak-bridge`` as its own process on a config directory (a machine of its own)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AK_BRIDGE_")}
    # The log goes to a file: serve and worker log every request and attempt, and a pipe
    # nobody reads would fill and block them.
    log = config.parent / f"{args[0]}-{time.monotonic_ns()}.log"
    proc = subprocess.Popen(
        [*CLI, "--config", str(config), *args],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=log.open("wb"),
        start_new_session=True,  # its own process group: gunicorn's workers die with it
    )
    proc.log_path = log  # type: ignore[attr-defined]
    return proc


def wait_ready(url: str, proc: subprocess.Popen, timeout: float = 20) -> None:
    """Until the service answers; if it never does, it is stopped (no process outlives a test)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(proc.log_path.read_text())  # type: ignore[attr-defined]
        try:
            if requests.get(url + "/healthz", timeout=0.5).status_code == 200:
                return
        except requests.RequestException:
            time.sleep(0.05)
    kill9(proc)
    raise AssertionError("service did not come up")


def kill9(proc: subprocess.Popen) -> None:
    """kill -9 of the whole service: the gunicorn master and every worker at once."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass  # already gone (its group too)
    proc.wait(timeout=10)


@pytest.fixture
def topo(tmp_path: Path, database: str):
    """On each backend: the SQLite file, then a PostgreSQL database."""
    t = build_topology(
        tmp_path / "crash",
        retry={"max_attempts": 50, "base_delay": 0.2, "factor": 1.5, "max_delay": 1, "jitter": 0.1},
        database=database,
    )
    # claims expire quickly so that a killed worker's deliveries are taken over in the test
    cfg = t.settings.root / "config" / "ak_bridge.toml"
    cfg.write_text(cfg.read_text().replace("claim_seconds = 30", "claim_seconds = 2"))
    yield t
    t.stop()


def submit(topo: Topology, co, message_id: str):
    kcs = topo.systems["KR-KCS"]
    xml, _, _ = kcs.document_for(co)
    return kcs.submit_soap(topo.bridge_url, KCS, kcs.envelope_for(co, message_id), xml)


@pytest.mark.parametrize("kill_after", [0.05, 0.3, 0.8])
def test_kill_9_of_the_service_loses_no_acknowledged_message(topo: Topology, kill_after: float):
    url = f"http://127.0.0.1:{topo.settings.port}"
    serve = start(topo, "serve")
    wait_ready(url, serve)
    certificates = [sample_form_ak(f"KR-CRASH-{i:04d}", "KR", "ID", TODAY) for i in range(N)]
    acknowledged: dict[str, str] = {}

    def load() -> None:
        for co in certificates:
            try:
                reply = _submit_url(topo, url, co, f"K-{co.reference_no}")
                acknowledged[co.reference_no] = reply.MsgId
            except Exception:
                return  # the service died under us: the client would resend later

    sender = threading.Thread(target=load)
    sender.start()
    time.sleep(kill_after)
    assert sender.is_alive(), "the load finished before the kill: nothing was tested"
    kill9(serve)
    sender.join()

    # Restart; the partner resends everything it has no receipt for (and, to be sure, the
    # rest too: resends of acknowledged ones must come back as duplicates).
    serve = start(topo, "serve")
    wait_ready(url, serve)
    assert 0 <= len(acknowledged) < N
    for co in certificates:
        reply = _submit_url(topo, url, co, f"K-again-{co.reference_no}")
        if co.reference_no in acknowledged:
            assert reply.PrcsRsltCd == "duplicate"
            assert reply.MsgId == acknowledged[co.reference_no]
    worker = start(topo, "worker")
    try:
        indonesia = topo.systems["ID-SKA"]
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and len(indonesia.unique_message_ids()) < N:
            time.sleep(0.2)
    finally:
        kill9(worker)
        kill9(serve)
    refs = sorted(r.certificate.reference_no for r in indonesia.received)
    assert refs == sorted(co.reference_no for co in certificates)  # each once, none missing


def _submit_url(topo: Topology, url: str, co, message_id: str):
    kcs = topo.systems["KR-KCS"]
    xml, _, _ = kcs.document_for(co)
    return kcs.submit_soap(url, KCS, kcs.envelope_for(co, message_id), xml)


def test_kill_9_of_the_worker_mid_delivery_resends_with_the_same_id(topo: Topology):
    topo.start_bridge()
    indonesia = topo.systems["ID-SKA"]
    indonesia.mode, indonesia.slow_seconds = "slow", 1.0  # deliveries stay in flight a while
    ids = [
        submit(topo, sample_form_ak(f"KR-W-{i:03d}", "KR", "ID", TODAY), f"K-W-{i}").MsgId
        for i in range(6)
    ]
    worker = start(topo, "worker")
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and indonesia.hits == 0:
        time.sleep(0.05)
    kill9(worker)  # mid-delivery: the partner got a request, the worker never recorded it
    in_flight = open_database(topo.settings.database).find_deliveries(status=["in_flight"])
    assert in_flight, "the kill should have left a claimed delivery behind"

    indonesia.mode = "ok"
    second = start(topo, "worker")
    try:
        deadline = time.monotonic() + 40
        store = open_database(topo.settings.database)
        while time.monotonic() < deadline:
            if all(d["status"] == "delivered" for d in store.find_deliveries()):
                break
            time.sleep(0.2)
    finally:
        kill9(second)
    assert sorted(indonesia.unique_message_ids()) == sorted(ids)  # none missing, ids stable
    statuses = {d["status"] for d in store.find_deliveries()}
    assert statuses == {"delivered"}
