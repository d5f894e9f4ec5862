"""Delivery under faults, against the real simulated partner servers.

Each fault is injected at the partner (down, slow past the timeout, HTTP 500, SOAP fault,
server fault, malformed reply, connection reset) and the test checks what the bridge then
does: retry with the same message id, or a dead letter that keeps its failure class.
"""

from __future__ import annotations

import dataclasses
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ak_bridge.adapters.store.rows import to_row
from ak_bridge.service.exchange import Exchange
from ak_bridge.sim.certificates import sample_form_ak
from ak_bridge.sim.server import ResettingServer
from ak_bridge.sim.topology import Topology, build_topology
from ak_bridge.standard.contracts import KCS

TODAY = datetime.now(UTC).date()


class Clock:
    """A clock the test moves forward, so backoff and breaker timing need no sleeping."""

    def __init__(self) -> None:
        # ahead of the bridge's real clock, so what the test sends next is already due
        self.now = datetime.now(UTC) + timedelta(seconds=5)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def topo(tmp_path: Path):
    t = build_topology(
        tmp_path / "delivery",
        retry={
            "max_attempts": 3,
            "base_delay": 10,
            "factor": 2,
            "max_delay": 60,
            "jitter": 0,
            "breaker_threshold": 3,
            "breaker_cooldown": 120,
        },
        timeout_seconds=0.5,
    )
    yield t
    t.stop()


def send(topo: Topology, ref: str, importing: str = "ID") -> str:
    kcs = topo.systems["KR-KCS"]
    co = sample_form_ak(ref, "KR", importing, TODAY)
    xml, _, _ = kcs.document_for(co)
    return kcs.submit_soap(topo.bridge_url, KCS, kcs.envelope_for(co, f"K-{ref}"), xml).MsgId


def delivery(worker: Exchange, message_id: str) -> dict:
    (d,) = worker.store.deliveries_for(message_id)
    return d


@pytest.mark.parametrize(
    ("mode", "failure_class", "retried"),
    [
        ("down", "transport", True),
        ("slow", "timeout", True),
        ("http500", "server", True),
        ("server_fault", "server", True),
        ("malformed", "schema", True),
        ("reset", "transport", True),
        ("fault", "fault", False),
    ],
)
def test_each_fault_is_classified_and_retried_or_not(
    topo: Topology, mode: str, failure_class: str, retried: bool
) -> None:
    topo.start_bridge()
    clock = Clock()
    worker = topo.worker_exchange()
    worker.clock = clock
    indonesia = topo.systems["ID-SKA"]
    resetter = None
    if mode in ("down", "reset"):
        indonesia.stop()
        if mode == "reset":
            resetter = ResettingServer(indonesia.server.port)
    else:
        indonesia.mode = mode
        indonesia.slow_seconds = 1.5
    mid = send(topo, f"KR-F-{mode}")

    worker.deliver_due()
    d = delivery(worker, mid)
    assert d["last_failure_class"] == failure_class
    assert d["status"] == ("waiting_retry" if retried else "dead")
    if not retried:
        assert d["attempts"] == 1
        return
    assert d["next_attempt_at"] > d["updated_at"]  # backoff, not an immediate hammering

    # The partner recovers; the retry carries the same message id and is delivered once.
    if resetter is not None:
        resetter.stop()
    indonesia.mode = "ok"
    indonesia.start()
    clock.advance(11)
    worker.deliver_due()
    assert delivery(worker, mid)["status"] == "delivered"
    assert indonesia.unique_message_ids().count(mid) == 1


def test_retry_policy_spent_gives_a_dead_letter_with_its_class(topo: Topology) -> None:
    topo.start_bridge()
    clock = Clock()
    worker = topo.worker_exchange()
    worker.clock = clock
    topo.systems["ID-SKA"].mode = "http500"
    mid = send(topo, "KR-SPENT-1")
    for _ in range(3):
        worker.deliver_due()
        clock.advance(61)
    d = delivery(worker, mid)
    assert (d["status"], d["attempts"], d["last_failure_class"]) == ("dead", 3, "server")
    events = [e["event"] for e in worker.store.audit_for(mid)]
    assert events[-1] == "dead_letter"
    # An admin's retry gives a fresh budget: three more attempts, not one.
    worker.store.requeue([d["id"]], clock(), "admin", "partner fixed")
    clock.advance(120)  # three failures in a row opened the breaker: wait for its probe
    worker.deliver_due()
    d = delivery(worker, mid)
    assert (d["status"], d["attempts"]) == ("waiting_retry", 4)


def test_breaker_opens_after_repeated_failures_then_probes_once(topo: Topology) -> None:
    topo.start_bridge()
    clock = Clock()
    worker = topo.worker_exchange()
    worker.clock = clock
    indonesia = topo.systems["ID-SKA"]
    indonesia.mode = "http500"
    ids = [send(topo, f"KR-BRK-{i}") for i in range(6)]

    worker.deliver_due()  # 4 in flight at most: 4 failures, threshold 3 -> open
    assert indonesia.hits == 4
    breaker = worker.store.breaker("ID-SKA")
    assert breaker.state(clock()) == "open"

    clock.advance(61)  # the messages' own backoff has passed, but the breaker is still open
    worker.deliver_due()
    assert indonesia.hits == 4, "an open breaker must not send anything"

    clock.advance(60)  # cooldown over: half-open lets exactly one probe through
    worker.deliver_due()
    assert indonesia.hits == 5
    assert worker.store.breaker("ID-SKA").state(clock()) == "open"  # the probe failed

    indonesia.mode = "ok"
    clock.advance(121)
    worker.deliver_due()  # the probe succeeds and closes the breaker
    assert worker.store.breaker("ID-SKA").state(clock()) == "closed"
    for _ in range(5):
        clock.advance(61)
        worker.deliver_due()
    assert sorted(indonesia.unique_message_ids()) == sorted(ids)


def test_deliveries_of_one_certificate_keep_their_order_under_retries(topo: Topology) -> None:
    """A later message about the same CO is not sent while an earlier one is unfinished."""
    ex = topo.start_bridge()
    clock = Clock()
    worker = topo.worker_exchange()
    worker.clock = clock
    indonesia = topo.systems["ID-SKA"]
    first = send(topo, "KR-ORD-1")
    # A second delivery for the same certificate (as a Replace or Cancel would be).
    row = to_row(ex.store.deliveries_for(first)[0])
    for key in ("id", "claimed_until", "claimed_by", "first_attempt_at"):
        row.pop(key)
    with ex.store.write() as db:
        db.table("deliveries").insert(row | {"message_id": first})
    indonesia.mode = "http500"
    worker.deliver_due()
    statuses = [d["status"] for d in worker.store.deliveries_for(first)]
    assert statuses == ["waiting_retry", "pending"]  # the second did not overtake
    assert indonesia.hits == 1
    indonesia.mode = "ok"
    clock.advance(11)
    worker.deliver_due()
    worker.deliver_due()
    assert [d["status"] for d in worker.store.deliveries_for(first)] == ["delivered"] * 2


def test_two_workers_racing_never_send_the_same_delivery_concurrently(topo: Topology) -> None:
    topo.start_bridge()
    indonesia = topo.systems["ID-SKA"]
    ids = [send(topo, f"KR-RACE-{i:02d}") for i in range(24)]
    workers = [topo.worker_exchange(f"w{i}") for i in range(2)]
    barrier = threading.Barrier(2)

    def run(w: Exchange) -> None:
        barrier.wait()
        for _ in range(30):
            w.deliver_due()

    threads = [threading.Thread(target=run, args=(w,)) for w in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(indonesia.unique_message_ids()) == sorted(ids)
    assert indonesia.duplicates == 0  # no delivery was claimed by both workers
    attempts = workers[0].store.db.execute("SELECT count(*) FROM attempts").fetchone()[0]
    assert attempts == 24


def test_a_partner_that_cannot_verify_our_signature_gives_a_signature_dead_letter(
    topo: Topology,
) -> None:
    """E.g. the partner pinned an old bridge certificate: not retried, classed 'signature'."""
    from ak_bridge.security.signing import Verifier, load_trusted

    topo.start_bridge()
    worker = topo.worker_exchange()
    kcs_cert = topo.settings.partners["KR-KCS"].certificates[0]
    wrong_pin = Verifier(load_trusted([kcs_cert]))
    topo.systems["ID-SKA"].bridge_verifier = wrong_pin  # SOAP partner
    topo.systems["VN-ECOSYS"].bridge_verifier = wrong_pin  # REST partner
    soap_id = send(topo, "KR-SIG-1", "ID")
    rest_id = send(topo, "KR-SIG-2", "VN")
    worker.deliver_due()
    for mid in (soap_id, rest_id):
        d = delivery(worker, mid)
        assert (d["status"], d["attempts"], d["last_failure_class"]) == ("dead", 1, "signature")


def test_a_partner_in_shadow_mode_gets_nothing_until_released(topo: Topology) -> None:
    """A new country can run beside paper: its COs are built, signed, stored, not sent."""
    from ak_bridge.bootstrap import build_exchange

    topo.start_bridge()
    vn = topo.settings.partners["VN-ECOSYS"]
    shadow = dataclasses.replace(
        topo.settings,
        partners={**topo.settings.partners, "VN-ECOSYS": dataclasses.replace(vn, shadow=True)},
    )
    worker = build_exchange(shadow, worker_id="shadow-worker")
    topo.exchanges.append(worker)
    to_vn, to_id = send(topo, "KR-SHADOW-1", "VN"), send(topo, "KR-SHADOW-2", "ID")
    worker.deliver_due()
    assert delivery(worker, to_vn)["status"] == "held"
    assert delivery(worker, to_id)["status"] == "delivered"  # other partners are unaffected
    assert topo.systems["VN-ECOSYS"].hits == 0
    assert "held" in [e["event"] for e in worker.store.audit_for(to_vn)]

    # Go-live: the partner leaves shadow mode and an admin releases what was held.
    live = topo.worker_exchange("live-worker")
    assert live.store.requeue([delivery(live, to_vn)["id"]], live.clock(), "admin", "go-live")
    live.deliver_due()
    assert delivery(live, to_vn)["status"] == "delivered"
    assert topo.systems["VN-ECOSYS"].unique_message_ids() == [to_vn]


def test_one_sweep_drains_a_backlog_larger_than_a_partners_concurrency(topo: Topology) -> None:
    """max_in_flight bounds what is in flight, not how much one sweep delivers."""
    from ak_bridge.adapters.scheduler import sweep

    topo.start_bridge()
    worker = topo.worker_exchange()
    ids = [send(topo, f"KR-DRAIN-{i:02d}") for i in range(10)]  # ID-SKA: max_in_flight 4
    sweep(worker)
    assert sorted(topo.systems["ID-SKA"].unique_message_ids()) == sorted(ids)
    assert worker.store.last_heartbeat() is not None


def test_one_partner_gets_up_to_its_concurrency_limit_at_once_and_never_more(
    topo: Topology,
) -> None:
    """Deliveries to one partner go side by side, bounded by max_in_flight (4 for ID-SKA)."""
    topo.start_bridge()
    worker = topo.worker_exchange()
    indonesia = topo.systems["ID-SKA"]
    indonesia.mode, indonesia.slow_seconds = "slow", 0.3  # each answer takes a while
    ids = [send(topo, f"KR-PAR-{i:02d}") for i in range(10)]
    for _ in range(10):
        if len(indonesia.unique_message_ids()) == len(ids):
            break
        worker.deliver_due()
    assert sorted(indonesia.unique_message_ids()) == sorted(ids)
    assert indonesia.most_at_once == 4  # side by side, and never past the limit
