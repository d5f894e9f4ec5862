"""Latency of legitimate KCS submissions to ``ak-bridge serve`` while slow clients attack.

First a quiet baseline, then the same submissions while ``--slow`` connections trickle
headers or bodies one byte per ``--interval`` seconds or sit idle after partial headers
(ak_bridge/sim/slowloris.py). Everything on loopback; figures only.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import requests

from ak_bridge.adapters.web import soap
from ak_bridge.sim.certificates import sample_form_ak
from ak_bridge.sim.slowloris import SlowClients
from ak_bridge.sim.topology import Topology, build_topology
from ak_bridge.standard.contracts import KCS

TODAY = datetime.now(UTC).date()


def submit(topo: Topology, url: str, n: int) -> tuple[float, str]:
    kcs = topo.systems["KR-KCS"]
    co = sample_form_ak(f"KR-LORIS-{n:05d}", "KR", "ID", TODAY)
    xml, _, _ = kcs.document_for(co)
    body = soap.submit_request(KCS, kcs.envelope_for(co, f"K-LORIS-{n}"), xml)
    headers = {"Content-Type": soap.CONTENT_TYPE, **kcs.auth_headers()}
    start = time.perf_counter()
    try:
        resp = requests.post(url + KCS.path, data=body, headers=headers, timeout=10)
        outcome = "accepted" if b"accepted" in resp.content else f"HTTP {resp.status_code}"
    except requests.RequestException as exc:
        outcome = type(exc).__name__
    return (time.perf_counter() - start) * 1000, outcome


def run(topo: Topology, url: str, seconds: float, first: int) -> tuple[list[float], dict]:
    latencies, outcomes = [], {}
    deadline, n = time.monotonic() + seconds, first
    while time.monotonic() < deadline:
        ms, outcome = submit(topo, url, n)
        latencies.append(ms)
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
        n += 1
        time.sleep(0.1)
    return latencies, outcomes


def report(label: str, latencies: list[float], outcomes: dict) -> None:
    ordered = sorted(latencies)
    p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
    print(
        f"{label:<28} n={len(latencies):<4} median={statistics.median(latencies):7.1f} ms "
        f"p95={p95:7.1f} ms max={max(latencies):7.1f} ms  {outcomes}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--slow", type=int, default=64, help="slow connections held")
    parser.add_argument("--seconds", type=float, default=20, help="length of each phase")
    parser.add_argument("--interval", type=float, default=2.0, help="seconds per trickled byte")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        topo = build_topology(Path(tmp) / "exchange", start_partners=())
        env = {k: v for k, v in os.environ.items() if not k.startswith("AK_BRIDGE_")}
        config = topo.settings.root / "config"
        proc = subprocess.Popen(
            [sys.executable, "-m", "ak_bridge", "--config", str(config), "serve"],
            env=env,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        url = f"http://127.0.0.1:{topo.settings.port}"
        try:
            for _ in range(300):
                try:
                    requests.get(url + "/healthz", timeout=1)
                    break
                except requests.RequestException:
                    time.sleep(0.1)
            edge = topo.settings.edge
            print(
                f"ak-bridge serve: {topo.settings.workers} workers x {edge.threads} threads, "
                f"header/body timeouts {edge.header_timeout_seconds}/"
                f"{edge.body_timeout_seconds} s, {edge.max_connections} connections/worker"
            )
            report("quiet", *run(topo, url, args.seconds, 0))
            with SlowClients("127.0.0.1", topo.settings.port, args.slow, args.interval) as slow:
                time.sleep(1)
                report(f"{args.slow} slow connections held", *run(topo, url, args.seconds, 10_000))
            print(
                f"slow connections closed by the server: {slow.closed_by_server} "
                f"({slow.answered_408} answered 408), longest held {slow.longest_held:.1f} s"
            )
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=20)
            topo.stop()


if __name__ == "__main__":
    main()
