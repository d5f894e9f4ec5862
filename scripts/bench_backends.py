"""Accept and delivery throughput on SQLite, on PostgreSQL, and on two instances sharing it.

Real processes: `ak-bridge serve` (gunicorn, 2 workers) and `ak-bridge worker` per instance,
simulated KCS and Indonesia as real servers in this process, 4 keep-alive client threads.
Figures only: nothing here asserts a time. PostgreSQL comes from AK_BRIDGE_TEST_POSTGRES
(scripts/bench runs this under scripts/with-postgres).
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

import psycopg
import requests

from ak_bridge.adapters.store import open_database
from ak_bridge.adapters.web import soap
from ak_bridge.sim.certificates import sample_form_ak
from ak_bridge.sim.server import free_port
from ak_bridge.sim.topology import Topology, build_topology
from ak_bridge.standard.contracts import KCS

TODAY = datetime.now(UTC).date()
CLIENTS = 4


def start(config: Path, *args: str) -> subprocess.Popen:
    """An ak-bridge process whose log goes to a file beside its config (read it on errors)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AK_BRIDGE_")}
    log = open(config.parent / f"{args[0]}.log", "ab")  # noqa: SIM115 (the process keeps it)
    return subprocess.Popen(
        [sys.executable, "-m", "ak_bridge", "--config", str(config), *args],
        env=env,
        stdout=log,
        stderr=log,
        start_new_session=True,
    )


def wait_up(url: str) -> None:
    for _ in range(400):
        try:
            if requests.get(url + "/healthz", timeout=0.5).status_code == 200:
                return
        except requests.RequestException:
            time.sleep(0.05)
    raise SystemExit(f"{url} did not come up")


def instance_configs(topo: Topology, count: int) -> list[tuple[Path, str]]:
    """The topology's config, and copies of it on other ports (other machines)."""
    base = topo.settings.root / "config"
    toml = base / "ak_bridge.toml"
    toml.write_text(toml.read_text().replace("interval_seconds = 0.2", "interval_seconds = 0.05"))
    out = [(base, f"http://127.0.0.1:{topo.settings.port}")]
    for i in range(1, count):
        copy = topo.settings.root / f"machine-{i}" / "config"
        shutil.copytree(base, copy)
        port = free_port()
        text = (copy / "ak_bridge.toml").read_text()
        (copy / "ak_bridge.toml").write_text(
            text.replace(f"port = {topo.settings.port}", f"port = {port}")
        )
        out.append((copy, f"http://127.0.0.1:{port}"))
    return out


def run(label: str, workdir: Path, database: str | None, instances: int, n: int) -> None:
    topo = build_topology(workdir, database=database)
    procs: list[subprocess.Popen] = []
    try:
        configs = instance_configs(topo, instances)
        for config, url in configs:
            procs.append(start(config, "serve", "--workers", "2"))
            wait_up(url)
        kcs, indonesia = topo.systems["KR-KCS"], topo.systems["ID-SKA"]
        indonesia.keep_documents = False
        bodies = []
        for i in range(n):
            co = sample_form_ak(f"KR-BB-{i:06d}", "KR", "ID", TODAY)
            xml, _, _ = kcs.document_for(co)
            bodies.append(soap.submit_request(KCS, kcs.envelope_for(co, f"BB-{i}"), xml))
        headers = {"Content-Type": soap.CONTENT_TYPE, **kcs.auth_headers()}
        latencies: list[float] = []

        def post(chunk: list[bytes], url: str) -> None:
            session = requests.Session()
            for body in chunk:
                t = time.perf_counter()
                resp = session.post(url + KCS.path, data=body, headers=headers, timeout=60)
                latencies.append((time.perf_counter() - t) * 1000)
                resp.raise_for_status()

        threads = [
            threading.Thread(target=post, args=(bodies[i::CLIENTS], configs[i % instances][1]))
            for i in range(CLIENTS)
        ]
        t0 = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        accept_s = time.perf_counter() - t0
        # the backlog is in place; now the workers drain it
        t1 = time.perf_counter()
        procs += [start(config, "worker") for config, _ in configs]
        while len(indonesia.received) < n and time.perf_counter() - t1 < 600:
            time.sleep(0.05)
        deliver_s = time.perf_counter() - t1
        print(
            f"{label:34} accept {n / accept_s:5.0f} msg/s (median "
            f"{statistics.median(latencies):5.1f} ms, p99 "
            f"{sorted(latencies)[int(len(latencies) * 0.99) - 1]:5.1f} ms)   deliver "
            f"{len(indonesia.received) / deliver_s:5.0f} msg/s ({len(indonesia.received)}/{n})"
        )
    finally:
        for proc in procs:
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            proc.wait(timeout=30)
        topo.stop()


def first_attempt(label: str, workdir: Path, database: str | None, n: int = 20) -> None:
    """Receipt to arrival at the partner, one certificate at a time, with the shipped 2 s
    sweep interval: what the wake-up saves is the wait for the next sweep."""
    topo = build_topology(workdir, database=database)
    config = topo.settings.root / "config"
    toml = config / "ak_bridge.toml"
    toml.write_text(toml.read_text().replace("interval_seconds = 0.2", "interval_seconds = 2"))
    url = f"http://127.0.0.1:{topo.settings.port}"
    procs = [start(config, "serve", "--workers", "2")]
    try:
        wait_up(url)
        procs.append(start(config, "worker"))
        time.sleep(1.5)
        kcs, indonesia = topo.systems["KR-KCS"], topo.systems["ID-SKA"]
        gaps = []
        for i in range(n):
            co = sample_form_ak(f"KR-FA-{i:04d}", "KR", "ID", TODAY)
            kcs.submit(url, co, f"FA-{i}")
            received = datetime.now(UTC)
            while len(indonesia.received) <= i:
                time.sleep(0.001)
            gaps.append((indonesia.received[i].at - received).total_seconds() * 1000)
            time.sleep(0.1)
        gaps.sort()
        print(
            f"{label:34} receipt -> arrival at the partner: median {statistics.median(gaps):5.1f}"
            f" ms, max {gaps[-1]:6.1f} ms (n={n}, sweep interval 2 s)"
        )
    finally:
        for proc in procs:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=30)
        topo.stop()


HOT_PATH = {
    "idempotency look-up": ("SELECT * FROM messages WHERE business_key = ?", ["KR|X|9"]),
    "CO state": (
        "SELECT * FROM certificates WHERE issuing_country = ? AND issuing_body = ?"
        " AND reference_no = ?",
        ["KR", "", "X"],
    ),
    "CO by number": (  # any body's: a message naming none, and the delivery's state change
        "SELECT issuing_body FROM certificates WHERE issuing_country = ? AND reference_no = ?",
        ["KR", "X"],
    ),
    "CO delivered": (  # the worker's state change after a delivery (store.finish_attempt)
        "UPDATE certificates SET state = 'TRANSMITTED' WHERE issuing_country = ?"
        " AND reference_no = ? AND issuing_body = ? AND state = 'ISSUED'"
        " AND last_message_id = ?",
        ["KR", "X", "", "M"],
    ),
    "audit head": ("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1", []),
    "due deliveries": (
        "SELECT d.id FROM deliveries d WHERE d.status IN ('pending', 'waiting_retry')"
        " AND d.next_attempt_at <= ? AND d.destination = ? ORDER BY d.next_attempt_at, d.id"
        " LIMIT 4",  # the claim's due statement: deliveries_claimable, no sort
        ["2030-01-01T00:00:00.000000Z", "ID-SKA"],
    ),
    "in flight per partner": (
        "SELECT count(*) FROM deliveries WHERE destination = ? AND status = 'in_flight'"
        " AND claimed_until >= ?",
        ["ID-SKA", "2030-01-01T00:00:00.000000Z"],
    ),
}


def query_plans(label: str, database: str) -> None:
    """How the hot path's queries are answered: each should use an index, never a scan."""
    store = open_database(database)
    explain = "EXPLAIN" if database.startswith("postgres") else "EXPLAIN QUERY PLAN"
    print(f"query plans, {label}:")
    with store.read() as tx:  # type: ignore[attr-defined]
        for name, (sql, params) in HOT_PATH.items():
            rows = tx.rows(f"{explain} {sql}", params)
            plan = " | ".join(str(list(r.values())[-1]) for r in rows)
            print(f"  {name:22} {plan[:150]}")


def fresh_postgres(server: str, name: str) -> str:
    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.execute(f"CREATE DATABASE {name}")
    return server.rsplit("/", 1)[0] + f"/{name}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=400)
    args = parser.parse_args()
    server = os.environ.get("AK_BRIDGE_TEST_POSTGRES")
    print(
        f"{args.messages} KCS certificates to Indonesia, {CLIENTS} client connections, "
        "serve = gunicorn 2 workers per instance, one worker process per instance"
    )
    with tempfile.TemporaryDirectory(prefix="ak-bench-backends-") as tmp:
        run("SQLite, one instance", Path(tmp) / "sqlite", None, 1, args.messages)
        first_attempt("SQLite, woken by a pipe", Path(tmp) / "sqlite-fa", None)
        query_plans("SQLite", str(Path(tmp) / "sqlite" / "ak_bridge.db"))
        if not server:
            print("PostgreSQL: skipped (no AK_BRIDGE_TEST_POSTGRES; run scripts/bench)")
            return
        url = fresh_postgres(server, "ak_bench_one")
        run("PostgreSQL, one instance", Path(tmp) / "pg1", url, 1, args.messages)
        query_plans("PostgreSQL", url)
        url = fresh_postgres(server, "ak_bench_two")
        run("PostgreSQL, two instances", Path(tmp) / "pg2", url, 2, args.messages)
        url = fresh_postgres(server, "ak_bench_wake")
        first_attempt("PostgreSQL, woken by NOTIFY", Path(tmp) / "pg-fa", url)


if __name__ == "__main__":
    main()
