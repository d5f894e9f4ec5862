"""Property tests of the delivery state machine: no lost message, no delivered-then-pending.

The real Exchange and the real Store (a SQLite file) run under a hypothesis state machine;
only the remote partner is scripted — it is outside the machine, and a scripted stand-in
lets hypothesis explore thousands of interleavings of failures, sweeps, admin retries and
crashed workers that real servers would make too slow to explore.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pg
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from ak_bridge.adapters.store import open_database
from ak_bridge.core.errors import FailureClass, PartnerRejected, PartnerUnreachable
from ak_bridge.core.model import DeliveryStatus
from ak_bridge.core.retry import RetryPolicy
from ak_bridge.core.settings import Channel, PartnerConfig, Settings
from ak_bridge.service.delivery import Outbound, Sent
from ak_bridge.service.exchange import Exchange
from ak_bridge.service.ports import AuditEvent
from ak_bridge.service.records import DeliveryRecord, MessageRecord

FINAL = {"delivered", "dead", "cancelled"}
ALL = FINAL | {"pending", "in_flight", "waiting_retry"}


@dataclass
class ScriptedPartner:
    """Stands in for the remote system: answers as the test says, and counts."""

    mode: str = "ok"  # ok | down | refuse
    accepted: list[str] = field(default_factory=list)  # message ids, in arrival order
    calls: int = 0

    def send(self, partner: PartnerConfig, message: Outbound) -> Sent:
        self.calls += 1
        if self.mode == "down":
            raise PartnerUnreachable("down", failure_class=FailureClass.TRANSPORT)
        if self.mode == "refuse":
            raise PartnerRejected("no", failure_class=FailureClass.FAULT)
        self.accepted.append(message.message_id)
        return Sent(200, "accepted")


def make_settings(db: Path) -> Settings:
    policy = RetryPolicy(
        max_attempts=4,
        base_delay=1,
        factor=2,
        max_delay=8,
        jitter=0.5,
        max_age=3600,
        breaker_threshold=3,
        breaker_cooldown=5,
    )
    partner = PartnerConfig(
        id="P",
        country="ID",
        channel=Channel.REST,
        endpoint="x",
        format="akstd",
        certificates=(),
        retry=policy,
        max_in_flight=3,
    )
    return Settings(
        root=db.parent,
        database=db,
        host="127.0.0.1",
        port=0,
        max_body_bytes=1,
        identity_key=db,
        identity_cert=db,
        identity_passphrase=None,
        partners={"P": partner},
        format_mappings={},
        claim_seconds=30,
    )


class DeliveryMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.dir = tempfile.TemporaryDirectory()
        db = self.database()
        self.store = open_database(db)
        self.now = datetime(2026, 1, 1, tzinfo=UTC)
        self.partner = ScriptedPartner()
        cfg = make_settings(Path(self.dir.name) / "s.db")
        self.workers = [
            Exchange(
                cfg,
                self.store,
                {},
                None,
                {},
                {Channel.REST: self.partner},  # type: ignore[arg-type]
                clock=lambda: self.now,
                rand=lambda: 0.5,
                worker_id=f"w{i}",
            )
            for i in range(2)
        ]
        self.accepted: list[str] = []
        self.delivered_once: set[int] = set()
        self.n = 0

    def database(self) -> str:
        return str(Path(self.dir.name) / "s.db")

    def teardown(self) -> None:
        self.store.close()
        self.dir.cleanup()

    @rule(same_certificate=st.booleans())
    def accept(self, same_certificate: bool) -> None:
        self.n += 1
        mid = f"M{self.n}"
        ref = "CO-1" if same_certificate else f"CO-{self.n}"
        self.store.accept(
            MessageRecord(
                id=mid,
                direction="in",
                sender="KR",
                via="t",
                document_type="FORM_AK",
                function="9",
                reference_no=ref,
                created_at=self.now,
            ),
            [
                DeliveryRecord(
                    message_id=mid,
                    destination="P",
                    channel="rest",
                    status="pending",
                    order_key=ref,
                    payload=b"{}",
                    content_type="application/json",
                    next_attempt_at=self.now,
                    created_at=self.now,
                    updated_at=self.now,
                )
            ],
            [AuditEvent(self.now, "received", mid)],
        )
        self.accepted.append(mid)

    @rule(mode=st.sampled_from(["ok", "down", "refuse"]))
    def partner_behaves(self, mode: str) -> None:
        self.partner.mode = mode

    @rule(seconds=st.integers(0, 40))
    def time_passes(self, seconds: int) -> None:
        self.now += timedelta(seconds=seconds)

    @rule(worker=st.integers(0, 1))
    def sweep(self, worker: int) -> None:
        self.workers[worker].deliver_due()

    @rule()
    def worker_crashes_mid_delivery(self) -> None:
        """A worker claims and dies before recording anything; its claim must expire."""
        self.store.claim_due(self.now, self.now + timedelta(seconds=30), "dead-worker", 2, "P")

    @rule()
    def admin_retries_dead_letters(self) -> None:
        dead = [d["delivery_id"] for d in self.store.find_deliveries(status=["dead"])]
        self.store.requeue(dead, self.now, "admin", "test")

    @invariant()
    def no_message_is_lost(self) -> None:
        rows = self.store.find_deliveries(limit=10_000)
        assert sorted(r["message_id"] for r in rows) == sorted(self.accepted)
        assert {r["status"] for r in rows} <= ALL

    @invariant()
    def delivered_stays_delivered(self) -> None:
        rows = self.store.find_deliveries(limit=10_000)
        now_delivered = {r["delivery_id"] for r in rows if r["status"] == "delivered"}
        assert self.delivered_once <= now_delivered
        self.delivered_once = now_delivered

    @invariant()
    def every_delivered_message_reached_the_partner(self) -> None:
        for r in self.store.find_deliveries(status=["delivered"], limit=10_000):
            assert r["message_id"] in self.partner.accepted

    @invariant()
    def attempts_are_all_recorded(self) -> None:
        with self.store.read() as tx:  # type: ignore[attr-defined]
            recorded = tx.rows("SELECT count(*) AS n FROM attempts")[0]["n"]
            counted = tx.rows("SELECT coalesce(sum(attempts), 0) AS n FROM deliveries")[0]["n"]
        assert recorded == counted

    @invariant()
    def a_certificate_is_delivered_in_order(self) -> None:
        order = [m for m in self.partner.accepted if self._ref(m) == "CO-1"]
        first_seen = list(dict.fromkeys(order))
        assert first_seen == sorted(first_seen, key=lambda m: int(m[1:]))

    def _ref(self, mid: str) -> str:
        m = self.store.message(mid)
        return m["reference_no"] if m else ""

    @precondition(lambda self: self.accepted)
    @rule()
    def eventually_everything_settles(self) -> None:
        """With the partner up and time passing, every open delivery finishes."""
        self.partner.mode = "ok"
        for _ in range(40):
            self.now += timedelta(seconds=40)
            self.workers[0].deliver_due()
        open_rows = self.store.find_deliveries(
            status=["pending", "waiting_retry", "in_flight"], limit=10_000
        )
        assert open_rows == []
        for r in self.store.find_deliveries(status=[str(DeliveryStatus.DELIVERED)]):
            assert r["message_id"] in self.partner.accepted


class PostgresDeliveryMachine(DeliveryMachine):
    """The same machine on a fresh PostgreSQL database per example."""

    def database(self) -> str:
        self.url = pg.create_database()
        return self.url

    def teardown(self) -> None:
        self.store.shutdown()  # type: ignore[attr-defined]
        pg.drop_database(self.url)
        super().teardown()


MACHINE_SETTINGS = settings(
    max_examples=40,
    stateful_step_count=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestDeliveryStates = DeliveryMachine.TestCase
TestDeliveryStates.settings = MACHINE_SETTINGS
TestDeliveryStatesOnPostgres = PostgresDeliveryMachine.TestCase
TestDeliveryStatesOnPostgres.settings = settings(MACHINE_SETTINGS, max_examples=20)
