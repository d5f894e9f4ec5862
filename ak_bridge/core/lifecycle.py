"""The life of a CO across the exchange: who may say what about it, where it goes, what follows.

Pure: no I/O, no clock. The exchange asks three questions of every message about a CO —
which side may send it (the issuing or the importing Party), which way it travels, and which
business state it moves the CO to from the state it is in — and refuses what does not fit
with ``certificate_state_conflict`` (e.g. a customs response for a cancelled CO).

    ISSUED → TRANSMITTED → ACKNOWLEDGED → PREFERENCE_GIVEN | PREFERENCE_NOT_GIVEN
       ╰──── REPLACED | CANCELLED (before use, or after a refusal at import)
                                                          ╰→ VERIFICATION_REQUESTED → VERIFIED

A CO refused at import, wholly or for some items, can be replaced or cancelled: correcting and
re-sending after an import problem is the normal EODES flow. A CO whose preference was granted
in full can only be revoked (RevocationNotice, 1.1), with a reason; replace and cancel refuse
it with ``certificate_preference_granted``, and a revocation before use is refused with
``certificate_state_conflict`` (replace or cancel it instead).

An acknowledgement is the recipient's technical receipt of one message, from either side:
the importing side acknowledges a CO, the issuing authority a verification request (its
receipt starts the 2-month reply clock). Only a positive receipt of the CO's own document
moves it to ACKNOWLEDGED; a rejected acknowledgement moves nothing.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
from dataclasses import dataclass
from datetime import date
from typing import Literal

from ak_bridge.core.errors import CertificateStateConflict, NotAuthorized, PreferenceGranted
from ak_bridge.core.model import (
    Ack,
    AckStatus,
    BusinessReceipt,
    CancellationNotice,
    CertificateState,
    Clarification,
    CustomsResponse,
    DocumentsRequest,
    DocumentType,
    LifecycleMessage,
    PreferenceDecision,
    Reconsideration,
    RetransmissionRequest,
    RevocationNotice,
    UtilisationNotice,
    VerificationDetermination,
    VerificationExtension,
    VerificationReply,
    VerificationRequest,
    certificate_scope,
)

S = CertificateState
Side = Literal["issuer", "importer"]
Sender = Literal["issuer", "importer", "either"]

BEFORE_USE = frozenset({S.ISSUED, S.TRANSMITTED, S.ACKNOWLEDGED})
LIVE = BEFORE_USE | {
    S.PREFERENCE_GIVEN,
    S.PREFERENCE_NOT_GIVEN,
    S.VERIFICATION_REQUESTED,
    S.VERIFIED,
}
USED = frozenset({S.PREFERENCE_GIVEN, S.PREFERENCE_NOT_GIVEN, S.VERIFIED})
CORRECTABLE = BEFORE_USE | {S.PREFERENCE_NOT_GIVEN}  # replace or cancel
# Revocation: after preference was granted, or after a verification that followed it.
IN_VERIFICATION = frozenset({S.VERIFICATION_REQUESTED})
AFTER_GRANT = frozenset({S.PREFERENCE_GIVEN, S.VERIFICATION_REQUESTED, S.VERIFIED})


@dataclass(frozen=True)
class Step:
    """What one kind of message does to a CO."""

    sender: Sender  # who may send it ("either": the recipient of the acknowledged message)
    allowed_from: frozenset[CertificateState]
    forward: bool = True  # False: the bridge answers it itself (retransmission)


STEPS: dict[type, Step] = {
    CancellationNotice: Step("issuer", CORRECTABLE),
    CustomsResponse: Step("importer", BEFORE_USE | {S.PREFERENCE_GIVEN, S.PREFERENCE_NOT_GIVEN}),
    Ack: Step("either", frozenset(S)),  # a receipt is never a state conflict
    BusinessReceipt: Step("either", frozenset(S)),  # 1.1: registered in the recipient's system
    # e-Form AK 1.1
    UtilisationNotice: Step("importer", LIVE),  # one declaration's use of the CO
    RevocationNotice: Step("issuer", AFTER_GRANT),
    DocumentsRequest: Step("importer", IN_VERIFICATION),
    VerificationExtension: Step("issuer", IN_VERIFICATION),
    VerificationDetermination: Step("importer", IN_VERIFICATION | {S.VERIFIED}),
    Clarification: Step("issuer", frozenset({S.PREFERENCE_NOT_GIVEN})),
    Reconsideration: Step("importer", frozenset({S.PREFERENCE_NOT_GIVEN})),
    RetransmissionRequest: Step("importer", LIVE, forward=False),
    VerificationRequest: Step("importer", BEFORE_USE | USED),
    VerificationReply: Step("issuer", frozenset({S.VERIFICATION_REQUESTED})),
}


def step_for(msg: LifecycleMessage) -> Step | None:
    """None for messages that are not sent through the exchange (status is a query)."""
    return STEPS.get(type(msg))


def next_state(
    msg: LifecycleMessage,
    current: CertificateState,
    acknowledged: DocumentType | None = None,
) -> CertificateState:
    """The CO's state once ``msg`` is accepted; refuses a message the state does not allow.

    ``acknowledged``: for an Ack, the document type of the message it acknowledges.
    """
    step = STEPS[type(msg)]
    if isinstance(msg, CancellationNotice):
        _correctable(current, "cancelled")
    if current not in step.allowed_from:
        raise CertificateStateConflict(
            f"a {type(msg).__name__} is not possible for a CO that is {current}",
            box="header",
        )
    if isinstance(msg, CancellationNotice):
        return S.CANCELLED
    if isinstance(msg, RevocationNotice):
        return S.REVOKED
    if isinstance(msg, (CustomsResponse, Reconsideration)):
        given = all(d.decision is PreferenceDecision.GIVEN for d in msg.decisions)
        return S.PREFERENCE_GIVEN if given else S.PREFERENCE_NOT_GIVEN
    if isinstance(msg, Ack):
        if msg.status is AckStatus.REJECTED or acknowledged is not DocumentType.FORM_AK:
            return current  # a refusal, or the receipt of another message, moves nothing
        return S.ACKNOWLEDGED if current in (S.ISSUED, S.TRANSMITTED) else current
    if isinstance(msg, VerificationRequest):
        return S.VERIFICATION_REQUESTED
    if isinstance(msg, (VerificationReply, VerificationDetermination)):
        return S.VERIFIED
    return current  # a retransmission request, a business receipt, a utilisation: no change


def _correctable(current: CertificateState, what: str) -> None:
    if current is S.PREFERENCE_GIVEN:
        raise PreferenceGranted(
            f"preference was granted on this CO: it cannot be {what}, only revoked with a reason",
            box="header",
        )
    if current not in CORRECTABLE:
        raise CertificateStateConflict(f"a CO that is {current} cannot be {what}", box="header")


def replacement_allowed(current: CertificateState) -> None:
    """A CO can be replaced before use or after a refusal at import (wholly or per item)."""
    _correctable(current, "replaced")


def after_delivery(state: CertificateState, latest_document: bool) -> CertificateState | None:
    """A CO's own latest document reached the importing side: ISSUED becomes TRANSMITTED.

    Only from ISSUED, and only for the CO's latest document: delivering a cancel, a customs
    response or an older document never moves a CO (back) to TRANSMITTED.
    """
    if latest_document and state is CertificateState.ISSUED:
        return CertificateState.TRANSMITTED
    return None


def sender_side(msg: LifecycleMessage, country: str) -> Side:
    """The side a partner of ``country`` sends ``msg`` from; refuses a side that may not."""
    step = STEPS[type(msg)]
    sides: dict[Side, str] = {"issuer": msg.issuing_country, "importer": msg.importing_country}
    for side, side_country in sides.items():
        if side_country == country and step.sender in (side, "either"):
            return side
    who = "either side" if step.sender == "either" else f"the {step.sender} side"
    allowed = (
        f"{msg.issuing_country} or {msg.importing_country}"
        if step.sender == "either"
        else sides[step.sender]
    )
    raise NotAuthorized(
        f"only {who} ({allowed}) may send a {type(msg).__name__} about "
        f"{msg.issuing_country}/{msg.reference_no}",
        box="header",
    )


def receiving_country(msg: LifecycleMessage, sender: Side) -> str:
    """The country on the other side of the CO from ``sender``."""
    return msg.importing_country if sender == "issuer" else msg.issuing_country


def reply_clock_start(
    msg: Ack, acknowledged: DocumentType, sender: Side, received_on: date
) -> date | None:
    """The day the issuing authority's reply clock starts, when ``msg`` starts it.

    AKFTA: the issuing authority replies within 2 months of receipt of a verification
    request; its own positive acknowledgement is that receipt.
    """
    if (
        sender == "issuer"
        and acknowledged is DocumentType.VERIFICATION_REQUEST
        and msg.status is not AckStatus.REJECTED
    ):
        return received_on
    return None


def business_key(msg: LifecycleMessage, function: str) -> str:
    """Issuing country + reference + message + what tells two such messages apart."""
    discriminator = {
        CustomsResponse: "import_declaration_no",
        VerificationRequest: "request_no",
        VerificationReply: "request_no",
        Ack: "message_id",
        BusinessReceipt: "message_id",
        UtilisationNotice: "import_declaration_no",
        DocumentsRequest: "request_no",
        Clarification: "import_declaration_no",
        Reconsideration: "import_declaration_no",
        VerificationExtension: "request_no",
        VerificationDetermination: "request_no",
    }.get(type(msg))
    extra = getattr(msg, discriminator) if discriminator else ""
    if isinstance(msg, RetransmissionRequest):
        extra = msg.requested_on.isoformat()
    scope = certificate_scope(msg.issuing_country, msg.issuing_body)
    return f"{scope}|{msg.reference_no}|{type(msg).__name__}|{function}|{extra}"


def _plain(value: object) -> str:
    """JSON for what JSON lacks: an attachment's bytes as base64 (1.1), the rest as text."""
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    return str(value)


def content_json(msg: LifecycleMessage, version: int = 2) -> tuple[str, str]:
    """Canonical JSON of a message and its content hash, for storage and idempotency.

    Version 2 names itself (``v2:…``) like certificates' hashes (``canonical.HASH_VERSION``);
    a bare hash is release 0.1.0's, made of the same text.
    """
    data = dataclasses.asdict(msg)
    if data.get("issuing_body") is None:
        data.pop("issuing_body", None)  # unnamed (1.0): the text, so the hash, as before
    body = json.dumps(data, sort_keys=True, default=_plain, ensure_ascii=False)
    digest = hashlib.sha256(body.encode()).hexdigest()
    return body, digest if version == 1 else f"v{version}:{digest}"
