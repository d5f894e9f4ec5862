"""The demo: a real exchange between a simulated KCS and two simulated AMS, on loopback.

KR→ID, KR→VN, ID→KR and VN→KR, with Viet Nam's system down at first so that one delivery
fails and succeeds on retry, and one ATIGA Form D that is refused with an error pointing to
the ASW. It checks at the far side that what arrived is what was sent (signature verified
there too) and exits 0 only if everything happened as it should.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from zeep.exceptions import Fault

from ak_bridge import create_app
from ak_bridge.adapters.scheduler import build_scheduler
from ak_bridge.core.model import DocumentType, FormAK
from ak_bridge.service.ports import from_iso
from ak_bridge.sim.certificates import sample_form_ak
from ak_bridge.sim.server import LiveServer, free_port
from ak_bridge.sim.topology import Topology, build_topology
from ak_bridge.standard.contracts import AMS, KCS


@dataclass
class Sent:
    path: str
    certificate: FormAK
    receiver: str
    message_id: str


def _wait(predicate: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return predicate()


def run_demo(
    workdir: Path,
    echo: Callable[[str], None] = print,
    database: str | None = None,
    instances: int = 1,
) -> int:
    """Run the scenario; return the exit code (0 only if every check passed).

    ``database``: a PostgreSQL URL (an empty database) instead of the SQLite file;
    ``instances``: how many bridges (web app and worker each) share it, as machines would.
    """
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # keep the demo's output readable
    topo = build_topology(workdir, start_partners=("KR-KCS", "ID-SKA"), database=database)
    problems: list[str] = []
    schedulers = []
    extra: list[LiveServer] = []
    try:
        topo.start_bridge()
        urls = [topo.bridge_url]
        for _ in range(1, instances):  # another machine: its own app, store pool and worker
            app = create_app(topo.settings)
            extra.append(LiveServer(app, port=free_port()).start())
            topo.exchanges.append(app.extensions["ak_bridge"])
            urls.append(extra[-1].url)
        for i in range(instances):
            worker = topo.worker_exchange(f"demo-worker-{i + 1}")
            scheduler = build_scheduler(
                worker, topo.settings.worker_interval_seconds, blocking=False
            )
            scheduler.start()
            schedulers.append(scheduler)
        echo(f"bridge on {', '.join(urls)}; database {topo.settings.database}")
        echo("Viet Nam's CO system is DOWN at the start.")
        sent = _send_all(topo, echo, urls, _next_run(topo.workdir))
        _refuse_form_d(topo, echo, problems)

        vn_delivery_failed = _wait(lambda: _vn_has_failed_attempt(topo), 15)
        if not vn_delivery_failed:
            problems.append("the delivery to Viet Nam did not fail while it was down")
        echo("Viet Nam's CO system comes back up.")
        topo.systems["VN-ECOSYS"].start()

        store = topo.exchanges[-1].store
        done = _wait(
            lambda: all(d["status"] == "delivered" for d in store.find_deliveries(limit=10**6)),
            30,
        )
        if not done:
            problems.append("not every delivery reached 'delivered' within 30 s")
        problems += _check_far_side(topo, sent)
        _print_table(topo, sent, echo)
    finally:
        for scheduler in schedulers:
            scheduler.shutdown(wait=True)
        for server in extra:
            server.stop()
        topo.stop()
    if problems:
        echo("DEMO FAILED:")
        for p in problems:
            echo(f"  - {p}")
        return 1
    shared = f"; {instances} instances shared the database" if instances > 1 else ""
    echo(
        "DEMO OK: 4 certificates delivered and verified at the far side, 1 retried, "
        f"1 Form D refused{shared}."
    )
    return 0


def _next_run(workdir: Path) -> int:
    """This run's number in ``workdir`` (1, 2, …): a re-run keeps the earlier runs' history
    and sends new certificates, where the same references would only be duplicates."""
    counter = workdir / "demo-runs"
    previous = int(counter.read_text()) if counter.exists() else 0
    counter.write_text(f"{previous + 1}\n")
    return previous + 1


def _send_all(
    topo: Topology, echo: Callable[[str], None], urls: list[str], run: int = 1
) -> list[Sent]:
    """Each certificate to one instance in turn; the first to every instance at once (a
    client retrying elsewhere): one message id whichever answers."""
    today = datetime.now(UTC).date()
    kcs, ind, vn = (topo.systems[k] for k in ("KR-KCS", "ID-SKA", "VN-ECOSYS"))
    plan = [
        ("KR→ID", kcs, "ID-SKA", sample_form_ak(f"KR-2026-AK-{run:04d}01", "KR", "ID", today)),
        ("KR→VN", kcs, "VN-ECOSYS", sample_form_ak(f"KR-2026-AK-{run:04d}02", "KR", "VN", today)),
        ("ID→KR", ind, "KR-KCS", sample_form_ak(f"{run:04d}/SKA-AK/JKT/2026", "ID", "KR", today)),
        ("VN→KR", vn, "KR-KCS", sample_form_ak(f"VN-KR 26/{run:02d}/00042", "VN", "KR", today)),
    ]
    sent = []
    for n, (path, system, receiver, co) in enumerate(plan):
        for url in urls[1:] if n == 0 else []:
            system.submit(url, co, f"{system.partner_id}-{co.reference_no}-elsewhere")
        url = urls[n % len(urls)]
        reply = system.submit(url, co, f"{system.partner_id}-{co.reference_no}")
        if system.contract is None:  # REST
            reply.raise_for_status()
            message_id, status = reply.json()["messageId"], reply.json()["status"]
        else:
            contract = KCS if system.country == "KR" else AMS
            message_id = getattr(reply, contract.f("message_id"))
            status = getattr(reply, contract.f("status"))
        echo(f"{path}: {co.reference_no} {status} as {message_id}")
        sent.append(Sent(path, co, receiver, message_id))
    return sent


def _refuse_form_d(topo: Topology, echo: Callable[[str], None], problems: list[str]) -> None:
    ind = topo.systems["ID-SKA"]
    co = sample_form_ak("0002/SKA-D/JKT/2026", "ID", "KR", datetime.now(UTC).date())
    env = ind.envelope_for(co, "ID-SKA-formd-1", document_type=DocumentType.FORM_D)
    xml, _, _ = ind.document_for(co)
    assert xml is not None
    try:
        ind.submit_soap(topo.bridge_url, AMS, env, xml)
    except Fault as fault:
        echo(f"Form D: refused: {fault.message}")
        if "form_d_not_accepted" not in fault.message or "ASW" not in fault.message:
            problems.append(f"Form D refusal does not name the code and the ASW: {fault.message}")
        return
    problems.append("a Form D was accepted")


def _vn_has_failed_attempt(topo: Topology) -> bool:
    store = topo.exchanges[-1].store
    rows = store.find_deliveries(destination="VN-ECOSYS", status=["waiting_retry"])
    return any(r["attempts"] >= 1 for r in rows)


def _check_far_side(topo: Topology, sent: list[Sent]) -> list[str]:
    problems = []
    for s in sent:
        system = topo.systems[s.receiver]
        got = [r for r in system.received if r.message_id == s.message_id]
        if len(got) != 1:
            problems.append(f"{s.path}: {system.partner_id} received it {len(got)} times")
            continue
        if got[0].certificate != s.certificate:
            problems.append(f"{s.path}: the certificate changed on the way")
    for system in topo.systems.values():
        if system.errors:
            problems.append(f"{system.partner_id} refused something: {system.errors}")
    return problems


def _print_table(topo: Topology, sent: list[Sent], echo: Callable[[str], None]) -> None:
    store = topo.exchanges[-1].store
    by_id = {s.message_id: s.path for s in sent}
    echo("")
    echo(
        f"{'path':7} {'message id':32} {'reference no':24} {'state':10} {'tries':>5} {'latency':>9}"
    )
    for d in store.find_deliveries(limit=10**6):
        if d["message_id"] not in by_id:
            continue  # an earlier run's, kept in the same work directory
        latency = ""
        if d["delivered_at"]:
            delta: timedelta = from_iso(d["delivered_at"]) - from_iso(d["created_at"])
            latency = f"{delta.total_seconds() * 1000:.0f} ms"
        echo(
            f"{by_id.get(d['message_id'], '?'):7} {d['message_id']:32} {d['reference_no']:24} "
            f"{d['status']:10} {d['attempts']:>5} {latency:>9}"
        )
    for a in store.audit_events("rejected", limit=1):
        echo(f"{'refused':7} {a['partner'] + ' → bridge':32} {'-':24} {a['code']}")
    echo("")
