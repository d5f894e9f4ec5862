"""Throughput and latency as the store grows, on SQLite and PostgreSQL (issue 14, target 5).

For each backend: one real certificate goes through the bridge to get its rows as the
service writes them (message, delivery, attempt, certificate, audit); the history is then
grown to each size by bulk inserting copies of them (``adapters.store.copy.insert_rows``;
history rows carry 1 kB documents, as after retention's purge of the full ones, with a
valid audit chain). At each size: ``ak-bridge serve`` (gunicorn, 2 workers) takes N new
certificates from 4 keep-alive clients, then one ``ak-bridge worker`` delivers them to
Indonesia's simulated system; and the hot path's query plans are printed, with a WARNING
for any that scans a table. Figures only; nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from bench_backends import (  # noqa: E402
    HOT_PATH,
    fresh_postgres,
    start,  # noqa: E402
    wait_up,
)
from bench_capacity import bodies_for, load, pct, stop  # noqa: E402

from ak_bridge.adapters.store import open_database  # noqa: E402
from ak_bridge.adapters.store.copy import insert_rows  # noqa: E402
from ak_bridge.core.audit import audit_hash  # noqa: E402
from ak_bridge.sim.certificates import sample_form_ak  # noqa: E402
from ak_bridge.sim.topology import build_topology  # noqa: E402
from ak_bridge.standard.contracts import KCS  # noqa: E402

BATCH = 5000
FILLER = b"<history/>" + b" " * 1014  # 1 kB


def template(store, message_id: str) -> dict:
    """The rows the service wrote for one delivered certificate, as plain values."""
    msg = store.message(message_id).plain()
    delivery = store.deliveries_for(message_id)[0].plain()
    attempt = store.attempts_for(delivery["id"])[0].plain()
    cert = store.certificate(msg["issuing_country"], msg["reference_no"]).plain()
    audit = [a.plain() for a in store.audit_for(message_id)]
    return {"message": msg, "delivery": delivery, "attempt": attempt, "cert": cert, "audit": audit}


def grow(store, tpl: dict, have: int, want: int, ids: dict[str, int]) -> None:
    """Bulk-insert history rows for messages ``have``..``want`` (ids continue from ``ids``)."""
    head = store.audit_row()
    seq, prev = head.seq, head.hash
    t_end = datetime.now(UTC) - timedelta(days=1)
    for lo in range(have, want, BATCH):
        hi = min(want, lo + BATCH)
        messages, deliveries, attempts, certs, audits = [], [], [], [], []
        for i in range(lo, hi):
            at = (t_end - timedelta(seconds=(want - i) * 30)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
            ref, mid = f"KR-H-{i:08d}", f"AKB-H-{i:010d}"
            ids["delivery"] += 1
            ids["attempt"] += 1
            messages.append(
                {
                    **tpl["message"],
                    "id": mid,
                    "reference_no": ref,
                    "business_key": f"KR|{ref}|9",
                    "partner_message_id": f"H-{i}",
                    "raw": FILLER,
                    "canonical": "{}",
                    "created_at": at,
                }
            )
            deliveries.append(
                {
                    **tpl["delivery"],
                    "id": ids["delivery"],
                    "message_id": mid,
                    "order_key": f"KR|{ref}",
                    "payload": FILLER,
                    "created_at": at,
                    "updated_at": at,
                    "next_attempt_at": at,
                    "first_attempt_at": at,
                    "delivered_at": at,
                }
            )
            attempts.append(
                {
                    **tpl["attempt"],
                    "id": ids["attempt"],
                    "delivery_id": ids["delivery"],
                    "started_at": at,
                }
            )
            certs.append(
                {
                    **tpl["cert"],
                    "reference_no": ref,
                    "order_key": f"KR|{ref}",
                    "last_message_id": mid,
                    "updated_at": at,
                }
            )
            for event in tpl["audit"]:
                seq += 1
                row = {**event, "seq": seq, "at": at, "message_id": mid, "prev_hash": prev}
                row["hash"] = prev = audit_hash(prev, row)
                audits.append(row)
        for table, rows in (
            ("messages", messages),
            ("deliveries", deliveries),
            ("attempts", attempts),
            ("certificates", certs),
            ("audit", audits),
        ):
            insert_rows(store, table, rows)
    reset = getattr(store, "reset_sequences", None)
    if reset is not None:
        reset()


def settle(store) -> None:
    """Wait until the worker has recorded every delivery: the history is appended to the
    audit chain from outside the service, so nothing else may append meanwhile."""
    for _ in range(600):
        counts = store.counts_by_status()
        if set(counts) <= {"delivered"}:
            return
        time.sleep(0.05)
    raise SystemExit(f"deliveries did not settle: {counts}")


def plans(store, database: str) -> None:
    explain = "EXPLAIN" if database.startswith("postgres") else "EXPLAIN QUERY PLAN"
    with store.read() as tx:
        for name, (sql, params) in HOT_PATH.items():
            plan = " | ".join(
                str(list(r.values())[-1]) for r in tx.rows(f"{explain} {sql}", params)
            )
            # SQLite's "SCAN audit" for ORDER BY seq DESC LIMIT 1 walks the rowid backwards
            # and stops at the first row: not a table scan
            rowid_walk = "ORDER BY seq DESC LIMIT 1" in sql and "TEMP B-TREE" not in plan
            scan = ("Seq Scan" in plan) or (
                not rowid_walk
                and any(p.strip().startswith("SCAN") and "USING" not in p for p in plan.split("|"))
            )
            print(f"      {'WARNING: table scan ' if scan else ''}{name:22} {plan[:110]}")


def run(label: str, workdir: Path, database: str | None, sizes: list[int], n: int) -> None:
    topo = build_topology(workdir, database=database)
    config = topo.settings.root / "config"
    toml = config / "ak_bridge.toml"
    toml.write_text(toml.read_text().replace("interval_seconds = 0.2", "interval_seconds = 0.05"))
    url = f"http://127.0.0.1:{topo.settings.port}"
    kcs, indonesia = topo.systems["KR-KCS"], topo.systems["ID-SKA"]
    indonesia.keep_documents = False
    headers = {"Content-Type": "text/xml; charset=utf-8", **kcs.auth_headers()}
    db = database or str(topo.settings.database)
    print(f"  {label}")
    procs = [start(config, "serve", "--workers", "2"), start(config, "worker")]
    try:
        wait_up(url)
        reply = kcs.submit(
            url,
            sample_form_ak("KR-GROW-TEMPLATE", "KR", "ID", datetime.now(UTC).date()),
            "grow-template",
        )
        while not indonesia.received:
            time.sleep(0.05)
        store = open_database(db)
        settle(store)
        tpl = template(store, reply.MsgId)
        ids = {"delivery": 10_000_000, "attempt": 10_000_000}
        have = 1
        for size in sizes:
            t0 = time.perf_counter()
            grow(store, tpl, have, size, ids)
            if db.startswith("postgres"):
                store.compact()  # VACUUM (ANALYZE), as autovacuum would after such growth
            built = time.perf_counter() - t0
            os.sync()  # the build's dirty pages (GBs at 1,000,000) must not be written back
            # while the service is measured: a store grows over months, not in a minute
            have = size
            bodies = bodies_for(topo, f"G{size}", n)
            base = len(indonesia.received)
            rate, lat = load(url + KCS.path, bodies, headers)
            t1 = time.perf_counter()
            while len(indonesia.received) < base + n and time.perf_counter() - t1 < 300:
                time.sleep(0.01)
            print(
                f"    {size:>9,} stored (+{built:5.1f} s to build): accept {rate:5.0f} msg/s, "
                f"median {statistics.median(lat):5.1f} ms, p99 {pct(lat, 0.99):6.1f} ms; "
                f"the last of {n} arrived {time.perf_counter() - t1:5.2f} s after the last receipt"
                f" (load {os.getloadavg()[0]:.1f})"
            )
            plans(store, db)
            settle(store)
            # the service's own new rows took the ids after the history's: skip past them
            ids = {k: v + 10 * n + 100 for k, v in ids.items()}
        store.close()
    finally:
        stop(procs)
        topo.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--messages", type=int, default=300, help="new certificates per size")
    args = parser.parse_args()
    print(
        f"growth: {args.messages} new KCS certificates at each size, 4 clients, "
        f"load {os.getloadavg()[0]:.2f}"
    )
    server = os.environ.get("AK_BRIDGE_TEST_POSTGRES")
    with tempfile.TemporaryDirectory(prefix="ak-bench-growth-") as tmp:
        run("SQLite", Path(tmp) / "sqlite", None, args.sizes, args.messages)
        if server:
            url = fresh_postgres(server, "ak_bench_growth")
            run("PostgreSQL", Path(tmp) / "pg", url, args.sizes, args.messages)
        else:
            print("  PostgreSQL: not measured (no AK_BRIDGE_TEST_POSTGRES; run scripts/bench)")


if __name__ == "__main__":
    main()
