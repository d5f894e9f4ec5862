"""Soak: certificates keep flowing while partners flap; at the end, count what arrived.

Real bridge (Flask on loopback), two worker threads racing, simulated partners whose mode
changes at random (up, down, HTTP 500, slow past the timeout, SOAP server fault). When the
time is up the partners come back, the backlog drains, and the script prints figures and
exits 1 if any accepted certificate is missing or arrived twice after de-duplication.
"""

from __future__ import annotations

import argparse
import random
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

from ak_bridge.adapters.scheduler import sweep
from ak_bridge.sim.certificates import sample_form_ak
from ak_bridge.sim.topology import build_topology
from ak_bridge.standard.contracts import KCS

MODES = ["ok", "ok", "ok", "down", "http500", "slow", "server_fault"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--rate", type=float, default=20, help="certificates per second")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    today = datetime.now(UTC).date()
    with tempfile.TemporaryDirectory(prefix="ak-soak-") as tmp:
        topo = build_topology(
            Path(tmp),
            retry={
                "max_attempts": 1000,
                "base_delay": 0.2,
                "factor": 2,
                "max_delay": 2,
                "jitter": 0.3,
                "breaker_threshold": 5,
                "breaker_cooldown": 1,
            },
            timeout_seconds=0.5,
        )
        topo.start_bridge()
        workers = [topo.worker_exchange(f"soak-{i}") for i in range(2)]
        stop = threading.Event()
        accepted: dict[str, str] = {}  # message id -> importing partner

        def work(ex) -> None:
            while not stop.is_set():
                sweep(ex)
                time.sleep(0.05)

        def flap() -> None:
            while not stop.is_set():
                for pid in ("ID-SKA", "VN-ECOSYS"):
                    system, mode = topo.systems[pid], rng.choice(MODES)
                    system.slow_seconds = 1.0
                    if mode == "down":
                        system.stop()
                    else:
                        system.mode = mode
                        system.start()
                time.sleep(rng.uniform(0.5, 2.0))

        threads = [threading.Thread(target=work, args=(w,)) for w in workers]
        threads.append(threading.Thread(target=flap))
        for t in threads:
            t.start()
        kcs = topo.systems["KR-KCS"]
        start = time.monotonic()
        i = 0
        while time.monotonic() - start < args.seconds:
            importing = rng.choice(["ID", "VN"])
            co = sample_form_ak(f"KR-SOAK-{i:06d}", "KR", importing, today)
            xml, _, _ = kcs.document_for(co)
            reply = kcs.submit_soap(topo.bridge_url, KCS, kcs.envelope_for(co, f"S{i}"), xml)
            accepted[reply.MsgId] = "ID-SKA" if importing == "ID" else "VN-ECOSYS"
            i += 1
            time.sleep(max(0.0, i / args.rate - (time.monotonic() - start)))
        stop.set()
        for t in threads:
            t.join()
        for pid in ("ID-SKA", "VN-ECOSYS"):
            topo.systems[pid].mode = "ok"
            topo.systems[pid].start()
        drain_start = time.monotonic()
        store = workers[0].store
        while time.monotonic() - drain_start < 120:
            workers[0].deliver_due()
            if not store.find_deliveries(status=["pending", "waiting_retry", "in_flight"]):
                break
            time.sleep(0.1)
        drained = time.monotonic() - drain_start

        problems = 0
        duplicates = 0
        for pid in ("ID-SKA", "VN-ECOSYS"):
            system = topo.systems[pid]
            got = system.unique_message_ids()
            expected = [m for m, p in accepted.items() if p == pid]
            missing = set(expected) - set(got)
            twice = len(got) - len(set(got))
            duplicates += system.duplicates
            problems += len(missing) + twice
            print(
                f"{pid:10} expected {len(expected):5}  received {len(set(got)):5}  "
                f"missing {len(missing)}  twice {twice}  resent-and-deduplicated "
                f"{system.duplicates}  requests {system.hits}"
            )
        attempts = store.db.execute("SELECT count(*) FROM attempts").fetchone()[0]
        print(
            f"accepted {len(accepted)} certificates in {args.seconds:.0f} s; {attempts} delivery "
            f"attempts; backlog drained in {drained:.1f} s after the partners came back; "
            f"{duplicates} at-least-once resends caught by the partners' de-duplication"
        )
        topo.stop()
        return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
