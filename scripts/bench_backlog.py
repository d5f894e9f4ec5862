"""A large backlog drains in order per certificate, with flat worker memory (issue 14, target 4).

Indonesia's system is down while ``ak-bridge serve`` accepts a few real KCS certificates
(real translation and signature). Their rows are then copied in bulk into a backlog of N
pending deliveries (``adapters.store.copy.insert_rows``): groups of 3 messages per
certificate, each with its own message id and the real signed payload. Indonesia comes up
(in a process of its own, bench_partner.py), one ``ak-bridge worker`` drains the backlog,
and this prints the drain rate, the worker's peak RSS (sampled from /proc), and whether
every certificate's messages arrived in order.
Figures only; nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from bench_backends import (  # noqa: E402
    fresh_postgres,
    start,  # noqa: E402
    wait_up,
)
from bench_capacity import stop  # noqa: E402
from bench_partner import Partner, partner_port  # noqa: E402

from ak_bridge.adapters.store import open_database  # noqa: E402
from ak_bridge.adapters.store.copy import insert_rows  # noqa: E402
from ak_bridge.core.audit import audit_hash  # noqa: E402
from ak_bridge.sim.certificates import sample_form_ak  # noqa: E402
from ak_bridge.sim.topology import build_topology  # noqa: E402

PER_CERTIFICATE = 3
BATCH = 6000


def rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def build_backlog(store, templates: list[str], n: int) -> dict[str, list[str]]:
    """N pending deliveries in groups of 3 per certificate; the expected order per group."""
    rows = []
    for mid in templates:
        msg = store.message(mid).plain()
        rows.append(
            (msg, store.deliveries_for(mid)[0].plain(), [a.plain() for a in store.audit_for(mid)])
        )
    head = store.audit_row()
    seq, prev = head.seq, head.hash
    order: dict[str, list[str]] = {}
    next_id = 10_000_000
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    for lo in range(0, n, BATCH):
        messages, deliveries, audits = [], [], []
        for i in range(lo, min(n, lo + BATCH)):
            group, member = divmod(i, PER_CERTIFICATE)
            msg, delivery, events = rows[group % len(rows)]
            mid = f"AKB-BL-{i:09d}"
            ref = f"KR-BL-{group:08d}"
            order.setdefault(ref, []).append(mid)
            next_id += 1
            messages.append(
                {
                    **msg,
                    "id": mid,
                    "reference_no": ref,
                    "partner_message_id": mid,
                    "business_key": f"KR|{ref}|{member}",
                    "created_at": now,
                }
            )
            deliveries.append(
                {
                    **delivery,
                    "id": next_id,
                    "message_id": mid,
                    "order_key": f"KR|{ref}",
                    "status": "pending",
                    "next_attempt_at": now,
                    "created_at": now,
                    "updated_at": now,
                }
            )
            for event in events[:1]:  # "received"
                seq += 1
                row = {**event, "seq": seq, "at": now, "message_id": mid, "prev_hash": prev}
                row["hash"] = prev = audit_hash(prev, row)
                audits.append(row)
        insert_rows(store, "messages", messages)
        insert_rows(store, "deliveries", deliveries)
        insert_rows(store, "audit", audits)
    reset = getattr(store, "reset_sequences", None)
    if reset is not None:
        reset()
    return order


def run(label: str, workdir: Path, database: str | None, n: int, mode: str) -> None:
    topo = build_topology(workdir, database=database, start_partners=("KR-KCS",))
    config = topo.settings.root / "config"
    url = f"http://127.0.0.1:{topo.settings.port}"
    kcs, indonesia = topo.systems["KR-KCS"], topo.systems["ID-SKA"]
    db = database or str(topo.settings.database)
    procs = [start(config, "serve", "--workers", "2")]
    partner = None
    try:
        wait_up(url)
        today = datetime.now(UTC).date()
        templates = [
            kcs.submit(url, sample_form_ak(f"KR-BLT-{i:03d}", "KR", "ID", today), f"BLT-{i}").MsgId
            for i in range(20)
        ]
        store = open_database(db)
        t0 = time.perf_counter()
        order = build_backlog(store, templates, n)
        if db.startswith("postgres"):
            store.compact()
        built = time.perf_counter() - t0
        # on the port reserved for it in the config
        partner = Partner(indonesia, partner_port(topo, "ID-SKA"), mode)
        worker = start(config, "worker")
        procs.append(worker)
        t1 = time.perf_counter()
        peak, samples = 0.0, []
        total = n + len(templates)
        while partner.ask("count") < total and time.perf_counter() - t1 < 3600:
            mb = rss_mb(worker.pid)
            peak = max(peak, mb)
            samples.append(mb)
            time.sleep(0.5)
        drain = time.perf_counter() - t1
        arrivals = partner.ask("arrivals")
        got: dict[str, list[str]] = defaultdict(list)
        for mid, _, _ in arrivals:
            if mid.startswith("AKB-BL-"):
                got[f"KR-BL-{int(mid[7:]) // PER_CERTIFICATE:08d}"].append(mid)
        out_of_order = sum(1 for ref, mids in order.items() if got.get(ref) != mids)
        quarter = samples[len(samples) // 4] if samples else 0.0
        print(
            f"  {label:10} backlog {n:,} (+{built:5.1f} s to build): drained in {drain:6.1f} s "
            f"= {len(arrivals) / drain:4.0f} msg/s; worker RSS peak {peak:5.1f} MB "
            f"(at a quarter {quarter:5.1f} MB, end {samples[-1] if samples else 0:5.1f} MB); "
            f"certificates out of order: {out_of_order} of {len(order):,} (partner: {mode})"
        )
        store.close()
    finally:
        stop(procs)
        if partner is not None:
            partner.stop()
        topo.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backlog", type=int, default=100_000)
    parser.add_argument("--postgres", action="store_true", help="also on PostgreSQL")
    parser.add_argument(
        "--partner",
        choices=("ok", "receipt_only"),
        default="receipt_only",
        help="the partner verifies everything (ok) or answers from the header (its checks "
        "are on its own machine in production)",
    )
    args = parser.parse_args()
    print(f"backlog: load {os.getloadavg()[0]:.2f}")
    server = os.environ.get("AK_BRIDGE_TEST_POSTGRES")
    with tempfile.TemporaryDirectory(prefix="ak-bench-backlog-") as tmp:
        run("SQLite", Path(tmp) / "sqlite", None, args.backlog, args.partner)
        if args.postgres and server:
            pg = fresh_postgres(server, "ak_bench_bl")
            run("PostgreSQL", Path(tmp) / "pg", pg, args.backlog, args.partner)


if __name__ == "__main__":
    main()
