"""The service wakes the worker: a certificate goes out long before the next interval sweep.

The worker (`ak-bridge worker`, its own process) sweeps every 60 s here, so a delivery
within seconds can only come from the wake-up (PostgreSQL NOTIFY, or the pipe beside the
SQLite file). Speed itself is measured in scripts/bench, not here.
"""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from test_crash import kill9, start_config

from ak_bridge.adapters.store.wakeup import FifoWaker
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
