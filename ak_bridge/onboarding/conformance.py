"""Partner conformance kit: a scripted suite the bridge runs against a partner's endpoint.

Why: a new ASEAN country's UAT is usually proven by a few hand-sent messages and a phone
call; what the bridge relies on in production (that the partner verifies our signature,
de-duplicates on our stable message id, takes lifecycle messages, answers fast enough)
goes untested until a real CO is lost or doubled (peers.md (f) 10). The kit exercises
exactly the bridge's production path: its own outbound senders
(:func:`ak_bridge.adapters.outbound.build_senders`), its own signing identity, the partner's own
format codec, so a PASS means "the bridge as configured can deliver to this partner".

Checks (each PASS / FAIL / SKIP with a one-line reason and its duration):

``wsdl``       SOAP: ``<endpoint>?wsdl`` matches our WSDL (SKIP if none is served)
``accept``     a valid signed sample certificate is accepted
``duplicate``  the very same message id again is answered ``duplicate``, not accepted again
``tampered``   a document whose signature no longer matches is refused (4xx / client fault)
``lifecycle``  a CancellationNotice for the sample CO (agreed message XML) is accepted
``latency``    median and p95 of N accepted sends

Every sample has a reference ``CONF-<UTC timestamp>-<n>`` so a real UAT never confuses it
with trade documents. The report is plain JSON-able data; :func:`write_signed_report` signs
it with the bridge's key so the partner and the operator hold the same onboarding evidence.
"""

from __future__ import annotations

import base64
import json
import math
import secrets
import statistics
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from lxml import etree

from ak_bridge.adapters.outbound.soap import contract_for
from ak_bridge.core.errors import DeliveryFailed, MalformedXml, PartnerRejected
from ak_bridge.core.model import CancellationNotice, Envelope, FormAK, LifecycleMessage
from ak_bridge.core.settings import Channel, PartnerConfig, Settings
from ak_bridge.core.versions import negotiate
from ak_bridge.formats import Codec, for_versions
from ak_bridge.formats.lifecycle import LifecycleCodec, document_type_of, function_of
from ak_bridge.onboarding import contract_drift
from ak_bridge.security.signing import Signer
from ak_bridge.security.xmlio import NS_DSIG, parse_untrusted
from ak_bridge.service.delivery import BRIDGE_ID, Outbound, Sender

__all__ = [
    "CheckResult",
    "ConformanceKit",
    "SampleFactory",
    "Status",
    "run_conformance",
    "signature_path",
    "write_signed_report",
]

KIT_VERSION = "ak-bridge conformance 1"


class Status(StrEnum):
    PASS = "PASS"
    FAIL = "FAIL"
    SKIP = "SKIP"


@dataclass(frozen=True)
class CheckResult:
    check: str
    status: Status
    reason: str
    seconds: float
    data: Mapping[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "check": self.check,
            "status": str(self.status),
            "reason": self.reason,
            "seconds": round(self.seconds, 4),
            "data": dict(self.data),
        }


Verdict = tuple[Status, str, Mapping[str, Any]]
# (reference_no, issuing country, importing country, issue date) -> a valid certificate;
# ``ak_bridge.sim.certificates.sample_form_ak``, injected by the command line (outer layer).
SampleFactory = Callable[[str, str, str, date], FormAK]


# --------------------------------------------------------------------------- sending


@dataclass(frozen=True)
class Outcome:
    """What one send through the real sender came to."""

    status: str  # accepted | duplicate | unknown (succeeded, receipt unreadable) | error
    seconds: float
    error: DeliveryFailed | None = None


# --------------------------------------------------------------------------- the kit


def _tamper_xml(signed: bytes, altered: etree._Element) -> bytes:
    """The signature of ``signed`` lifted onto ``altered``: what a forger would send."""
    signature = parse_untrusted(signed).find(f"{{{NS_DSIG}}}Signature")
    if signature is None:
        raise MalformedXml("signed sample carries no signature")
    altered.append(signature)
    return etree.tostring(altered, xml_declaration=True, encoding="UTF-8")


def _p95(values: list[float]) -> float:
    """Nearest-rank 95th percentile (with 5 samples: the slowest one)."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]


class ConformanceKit:
    """Runs the suite against one partner; every collaborator is injected."""

    def __init__(
        self,
        settings: Settings,
        partner: PartnerConfig,
        sender: Sender,
        signer: Signer,
        codec: Codec,
        sample: SampleFactory,
        *,
        latency_sends: int = 5,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        if partner.channel is Channel.ASW:
            raise ValueError(f"{partner.id} is the ASW gateway, not a Form AK partner")
        self.settings = settings
        self.partner = partner
        self.sender = sender
        self.signer = signer
        self.codec = codec
        self.make_sample = sample
        self.lifecycle = LifecycleCodec()
        self.latency_sends = latency_sends
        self.clock = clock
        self.contract = contract_for(partner) if partner.channel is Channel.SOAP else None
        self.started = clock()
        self.reference_prefix = f"CONF-{self.started:%Y%m%d%H%M%S}"
        self._count = 0
        self._accepted: tuple[FormAK, Outbound] | None = None

    # -- samples ----------------------------------------------------------------------------

    @property
    def issuing_country(self) -> str:
        """Korea, unless the partner is Korea: then another configured Party issues."""
        if self.partner.country != "KR":
            return "KR"
        others = [
            p.country
            for p in self.settings.partners.values()
            if p.country != "KR" and p.channel is not Channel.ASW
        ]
        return others[0] if others else "ID"

    def _next_reference(self) -> str:
        self._count += 1
        return f"{self.reference_prefix}-{self._count}"

    def _outbound(self, doc: FormAK | LifecycleMessage, payload: bytes, kind: str) -> Outbound:
        message_id = f"{doc.reference_no}-{secrets.token_hex(4)}"
        return Outbound(
            delivery_id=0,
            message_id=message_id,
            envelope=Envelope(
                sender=BRIDGE_ID,
                receiver=self.partner.id,
                document_type=document_type_of(doc),
                function=function_of(doc),
                message_id=message_id,
                sent_at=self.clock(),
                reference_no=doc.reference_no,
                issuing_country=doc.issuing_country,
            ),
            payload=payload,
            content_type="application/json" if kind == "json" else "application/xml",
        )

    def _render(self, co: FormAK, signed_as: FormAK | None = None) -> bytes:
        """``co`` in the partner's format, signed as the bridge signs (``Exchange._render``).

        ``signed_as``: sign that certificate instead and put its signature on ``co`` (tamper).
        """
        encoded = self.codec.encode(co)
        signed = self.codec.encode(signed_as or co)
        if self.codec.kind == "json":
            assert isinstance(encoded, dict) and isinstance(signed, dict)
            signature = base64.b64encode(self.signer.sign_json(signed)).decode()
            return json.dumps({"document": encoded, "signature": signature}).encode()
        assert isinstance(encoded, etree._Element) and isinstance(signed, etree._Element)
        if signed_as is None:
            return self.signer.sign(encoded)
        return _tamper_xml(self.signer.sign(signed), encoded)

    def _new_certificate(self) -> FormAK:
        return self.make_sample(
            self._next_reference(), self.issuing_country, self.partner.country, self.clock().date()
        )

    def sample(self) -> tuple[FormAK, Outbound]:
        """A fresh valid certificate to the partner's country, signed, with a new message id."""
        co = self._new_certificate()
        return co, self._outbound(co, self._render(co), self.codec.kind)

    # -- sending ----------------------------------------------------------------------------

    def send(self, message: Outbound) -> Outcome:
        """Once through the bridge's real sender, with a fresh ``sent_at`` as a retry has."""
        message = replace(message, envelope=replace(message.envelope, sent_at=self.clock()))
        t0 = time.perf_counter()
        try:
            sent = self.sender.send(self.partner, message)
        except DeliveryFailed as exc:
            return Outcome("error", time.perf_counter() - t0, exc)
        receipt = sent.receipt if sent.receipt in ("accepted", "duplicate") else "unknown"
        return Outcome(receipt, time.perf_counter() - t0)

    # -- the checks -------------------------------------------------------------------------

    def check_wsdl(self) -> Verdict:
        if self.partner.channel is not Channel.SOAP or self.partner.wsdl is None:
            return Status.SKIP, "REST partner: its contract has no WSDL", {}
        status = contract_drift.check_partner(self.partner)
        data = {"url": status.url, "differences": [d.as_dict() for d in status.differences]}
        if status.state is contract_drift.ContractState.UNREACHABLE:
            return Status.SKIP, f"serves no WSDL ({status.detail})", data
        if status.state is contract_drift.ContractState.SAME:
            return Status.PASS, f"operations and elements match {self.partner.wsdl.name}", data
        shown = "; ".join(str(d) for d in status.differences[:3])
        more = len(status.differences) - 3
        return Status.FAIL, shown + (f"; and {more} more" if more > 0 else ""), data

    def check_accept(self) -> Verdict:
        co, message = self.sample()
        outcome = self.send(message)
        data = {"reference_no": co.reference_no, "message_id": message.message_id}
        if outcome.status == "accepted":
            self._accepted = (co, message)
            return Status.PASS, f"{co.reference_no} accepted", data
        if outcome.status == "unknown":
            self._accepted = (co, message)
            return Status.PASS, f"{co.reference_no} taken (receipt status not readable)", data
        if outcome.status == "duplicate":
            return Status.FAIL, f"a new message id was answered duplicate ({co.reference_no})", data
        return Status.FAIL, f"valid certificate not accepted: {_why(outcome.error)}", data

    def check_duplicate(self) -> Verdict:
        if self._accepted is None:
            return Status.SKIP, "needs the accepted sample of 'accept'", {}
        _, message = self._accepted
        outcome = self.send(message)
        data = {"message_id": message.message_id}
        if outcome.status == "duplicate":
            return Status.PASS, "same message id answered duplicate", data
        if outcome.status == "accepted":
            return Status.FAIL, "same message id accepted twice: no de-duplication", data
        if outcome.status == "unknown":
            return Status.SKIP, "receipt status not readable: cannot tell duplicate", data
        return Status.FAIL, f"a resend was not answered as a duplicate: {_why(outcome.error)}", data

    def check_tampered(self) -> Verdict:
        co = self._new_certificate()
        forged = replace(co, exporter=replace(co.exporter, name="Conformance Tampered Exporter"))
        message = self._outbound(forged, self._render(forged, signed_as=co), self.codec.kind)
        outcome = self.send(message)
        data = {"reference_no": co.reference_no, "message_id": message.message_id}
        if outcome.error is None:
            return Status.FAIL, "accepted a document whose signature does not match", data
        if isinstance(outcome.error, PartnerRejected):
            code = outcome.error.code or f"HTTP {outcome.error.status}"
            note = "" if code == "signature_invalid" else "; expected signature_invalid"
            return Status.PASS, f"refused ({code}{note})", {**data, "code": outcome.error.code}
        return Status.FAIL, f"no business refusal: {_why(outcome.error)}", data

    def check_lifecycle(self) -> Verdict:
        if self._accepted is None:
            return Status.SKIP, "needs the accepted sample of 'accept'", {}
        co, _ = self._accepted
        notice = CancellationNotice(
            reference_no=co.reference_no,
            issuing_country=co.issuing_country,
            importing_country=self.partner.country,
            reason="ak-bridge conformance test: cancellation of a test certificate",
            cancelled_on=self.clock().date(),
        )
        # as the bridge sends it: the highest version of the messages the partner speaks
        version = negotiate(self.partner.standard_versions)
        signed = self.signer.sign(self.lifecycle.encode(notice, version))
        message = self._outbound(notice, signed, "xml")
        outcome = self.send(message)
        data = {"reference_no": co.reference_no, "message_id": message.message_id}
        if outcome.status in ("accepted", "unknown"):
            return Status.PASS, f"CancellationNotice for {co.reference_no} accepted", data
        if outcome.status == "duplicate":
            return Status.FAIL, "a new cancellation was answered duplicate", data
        return Status.FAIL, f"CancellationNotice refused: {_why(outcome.error)}", data

    def check_latency(self) -> Verdict:
        times: list[float] = []
        for _ in range(self.latency_sends):
            _, message = self.sample()
            outcome = self.send(message)
            if outcome.status not in ("accepted", "unknown"):
                why = _why(outcome.error) if outcome.error else outcome.status
                return Status.FAIL, f"send {len(times) + 1} not accepted: {why}", {}
            times.append(outcome.seconds)
        median, p95 = statistics.median(times), _p95(times)
        data = {
            "sends": len(times),
            "median_ms": round(median * 1000, 1),
            "p95_ms": round(p95 * 1000, 1),
            "samples_ms": [round(t * 1000, 1) for t in times],
            "timeout_seconds": self.partner.timeout_seconds,
        }
        reason = f"median {median * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms over {len(times)} sends"
        return Status.PASS, reason, data

    CHECKS: tuple[tuple[str, str], ...] = (
        ("wsdl", "check_wsdl"),
        ("accept", "check_accept"),
        ("duplicate", "check_duplicate"),
        ("tampered", "check_tampered"),
        ("lifecycle", "check_lifecycle"),
        ("latency", "check_latency"),
    )

    def run(self) -> list[CheckResult]:
        """Every check in order; a crash in one is that check's FAIL, never the run's end."""
        results = []
        for name, method in self.CHECKS:
            t0 = time.perf_counter()
            try:
                status, reason, data = getattr(self, method)()
            except Exception as exc:  # reported, not raised: the other checks still run
                status, reason = Status.FAIL, f"kit error: {type(exc).__name__}: {exc}"
                data = {}
            results.append(CheckResult(name, status, reason, time.perf_counter() - t0, data))
        return results

    def report(self, results: list[CheckResult]) -> dict[str, Any]:
        """The onboarding report: plain JSON data, as signed and as written."""
        counts = {s: sum(r.status is s for r in results) for s in Status}
        report = {
            "kit": KIT_VERSION,
            "partner": self.partner.id,
            "country": self.partner.country,
            "channel": str(self.partner.channel),
            "format": self.partner.format,
            "endpoint": self.partner.endpoint,
            "reference_prefix": self.reference_prefix,
            "bridge_certificate_sha256": self.signer.certificate_fingerprint,
            "started_at": self.started.isoformat(),
            "finished_at": self.clock().isoformat(),
            "results": [r.as_dict() for r in results],
            "summary": {
                "pass": counts[Status.PASS],
                "fail": counts[Status.FAIL],
                "skip": counts[Status.SKIP],
                "conformant": counts[Status.FAIL] == 0,
            },
        }
        return json.loads(json.dumps(report))  # exactly what a reader of the file gets


def _why(error: DeliveryFailed | None) -> str:
    """``refused (class): …`` for a business answer, ``failed (class): …`` for no answer."""
    if error is None:
        return "no error"
    verb = "failed" if error.retryable else "refused"
    return f"{verb} ({error.failure_class}): {' '.join(error.detail.split())[:160]}"


def run_conformance(
    settings: Settings,
    partner: PartnerConfig,
    senders: Mapping[Channel, Sender],
    signer: Signer,
    codecs: Mapping[str, Codec],
    sample: SampleFactory,
    *,
    latency_sends: int = 5,
) -> dict[str, Any]:
    """Run the whole suite against ``partner`` and return the (unsigned) report."""
    kit = ConformanceKit(
        settings,
        partner,
        senders[partner.channel],
        signer,
        for_versions(codecs[partner.format], partner.standard_versions),
        sample,
        latency_sends=latency_sends,
    )
    return kit.report(kit.run())


def signature_path(out: Path) -> Path:
    return out.with_name(out.name + ".sig.xml")


def write_signed_report(report: Mapping[str, Any], signer: Signer, out: Path) -> Path:
    """Write ``out`` (the report JSON) and ``<out>.sig.xml`` (the bridge's signed manifest).

    Check it with ``Verifier(load_trusted([bridge cert])).verify_json(json.load(out), sig)``.
    """
    out.write_text(json.dumps(report, indent=2, sort_keys=True, ensure_ascii=False) + "\n")
    sig = signature_path(out)
    sig.write_bytes(signer.sign_json(report))
    return sig
