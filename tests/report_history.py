"""A pilot's history made through the real bridge, for the pilot report's tests.

Six days of traffic on five lanes through the simulated partners, the bridge's web app and
its worker, on a clock the test moves: certificates, customs responses (all, some and no
items given, suspended), a retry that succeeds, dead letters, refusals at the door, a
shadow-mode partner (Thailand), verification requests: one answered (and its CO asked
again), one left open, one the issuing authority acknowledged (its reply clock starts then)
and one it extended (Korea and Viet Nam speak e-Form AK 1.1, which carries the extension).
Beside it, the test keeps its own count of what it did, to check the report against.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import zeep
from flows import PILOT_11

from ak_bridge.config import load_settings
from ak_bridge.core.model import (
    Ack,
    AckStatus,
    CustomsResponse,
    FormAK,
    ItemDecision,
    PreferenceDecision,
    VerificationExtension,
    VerificationReply,
    VerificationRequest,
    VerificationResult,
)
from ak_bridge.core.rules import default_reply_due
from ak_bridge.service.exchange import Exchange
from ak_bridge.sim.certificates import sample_form_ak
from ak_bridge.sim.topology import THAILAND, Topology, build_topology

# In the future: the test PKI is valid from yesterday, and the days must not be today's.
T0 = (datetime.now(UTC) + timedelta(days=3)).replace(hour=8, minute=0, second=0, microsecond=0)
DAYS = 6
G, N, S = PreferenceDecision.GIVEN, PreferenceDecision.NOT_GIVEN, PreferenceDecision.SUSPENDED
# Each day's customs responses from Viet Nam: the decisions, and the outcome the report says.
ANSWERS = (
    ((G, G), "all items given"),
    ((G, G, N), "some items given"),  # 2 of 3: never "no item given"
    ((N, N), "no item given"),
    ((S, S), "suspended, none given"),
)
SENDERS = {"KR": "KR-KCS", "ID": "ID-SKA", "VN": "VN-ECOSYS"}
FROM_ISSUER = ("FORM_AK", "VERIFICATION_REPLY", "ACK", "VERIFICATION_EXTENSION")


@dataclass(frozen=True)
class ReplyClock:
    """One verification request as the test made it: the reply date it asked, the issuing
    authority's acknowledgement and extension, and the date in force (its own count)."""

    asked: date
    acknowledged_on: date | None = None
    extended_to: date | None = None

    @property
    def due(self) -> date:
        if self.extended_to is not None:
            return self.extended_to  # the test extends past every other date
        if self.acknowledged_on is not None:
            return default_reply_due(self.acknowledged_on)
        return self.asked


@dataclass
class History:
    topo: Topology
    bridge: Exchange
    worker: Exchange
    now: datetime = T0
    seq: int = 0
    daily: Counter[tuple[str, str, str]] = field(default_factory=Counter)  # day, lane, type
    latencies: dict[str, list[float]] = field(default_factory=dict)  # lane -> seconds
    batch: list[str] = field(default_factory=list)  # lanes of deliveries not yet made
    refusals: Counter[tuple[str, str]] = field(default_factory=Counter)  # partner, code
    items: Counter[str] = field(default_factory=Counter)
    outcomes: Counter[str] = field(default_factory=Counter)
    received: dict[str, datetime] = field(default_factory=dict)  # CO -> its receipt
    decision_s: list[float] = field(default_factory=list)
    shadow: int = 0
    dead: int = 0
    turnaround_s: float = 0.0
    replied: int = 0
    open_requests: dict[str, ReplyClock] = field(default_factory=dict)  # request no. -> clock

    def clock(self) -> datetime:
        return self.now

    def send(self, doc: Any, lane: str, doc_type: str, shadow: bool = False) -> None:
        sender = SENDERS[doc.issuing_country if doc_type in FROM_ISSUER else doc.importing_country]
        self.seq += 1
        reply = self.topo.systems[sender].submit(self.topo.bridge_url, doc, f"H-{self.seq}")
        if hasattr(reply, "status_code"):
            assert reply.status_code == 200, reply.text
        self.daily[(self.now.date().isoformat(), lane, doc_type)] += 1
        if shadow:
            self.shadow += 1
        else:
            self.batch.append(lane)

    def deliver(self, after_s: float) -> None:
        """Move the clock on, then deliver what is due: every delivery waiting took after_s."""
        self.now += timedelta(seconds=after_s)
        for _ in range(30):
            if not self.worker.deliver_due().attempted:
                break
        for lane in self.batch:
            self.latencies.setdefault(lane, []).append(after_s)
        self.batch.clear()

    def refuse(self, sender: str, doc: Any, code: str) -> None:
        system = self.topo.systems[sender]
        try:
            if isinstance(doc, tuple):  # a Form D
                system.submit_soap(self.topo.bridge_url, *doc)
            else:
                system.submit(self.topo.bridge_url, doc, f"H-bad-{self.seq}")
        except zeep.exceptions.Fault as fault:
            assert code in fault.message
        self.refusals[(sender, code)] += 1


def co(h: History, issuing: str, importing: str, items: int = 2) -> FormAK:
    h.seq += 1
    return sample_form_ak(f"{issuing}-H-{h.seq:05d}", issuing, importing, h.now.date(), items=items)


def make_history(workdir: Path) -> History:
    topo = build_topology(workdir, PILOT_11 + (THAILAND,))
    partners = topo.workdir / "config" / "partners.toml"
    text = partners.read_text()
    partners.write_text(re.sub(r"(\[partners\.TH-DFT\]\n)", r"\1shadow = true\n", text))
    topo.settings = load_settings(topo.workdir / "config", environ={})
    bridge = topo.start_bridge()
    h = History(topo, bridge, topo.worker_exchange())
    bridge.clock = h.worker.clock = h.clock
    for day in range(DAYS):
        h.now = T0 + timedelta(days=day)
        _day(h, day)
    _verification(h)
    return h


def _day(h: History, day: int) -> None:
    vn_cos = []
    for _ in range(14):
        c = co(h, "KR", "ID")
        h.send(c, "KR → ID", "FORM_AK")
    for _ in range(4):
        c = co(h, "KR", "VN", items=3)
        h.send(c, "KR → VN", "FORM_AK")
        h.received[c.reference_no] = h.now
        vn_cos.append(c)
    for issuing, importing in [("ID", "KR")] * 5 + [("VN", "KR")] * 3:
        h.send(co(h, issuing, importing), f"{issuing} → {importing}", "FORM_AK")
    for _ in range(2):
        h.send(co(h, "KR", "TH"), "KR → TH", "FORM_AK", shadow=True)
    h.deliver([0.3, 2, 45, 200, 4000, 0.8][day])
    # refusals at the door: a Form D from Indonesia, Korea answering for Viet Nam
    ind = h.topo.systems["ID-SKA"]
    form_d = sample_form_ak(f"ID-D-{day}", "ID", "KR", h.now.date())
    from ak_bridge.core.model import DocumentType
    from ak_bridge.standard.contracts import AMS

    env = ind.envelope_for(form_d, f"H-formd-{day}", document_type=DocumentType.FORM_D)
    h.refuse("ID-SKA", (AMS, env, ind.document_for(form_d)[0]), "form_d_not_accepted")
    fake = CustomsResponse(
        vn_cos[0].reference_no, "KR", "VN", "X", h.now.date(), (ItemDecision(1, G),)
    )
    h.refuse("KR-KCS", fake, "not_authorized")
    # Viet Nam's customs answer an hour and a bit later
    h.now += timedelta(minutes=60 + day)
    for c, (decisions, outcome) in zip(vn_cos, ANSWERS, strict=True):
        response = CustomsResponse(
            c.reference_no,
            "KR",
            "VN",
            f"VN-IMP-{c.reference_no}",
            h.now.date(),
            tuple(
                ItemDecision(i + 1, d, None if d is G else "origin not shown")
                for i, d in enumerate(decisions)
            ),
        )
        h.send(response, "KR → VN", "CUSTOMS_RESPONSE")
        h.decision_s.append((h.now - h.received[c.reference_no]).total_seconds())
        h.items.update(d.value for d in decisions)
        h.outcomes[outcome] += 1
    h.deliver(1)
    if day == 2:  # Viet Nam's system fails: two dead letters after six attempts
        vn = h.topo.systems["VN-ECOSYS"]
        vn.mode = "http500"
        for _ in range(2):
            h.send(co(h, "KR", "VN"), "KR → VN", "FORM_AK")
        h.batch.clear()
        store = h.worker.store
        for _ in range(200):  # retries, and the breaker's pauses, until both are dead
            if len(store.find_deliveries(status=["dead"], destination="VN-ECOSYS")) == 2:
                break
            h.now += timedelta(seconds=30)
            h.worker.deliver_due()
        h.dead += 2
        vn.mode = "ok"


def _request(h: History, ref: str, request_no: str) -> VerificationRequest:
    req = VerificationRequest(
        ref, "KR", "VN", request_no, "RVC doubtful", h.now.date(), default_reply_due(h.now.date())
    )
    h.send(req, "KR → VN", "VERIFICATION_REQUEST")
    h.open_requests[request_no] = ReplyClock(req.reply_due)
    return req


def _verification(h: History) -> None:
    """Requests on day 0's KR → VN certificates: VR-0 answered 2 days later (its CO asked
    again a day after, VR-4), VR-1 left open, VR-2 acknowledged by Korea on day 5 (2 months
    from then), VR-3 extended by Korea."""
    refs = sorted(r for r in h.received if h.received[r].date() == T0.date())[:4]
    h.now = T0 + timedelta(days=1, hours=3)
    requests = [_request(h, ref, f"VR-{n}") for n, ref in enumerate(refs)]
    h.deliver(5)
    h.now += timedelta(days=2)
    reply = VerificationReply(
        refs[0], "KR", "VN", "VR-0", VerificationResult.ORIGINATING, h.now.date()
    )
    h.send(reply, "KR → VN", "VERIFICATION_REPLY")
    del h.open_requests["VR-0"]
    h.replied += 1
    h.turnaround_s = timedelta(days=2, seconds=5).total_seconds()
    h.deliver(5)
    # day 4: a new request on the verified CO; VR-0, answered, is not awaited any more
    h.now = T0 + timedelta(days=4, hours=2)
    _request(h, refs[0], "VR-4")
    h.deliver(5)
    # day 5: Korea acknowledges VR-2 (its clock starts) and extends VR-3 by a month
    h.now = T0 + timedelta(days=5, hours=6)
    (received,) = [
        r.message_id for r in h.topo.systems["KR-KCS"].received if r.certificate == requests[2]
    ]
    h.send(Ack(refs[2], "KR", "VN", received, AckStatus.RECEIVED), "KR → VN", "ACK")
    h.open_requests["VR-2"] = replace(h.open_requests["VR-2"], acknowledged_on=h.now.date())
    later = requests[3].reply_due + timedelta(days=31)
    extension = VerificationExtension(refs[3], "KR", "VN", "VR-3", later, "producer visit")
    h.send(extension, "KR → VN", "VERIFICATION_EXTENSION")
    h.open_requests["VR-3"] = replace(h.open_requests["VR-3"], extended_to=later)
    h.deliver(5)


def day_of(moment: datetime) -> date:
    return moment.astimezone(UTC).date()
