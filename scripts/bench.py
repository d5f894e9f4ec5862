"""Benchmarks: what one certificate costs on the way through the bridge, and memory under backlog.

Everything is real: the bridge's Flask app on a loopback port (werkzeug, threaded), simulated
KCS and Indonesia as real servers, real signatures, a real SQLite file. Figures only; nothing
here asserts a time, so nothing flakes.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import tempfile
import time
import tracemalloc
from datetime import UTC, datetime
from pathlib import Path

import requests
from lxml import etree

from ak_bridge.adapters.web import soap
from ak_bridge.security.signing import Verifier, load_trusted
from ak_bridge.sim.certificates import sample_form_ak
from ak_bridge.sim.server import free_port
from ak_bridge.sim.topology import build_topology
from ak_bridge.standard.contracts import KCS

TODAY = datetime.now(UTC).date()


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * p))]


def bench_signing(topo, n: int = 300) -> None:
    kcs = topo.systems["KR-KCS"]
    co = sample_form_ak("KR-BENCH-SIGN", "KR", "ID", TODAY, items=20)
    element = kcs.codec.encode(co)
    signed = kcs.signer.sign(element)
    verifier = Verifier(load_trusted(topo.settings.partners["KR-KCS"].certificates))
    sign_ms, verify_ms = [], []
    for _ in range(n):
        t = time.perf_counter()
        kcs.signer.sign(element)
        sign_ms.append((time.perf_counter() - t) * 1000)
        t = time.perf_counter()
        verifier.verify(signed)
        verify_ms.append((time.perf_counter() - t) * 1000)
    print(
        f"signing  ({len(signed)} B, 20 items): sign median {statistics.median(sign_ms):.2f} ms, "
        f"verify median {statistics.median(verify_ms):.2f} ms (n={n})"
    )


def bench_accept(topo, n: int) -> None:
    """Pre-built, pre-signed SOAP requests posted with one keep-alive session."""
    kcs = topo.systems["KR-KCS"]
    bodies = []
    for i in range(n):
        co = sample_form_ak(f"KR-BENCH-{i:06d}", "KR", "ID", TODAY)
        xml, _, _ = kcs.document_for(co)
        bodies.append(soap.submit_request(KCS, kcs.envelope_for(co, f"B-{i}"), xml))
    session = requests.Session()
    session.headers.update({"Content-Type": soap.CONTENT_TYPE, **kcs.auth_headers()})
    url = topo.bridge_url + KCS.path
    latencies = []
    start = time.perf_counter()
    for body in bodies:
        t = time.perf_counter()
        resp = session.post(url, data=body, timeout=30)
        latencies.append((time.perf_counter() - t) * 1000)
        assert resp.status_code == 200, resp.text[:300]
        assert etree.fromstring(resp.content).find(f".//{KCS.q('PrcsRsltCd')}").text == "accepted"
    total = time.perf_counter() - start
    print(
        f"accept   {n} SOAP submissions (parse, verify, decode, rules, translate, sign, "
        f"store): {n / total:.0f} msg/s, median {statistics.median(latencies):.2f} ms, "
        f"p95 {pct(latencies, 0.95):.2f} ms"
    )


def bench_accept_gunicorn(topo, n: int, workers: int = 2) -> None:
    """The same submissions against `ak-bridge serve` (gunicorn) in its own processes."""
    import os
    import signal
    import subprocess
    import sys

    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ak_bridge",
            "--config",
            str(topo.settings.root / "config"),
            "serve",
            "--port",
            str(port),
            "--workers",
            str(workers),
        ],
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                requests.get(url + "/healthz", timeout=0.5)
                break
            except requests.RequestException:
                time.sleep(0.05)
        kcs = topo.systems["KR-KCS"]
        bodies = []
        for i in range(n):
            co = sample_form_ak(f"KR-GBENCH-{i:06d}", "KR", "ID", TODAY)
            xml, _, _ = kcs.document_for(co)
            bodies.append(soap.submit_request(KCS, kcs.envelope_for(co, f"G-{i}"), xml))
        headers = {"Content-Type": soap.CONTENT_TYPE, **kcs.auth_headers()}

        def post_all(chunk: list[bytes], out: list[float]) -> None:
            session = requests.Session()
            for body in chunk:
                t = time.perf_counter()
                resp = session.post(url + KCS.path, data=body, headers=headers, timeout=30)
                out.append((time.perf_counter() - t) * 1000)
                assert resp.status_code == 200, resp.text[:300]

        import threading

        latencies: list[float] = []
        clients = 4
        threads = [
            threading.Thread(target=post_all, args=(bodies[i::clients], latencies))
            for i in range(clients)
        ]
        start = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        total = time.perf_counter() - start
        print(
            f"accept   {n} SOAP submissions to `ak-bridge serve` (gunicorn, {workers} workers, "
            f"{clients} client connections): {n / total:.0f} msg/s, median "
            f"{statistics.median(latencies):.2f} ms, p95 {pct(latencies, 0.95):.2f} ms"
        )
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=20)


def bench_deliver(topo, worker, n: int) -> None:
    indonesia = topo.systems["ID-SKA"]
    start = time.perf_counter()
    sweeps = 0
    while len(indonesia.received) < n and sweeps < 10 * n:
        worker.deliver_due(limit=50)
        sweeps += 1
    total = time.perf_counter() - start
    print(
        f"deliver  {len(indonesia.received)} certificates to a SOAP partner (claim, zeep send, "
        f"partner verifies, record): {len(indonesia.received) / total:.0f} msg/s"
    )


def bench_backlog_memory(base: Path, sizes: list[int]) -> None:
    """Peak Python allocation while draining backlogs of growing size: it should stay flat."""
    for size in sizes:
        topo = build_topology(base / f"backlog-{size}", start_partners=("KR-KCS",))
        exchange = topo.start_bridge()
        kcs = topo.systems["KR-KCS"]
        session = requests.Session()
        session.headers.update({"Content-Type": soap.CONTENT_TYPE, **kcs.auth_headers()})
        for i in range(size):
            co = sample_form_ak(f"KR-BL-{i:06d}", "KR", "ID", TODAY)
            xml, _, _ = kcs.document_for(co)
            session.post(
                topo.bridge_url + KCS.path,
                data=soap.submit_request(KCS, kcs.envelope_for(co, f"BL-{i}"), xml),
                timeout=30,
            ).raise_for_status()
        worker = topo.worker_exchange()
        topo.systems["ID-SKA"].keep_documents = False  # measure the bridge, not the simulator
        topo.systems["ID-SKA"].start()  # the partner comes back after the backlog built up
        tracemalloc.start()
        start = time.perf_counter()
        while len(topo.systems["ID-SKA"].received) < size:
            worker.deliver_due(limit=50)
        drained = time.perf_counter() - start
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        print(
            f"backlog  {size:5d} queued while the partner was down: drained in {drained:.1f} s "
            f"({size / drained:.0f} msg/s under tracemalloc), peak Python allocation while "
            f"draining {peak / 1e6:.1f} MB"
        )
        del exchange
        topo.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=300)
    parser.add_argument("--backlog", type=int, nargs="*", default=[200, 800])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="ak-bench-") as tmp:
        topo = build_topology(Path(tmp) / "main")
        try:
            topo.start_bridge()
            worker = topo.worker_exchange()
            bench_signing(topo)
            bench_accept(topo, args.messages)
            bench_accept_gunicorn(topo, args.messages)
            bench_deliver(topo, worker, args.messages)
            size = Path(topo.settings.database).stat().st_size
            stored = worker.store.db.execute("SELECT count(*) FROM messages").fetchone()[0]
            print(
                f"store    {size / 1e6:.1f} MB SQLite for {stored} certificates "
                f"({size / stored / 1e3:.1f} kB each: raw, canonical, signed outbound)"
            )
        finally:
            topo.stop()
        bench_backlog_memory(Path(tmp), args.backlog)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"process  max RSS {rss:.0f} MB")


if __name__ == "__main__":
    main()
