"""Capacity against the floor: accept and end to end, beside two floor servers (issue 14).

Three servers, each gunicorn with 2 workers × the shipped threads and keep-alive, on this
machine, fed the SAME pre-signed KCS SOAP requests by the SAME client (4 keep-alive
threads):

* floor-verify: parse, verify the pinned signature, one durable SQLite insert;
* floor-sign: the same plus signing with the bridge's key (scripts/floor_app.py);
* ``ak-bridge serve``: the whole accept path.

Then end to end (``serve`` + one ``worker``, Indonesia's simulated system up in a process of
its own): the sustained rate at which certificates arrive at the partner, the CPU each
process spends per certificate, and, offered at half that rate, receipt → arrival p50/p99;
once with a partner that verifies and decodes everything, once with one that answers from
the header (its checks are on its own machine in production, not on these 2 cores).
Figures only; nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).parent))
from bench_backends import start, wait_up  # noqa: E402
from bench_partner import Partner, partner_port  # noqa: E402

from ak_bridge.adapters.web import soap  # noqa: E402
from ak_bridge.sim.certificates import sample_form_ak  # noqa: E402
from ak_bridge.sim.server import free_port  # noqa: E402
from ak_bridge.sim.topology import Topology, build_topology  # noqa: E402
from ak_bridge.standard.contracts import KCS  # noqa: E402

TODAY = datetime.now(UTC).date()
CLIENTS = 4
HERE = Path(__file__).parent


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * p))]


def cpu_seconds(pgid: int) -> float:
    """User + system CPU of every process in a process group (serve's gunicorn workers)."""
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid:  # fields after "(comm)": state ppid pgrp ...
            total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def bodies_for(topo: Topology, prefix: str, n: int, destination: str = "ID") -> list[bytes]:
    kcs = topo.systems["KR-KCS"]
    out = []
    for i in range(n):
        co = sample_form_ak(f"KR-{prefix}-{i:06d}", "KR", destination, TODAY)
        xml, _, _ = kcs.document_for(co)
        out.append(soap.submit_request(KCS, kcs.envelope_for(co, f"{prefix}-{i}"), xml))
    return out


def load(url: str, bodies: list[bytes], headers: dict[str, str]) -> tuple[float, list[float]]:
    """All of ``bodies`` through CLIENTS keep-alive connections: (msg/s, latencies ms)."""
    latencies: list[float] = []
    errors: list[str] = []

    def post(chunk: list[bytes]) -> None:
        session = requests.Session()
        for body in chunk:
            t = time.perf_counter()
            resp = session.post(url, data=body, headers=headers, timeout=60)
            latencies.append((time.perf_counter() - t) * 1000)
            if resp.status_code != 200:
                errors.append(resp.text[:200])

    threads = [threading.Thread(target=post, args=(bodies[i::CLIENTS],)) for i in range(CLIENTS)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - t0
    if errors:
        raise SystemExit(f"{url}: {len(errors)} error(s), first: {errors[0]}")
    return len(bodies) / elapsed, latencies


def floor(mode: str, topo: Topology, workdir: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {
        **os.environ,
        "FLOOR_MODE": mode,
        "FLOOR_DB": str(workdir / f"floor-{mode}.db"),
        "FLOOR_TRUSTED": str(topo.settings.partners["KR-KCS"].certificates[0]),
        "FLOOR_KEY": str(topo.settings.identity_key),
        "FLOOR_CERT": str(topo.settings.identity_cert),
    }
    proc = subprocess.Popen(
        [
            str(Path(sys.executable).with_name("gunicorn")),
            "--workers",
            "2",
            "--threads",
            str(topo.settings.edge.threads),
            "--worker-class",
            "gthread",
            "--keep-alive",
            "5",
            "--bind",
            f"127.0.0.1:{port}",
            "--chdir",
            str(HERE),
            "--log-level",
            "warning",
            "floor_app:app",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(400):
        try:
            requests.post(url, data=b"<x/>", timeout=0.5)
            return proc, url
        except requests.RequestException:
            time.sleep(0.05)
    raise SystemExit(f"floor-{mode} did not come up")


def stop(procs: list[subprocess.Popen]) -> None:
    for proc in procs:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        proc.wait(timeout=30)


def accept_vs_floor(workdir: Path, n: int) -> dict[str, float]:
    topo = build_topology(workdir / "accept")
    headers = {"Content-Type": soap.CONTENT_TYPE, **topo.systems["KR-KCS"].auth_headers()}
    procs: list[subprocess.Popen] = []
    rates: dict[str, float] = {}
    cpus: dict[str, float] = {}
    try:
        bodies = bodies_for(topo, "CAP", n)
        warm = bodies_for(topo, "WARM", 40)
        config = topo.settings.root / "config"
        procs.append(start(config, "serve", "--workers", "2"))
        bridge = f"http://127.0.0.1:{topo.settings.port}"
        wait_up(bridge)
        for mode in ("verify", "sign"):
            proc, url = floor(mode, topo, workdir)
            procs.append(proc)
            load(url, warm, headers)
            cpu = cpu_seconds(proc.pid)
            rate, lat = load(url, bodies, headers)
            cpus[f"floor-{mode}"] = (cpu_seconds(proc.pid) - cpu) / len(bodies) * 1000
            rates[f"floor-{mode}"] = rate
            print(
                f"  floor-{mode:7} {rate:6.0f} msg/s  median {statistics.median(lat):5.1f} ms"
                f"  p99 {pct(lat, 0.99):5.1f} ms  CPU {cpus[f'floor-{mode}']:4.1f} ms/msg"
            )
            stop([procs.pop()])
        load(bridge + KCS.path, warm, headers)
        cpu = cpu_seconds(procs[0].pid)
        rate, lat = load(bridge + KCS.path, bodies, headers)
        cpus["accept"] = (cpu_seconds(procs[0].pid) - cpu) / len(bodies) * 1000
        rates["accept"] = rate
        print(
            f"  ak-bridge serve {rate:6.0f} msg/s  median {statistics.median(lat):5.1f} ms"
            f"  p99 {pct(lat, 0.99):5.1f} ms  CPU {cpus['accept']:4.1f} ms/msg"
            "  (accept: store, sign, receipt; no worker)"
        )
        print(
            f"  CPU per message, floor-sign / accept: {cpus['floor-sign'] / cpus['accept']:.2f} "
            "(what the ratio of rates tends to when the machine is not shared)"
        )
    finally:
        stop(procs)
        topo.stop()
    return rates


def end_to_end(workdir: Path, n: int, mode: str, paced_seconds: float = 10) -> float:
    """Sustained: submit as fast as 4 clients can with the worker running; the rate is what
    arrives at the partner, and each process's CPU per certificate. Then half that rate,
    paced: receipt -> arrival per certificate. ``mode`` is the partner's: ``ok`` verifies
    and decodes every delivery (its CPU shares these 2 cores), ``receipt_only`` answers
    from the header, as a partner whose checks run on its own machine."""
    topo = build_topology(workdir / f"e2e-{mode}", start_partners=())
    toml = topo.settings.root / "config" / "ak_bridge.toml"
    toml.write_text(toml.read_text().replace("interval_seconds = 0.2", "interval_seconds = 2"))
    kcs = topo.systems["KR-KCS"]
    headers = {"Content-Type": soap.CONTENT_TYPE, **kcs.auth_headers()}
    config = topo.settings.root / "config"
    bridge = f"http://127.0.0.1:{topo.settings.port}"
    partner = Partner(topo.systems["ID-SKA"], partner_port(topo, "ID-SKA"), mode)
    procs = [start(config, "serve", "--workers", "2")]
    try:
        wait_up(bridge)
        procs.append(start(config, "worker"))
        bodies = bodies_for(topo, "E2E", n)
        cpu0 = [cpu_seconds(procs[0].pid), cpu_seconds(procs[1].pid), partner.ask("cpu")]
        mine0 = sum(os.times()[:2])
        t0 = time.perf_counter()
        load(bridge + KCS.path, bodies, headers)
        got = partner.wait_for(n)
        sustained = got / (time.perf_counter() - t0)
        cpu1 = [cpu_seconds(procs[0].pid), cpu_seconds(procs[1].pid), partner.ask("cpu")]
        per = [(b - a) / max(1, got) * 1000 for a, b in zip(cpu0, cpu1, strict=True)]
        clients = (sum(os.times()[:2]) - mine0) / max(1, got) * 1000
        print(
            f"  end to end ({mode:12}): {sustained:4.0f} msg/s arrive at the partner "
            f"({got}/{n}); CPU ms per certificate: serve {per[0]:.1f}, worker {per[1]:.1f}, "
            f"partner {per[2]:.1f}, clients {clients:.1f}"
        )
        rate = sustained / 2
        paced = bodies_for(topo, "PACE", max(50, int(rate * paced_seconds)))
        sent: dict[str, float] = {}
        base = partner.ask("count")
        session = requests.Session()
        t0 = time.perf_counter()
        for i, body in enumerate(paced):
            due = t0 + i / rate
            while time.perf_counter() < due:
                time.sleep(0.0005)
            resp = session.post(bridge + KCS.path, data=body, headers=headers, timeout=60)
            resp.raise_for_status()
            sent[f"KR-PACE-{i:06d}"] = time.time()
        partner.wait_for(base + len(paced))
        gaps = [(at - sent[ref]) * 1000 for _, ref, at in partner.ask("arrivals") if ref in sent]
        print(
            f"  {'':17} at {rate:.0f} msg/s offered (half): receipt -> arrival median "
            f"{statistics.median(gaps):5.1f} ms, p99 {pct(gaps, 0.99):6.1f} ms "
            f"(n={len(gaps)}, sweep interval 2 s: the service wakes the worker)"
        )
    finally:
        stop(procs)
        partner.stop()
        topo.stop()
    return sustained


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument(
        "--paced-seconds", type=float, default=10, help="how long the half-rate run lasts"
    )
    args = parser.parse_args()
    print(
        f"capacity: {args.messages} KCS certificates per server, {CLIENTS} keep-alive clients, "
        f"load {os.getloadavg()[0]:.2f}"
    )
    tmp = Path(tempfile.mkdtemp(prefix="ak-bench-cap-"))
    try:
        rates = accept_vs_floor(tmp, args.messages)
        sustained = end_to_end(tmp, args.messages, "ok", args.paced_seconds)
        light = end_to_end(tmp, args.messages, "receipt_only", args.paced_seconds)
    finally:
        if not os.environ.get("BENCH_KEEP"):  # BENCH_KEEP=1 keeps the logs to read
            shutil.rmtree(tmp, ignore_errors=True)
    print(
        f"  ratios: accept / floor-sign {rates['accept'] / rates['floor-sign']:.2f} "
        f"(target >= 0.6), accept / floor-verify {rates['accept'] / rates['floor-verify']:.2f}, "
        f"end to end / floor-verify {sustained / rates['floor-verify']:.2f} (target >= 0.5), "
        f"{light / rates['floor-verify']:.2f} with a receipt-only partner"
    )


if __name__ == "__main__":
    main()
