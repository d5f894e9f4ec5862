"""Signed sample requests: every message a sample partner may send, SOAP and REST.

One function writes them for the sandbox (``ak-bridge sandbox``) and for the committed
``wsdl/samples/requests/`` (``scripts/make-samples``), so what is committed is what a
running sandbox accepts. Byte for byte reproducible: dates count from one sample day, the
message ids and send times are fixed, and the partners' TEST-ONLY keys (committed beside
the requests, public, for the sandbox only) are RSA, whose PKCS#1 v1.5 signatures are
deterministic.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from ak_bridge.adapters.web import soap
from ak_bridge.core.model import (
    CancellationNotice,
    CustomsResponse,
    FormAK,
    ItemDecision,
    LifecycleMessage,
    PreferenceDecision,
    RetransmissionRequest,
    VerificationRequest,
)
from ak_bridge.core.rules import default_reply_due
from ak_bridge.formats import Codec
from ak_bridge.security.signing import Signer, load_identity
from ak_bridge.security.x509_build import new_key, pem, private_pem
from ak_bridge.sim.certificates import sample_form_ak
from ak_bridge.sim.partners import PartnerSystem
from ak_bridge.sim.pki import _name, self_signed
from ak_bridge.standard.contracts import AMS, KCS, rest_body

SAMPLE_DAY = date(2026, 11, 20)  # as scripts/make-samples: every date counts back from it
SENT_AT = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)  # request n is sent n minutes later
REQUESTS_DIR = Path(__file__).resolve().parents[2] / "wsdl" / "samples" / "requests"


def counterpart(country: str) -> str:
    """Who sends the sandbox's certificates to a partner of ``country``, and gets its own."""
    return "VN" if country == "KR" else "KR"


def inbound_certificates(country: str, day: date) -> list[FormAK]:
    """The two COs the sandbox holds for the partner (its answers are about them)."""
    other = counterpart(country)
    return [sample_form_ak(f"{other}-SANDBOX-{n}", other, country, day) for n in (1, 2)]


def messages(country: str, day: date) -> list[tuple[str, FormAK | LifecycleMessage]]:
    """What a partner of ``country`` may send, in an order the bridge accepts."""
    other = counterpart(country)
    own = sample_form_ak(f"{country}-SANDBOX-1", country, other, day)
    first, second = inbound_certificates(country, day)
    ref = first.reference_no
    decisions = tuple(ItemDecision(i.item_no, PreferenceDecision.GIVEN) for i in first.items)
    return [
        ("certificate", own),
        (
            "cancellation-notice",
            CancellationNotice(own.reference_no, country, other, "withdrawn", day),
        ),
        ("retransmission-request", RetransmissionRequest(ref, other, country, "data lost", day)),
        (
            "customs-response",
            CustomsResponse(ref, other, country, f"{country}-IMP-1", day, decisions),
        ),
        (
            "verification-request",
            VerificationRequest(
                second.reference_no, other, country, "VR-1", "RVC", day, default_reply_due(day)
            ),
        ),
    ]


def request_files(system: PartnerSystem, day: date = SAMPLE_DAY) -> dict[str, bytes]:
    """``NN-<type>.rest.json`` and, for XML documents, ``NN-<type>.<contract>.soap.xml``."""
    out: dict[str, bytes] = {}
    for n, (name, doc) in enumerate(messages(system.country, day), start=1):
        xml, json_doc, signature = system.document_for(doc)
        envelope = system.envelope_for(doc, f"{system.partner_id}-SANDBOX-{n:02d}")
        envelope = dataclasses.replace(envelope, sent_at=SENT_AT + timedelta(minutes=n))
        stem = f"{n:02d}-{name}"
        body = rest_body(envelope, json_doc, signature, None if json_doc is not None else xml)
        out[f"{stem}.rest.json"] = (json.dumps(body, indent=2, ensure_ascii=False) + "\n").encode()
        if xml is not None:
            contract = KCS if system.country == "KR" else AMS
            out[f"{stem}.{contract.name}.soap.xml"] = soap.submit_request(contract, envelope, xml)
    return out


def committed_files(codecs: Mapping[str, Codec], day: date = SAMPLE_DAY) -> dict[str, bytes]:
    """``<partner>/<request file>`` for each sample partner, signed with its TEST-ONLY key."""
    from ak_bridge.sim.topology import PILOT  # the topology imports the simulators

    out: dict[str, bytes] = {}
    for spec in PILOT:
        key_file, cert_file = identity_files(spec.partner_id)
        system = PartnerSystem(
            partner_id=spec.partner_id,
            country=spec.country,
            codec=codecs[spec.format],
            signer=Signer(load_identity(key_file, cert_file, None)),
            bridge_verifier=None,  # type: ignore[arg-type]  # it only sends here
            contract=spec.contract,
        )
        for name, data in request_files(system, day).items():
            out[f"{spec.partner_id}/{name}"] = data
    return out


def identity_files(partner_id: str, directory: Path = REQUESTS_DIR) -> tuple[Path, Path]:
    """The partner's TEST-ONLY sandbox key and certificate (public: never trust them)."""
    stem = directory / f"TEST-ONLY-sandbox-{partner_id}"
    return Path(f"{stem}.key.pem"), Path(f"{stem}.cert.pem")


def make_identity(partner_id: str, directory: Path = REQUESTS_DIR) -> tuple[Path, Path]:
    """Create the TEST-ONLY key (RSA: deterministic signatures) and a self-signed
    certificate, once: existing files are kept, so the signed requests stay the same."""
    key_file, cert_file = identity_files(partner_id, directory)
    if key_file.exists() and cert_file.exists():
        return key_file, cert_file
    directory.mkdir(parents=True, exist_ok=True)
    key = new_key("rsa")
    name = _name(f"TEST-ONLY sandbox {partner_id} - public key, never trust")
    cert = self_signed(
        key, name, datetime(2026, 1, 1, tzinfo=UTC), datetime(2036, 12, 31, tzinfo=UTC)
    )
    key_file.write_bytes(private_pem(key))
    cert_file.write_bytes(pem(cert))
    return key_file, cert_file
