"""The service wakes the worker: a certificate goes out long before the next interval sweep.

The worker (`ak-bridge worker`, its own process) sweeps every 60 s here, so a delivery
within seconds can only come from the wake-up (PostgreSQL NOTIFY, or the pipe beside the
SQLite file). Speed itself is measured in scripts/bench, not here.
"""

from __future__ import annotations

import os
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from test_crash import kill9, start_config

from ak_bridge.adapters.scheduler import sweep
from ak_bridge.adapters.store.wakeup import FifoWaker
from ak_bridge.service.delivery import DeliveryReport
from ak_bridge.sim.certificates import sample_form_ak
from ak_bridge.sim.topology import build_topology

TODAY = datetime.now(UTC).date()
pytestmark = pytest.mark.slow


def test_an_accepted_certificate_wakes_the_worker(tmp_path: Path, database: str) -> None:
    topo = build_topology(tmp_path / "wake", database=database)
    config = topo.settings.root / "config"
    toml = config / "ak_bridge.toml"
    toml.write_text(toml.read_text().replace("interval_seconds = 0.2", "interval_seconds = 60"))
    worker = None
    try:
        topo.start_bridge()
        worker = start_config(config, "worker")
        time.sleep(2)  # its first sweep (at start) is over; the next is a minute away
        indonesia, kcs = topo.systems["ID-SKA"], topo.systems["KR-KCS"]
        for n in range(2):  # twice: the waiter is back waiting after a wake-up
            co = sample_form_ak(f"KR-WAKE-{n}", "KR", "ID", TODAY)
            assert kcs.submit(topo.bridge_url, co, f"K-WAKE-{n}").PrcsRsltCd == "accepted"
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline and len(indonesia.received) <= n:
                time.sleep(0.05)
            assert len(indonesia.received) == n + 1, worker.log_path.read_text()
    finally:
        if worker is not None:
            kill9(worker)
        topo.stop()


def test_a_pipe_whose_worker_is_gone_is_removed(tmp_path: Path) -> None:
    waker = FifoWaker(tmp_path / "x.db")
    waker.dir.mkdir()
    os.mkfifo(waker.dir / "99999999")  # a worker that died without cleaning up
    waker.signal()
    assert not (waker.dir / "99999999").exists()
    listening = FifoWaker(tmp_path / "x.db")
    assert not listening.wait(0.01)
    waker.signal()
    assert listening.wait(1.0)
    assert not listening.wait(0.01)  # one wake-up, drained


class _Store:
    def heartbeat(self, worker: str, now: datetime) -> None:
        pass


class _Exchange:
    """Just enough of an Exchange for ``sweep``: its passes find nothing, and the first one
    is overtaken by a wake-up (a NOTIFY for a certificate accepted after its claim)."""

    worker_id = "w"
    store = _Store()

    def __init__(self, woken: threading.Event) -> None:
        self.woken, self.passes = woken, 0

    def clock(self) -> datetime:
        return datetime.now(UTC)

    def deliver_due(self) -> DeliveryReport:
        self.passes += 1
        if self.passes == 1:
            self.woken.set()  # what wake() does when the notification lands mid-pass
        return DeliveryReport()


def test_a_wake_up_during_a_sweep_earns_another_pass() -> None:
    """APScheduler skips a run while one is running, so without another pass the work
    behind a mid-sweep wake-up waited a whole interval (seen under load: the second
    certificate of test_an_accepted_certificate_wakes_the_worker never came)."""
    woken = threading.Event()
    exchange = _Exchange(woken)
    sweep(exchange, woken=woken)  # type: ignore[arg-type]
    assert exchange.passes == 2
    assert not woken.is_set()
