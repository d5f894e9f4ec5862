"""Canonical e-Form AK: the one in-memory shape every wire format translates to and from.

Pure: no I/O, no clock, no Flask. Organised by the boxes of the paper Form AK (see
shared/domain.md, section a) so that an error can always name its box. Values are plain
strings, ints, Decimals and dates; code lists (countries, currencies, units) are checked by
the XSD and the business rules, not by the types, so that a partner's unknown code is
reported with its box instead of crashing a constructor.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import TypeAlias

from ak_bridge.core.errors import Finding

AKFTA_PARTIES = frozenset({"BN", "KH", "ID", "KR", "LA", "MY", "MM", "PH", "SG", "TH", "VN"})


class DocumentType(StrEnum):
    """What a message carries. FORM_D is recognised only in order to refuse or forward it."""

    FORM_AK = "FORM_AK"
    FORM_D = "FORM_D"
    CUSTOMS_RESPONSE = "CUSTOMS_RESPONSE"
    RETRANSMISSION_REQUEST = "RETRANSMISSION_REQUEST"
    VERIFICATION_REQUEST = "VERIFICATION_REQUEST"
    VERIFICATION_REPLY = "VERIFICATION_REPLY"
    ACK = "ACK"
    STATUS_QUERY = "STATUS_QUERY"
    STATUS_RESPONSE = "STATUS_RESPONSE"
    BUSINESS_RECEIPT = "BUSINESS_RECEIPT"  # e-Form AK 1.1
    UTILISATION_NOTICE = "UTILISATION_NOTICE"  # e-Form AK 1.1
    REVOCATION_NOTICE = "REVOCATION_NOTICE"  # e-Form AK 1.1
    DOCUMENTS_REQUEST = "DOCUMENTS_REQUEST"  # e-Form AK 1.1, verification
    VERIFICATION_EXTENSION = "VERIFICATION_EXTENSION"  # e-Form AK 1.1, verification
    VERIFICATION_DETERMINATION = "VERIFICATION_DETERMINATION"  # e-Form AK 1.1, verification
    CLARIFICATION = "CLARIFICATION"  # e-Form AK 1.1, after a refusal
    RECONSIDERATION = "RECONSIDERATION"  # e-Form AK 1.1, after a clarification


class MessageFunction(StrEnum):
    """UN/EDIFACT 1225 message function codes, as used by the e-Form AK envelope."""

    ORIGINAL = "9"
    REPLACE = "5"
    CANCEL = "1"
    RESPONSE = "11"


class CriterionKind(StrEnum):
    """Box 8 origin criteria (Form AK overleaf note 3)."""

    WO = "WO"
    WO_AK = "WO-AK"
    CTH = "CTH"
    CTC = "CTC"
    RVC = "RVC"
    CTH_RVC = "CTH+RVC"
    CTC_RVC = "CTC+RVC"
    SP = "SP"

    @property
    def involves_rvc(self) -> bool:
        return "RVC" in self.value


class CtcLevel(StrEnum):
    CC = "CC"
    CTH = "CTH"
    CTSH = "CTSH"


@dataclass(frozen=True)
class Party:
    """Boxes 1 and 2 (and the third-country invoicing company): who, where."""

    name: str
    address: str
    country: str


@dataclass(frozen=True)
class Quantity:
    value: Decimal
    unit: str  # UN/ECE Rec 20


@dataclass(frozen=True)
class Money:
    amount: Decimal
    currency: str  # ISO 4217


@dataclass(frozen=True)
class Transport:
    """Box 3, every sub-field "as far as known".

    ``port_of_loading`` is not a Form AK field (Box 3 names departure date, vessel and port
    of discharge only); it is carried as an addition. Standard 1.1 adds the rest of the
    route, because direct consignment caused most verification requests before 2019:
    ports are a UN/LOCODE where it matches ``[A-Z]{2}[A-Z2-9]{3}``, else a name.
    """

    departure_date: date | None = None
    vessel: str | None = None
    port_of_loading: str | None = None
    port_of_discharge: str | None = None
    # standard 1.1
    mode: str | None = None  # UN/ECE Rec 19 transport mode code, "1" sea ... "8" inland water
    route: str | None = None  # the route as far as known, in words
    transit_ports: tuple[str, ...] = ()
    document_no: str | None = None  # B/L, AWB, ...: proves the whole route
    document_date: date | None = None  # on-board date = shipment date


@dataclass(frozen=True)
class OriginCriterion:
    """Box 8 as a structured value, not free text."""

    kind: CriterionKind
    rvc_percent: Decimal | None = None
    ctc_level: CtcLevel | None = None

    def as_text(self) -> str:
        """The printed form, e.g. ``CTH + RVC 40%``."""
        parts = [self.kind.value.replace("+RVC", "")] if self.kind.value != "RVC" else []
        if self.kind is CriterionKind.CTC and self.ctc_level:
            parts = [f"CTC({self.ctc_level.value})"]
        if self.kind.involves_rvc:
            parts.append(f"RVC {self.rvc_percent}%")
        return " + ".join(parts)


@dataclass(frozen=True)
class InvoiceIssuer:
    """Who issued a Box 10 invoice (standard 1.1): a third-country invoice is one whose
    issuer's country is neither the exporting nor the importing Party."""

    name: str
    country: str  # ISO 3166-1 alpha-2, any country


@dataclass(frozen=True)
class Invoice:
    """Box 10."""

    number: str
    date: date
    issuer: InvoiceIssuer | None = None  # standard 1.1


@dataclass(frozen=True)
class Exhibition:
    """Exhibition goods (Box 13 ticked), standard 1.1: the exhibition's own element, since the
    consignee must be a Party and an exhibition may be held anywhere (ATIGA note 13)."""

    name: str
    address: str
    country: str  # any ISO 3166-1 alpha-2 code
    start_date: date | None = None
    end_date: date | None = None
    buyer: str | None = None


@dataclass(frozen=True)
class GoodsItem:
    """Boxes 5 to 10 for one line of goods."""

    item_no: int
    marks: str
    package_count: int
    package_type: str  # UN/ECE Rec 21
    description: str
    hs_code: str
    origin: OriginCriterion
    gross_weight: Quantity | None  # Box 9 "gross weight or other quantity": 1.1 may omit it
    quantity: Quantity | None = None
    fob: Money | None = None
    invoices: tuple[Invoice, ...] = ()
    national_tariff_code: str | None = None  # standard 1.1: the importing country's tariff


@dataclass(frozen=True)
class Declaration:
    """Box 11: the exporter's declaration."""

    producing_country: str
    importing_country: str
    place: str
    date: date
    signatory_name: str
    signatory_title: str | None = None


@dataclass(frozen=True)
class Certification:
    """Box 12: the issuing authority's certification.

    The visual signature and seal data live here; the message's cryptographic signature is
    separate (an XMLDSig on the whole document) and never modelled as a box.
    """

    authority_id: str
    authority_name: str
    place: str
    issue_date: date
    officer_name: str
    seal_id: str | None = None
    signed_electronically: bool = True
    # standard 1.1: which of the issuing Party's bodies issued it (Korea: KCS or KCCI); part
    # of the CO's business key when given, since numbers are unique per body only
    issuing_body: str | None = None


@dataclass(frozen=True)
class OriginalCertificate:
    """The CO another one refers to (back-to-back, certified true copy)."""

    reference_no: str
    issue_date: date
    issuing_country: str | None = None


@dataclass(frozen=True)
class FormAK:
    """One certificate of origin, header plus boxes 1 to 13 and the markings."""

    reference_no: str
    issuing_country: str
    exporter: Party
    consignee: Party
    transport: Transport
    items: tuple[GoodsItem, ...]
    declaration: Declaration
    certification: Certification
    hs_edition: str = "HS2022"
    # Box 13 tick boxes
    third_country_invoicing: bool = False
    exhibition: bool = False
    back_to_back: bool = False
    # markings
    issued_retroactively: bool = False
    certified_true_copy: bool = False
    # related certificates
    third_country_invoicer: Party | None = None
    original_certificate: OriginalCertificate | None = None
    replaces_reference_no: str | None = None
    original_issue_date: date | None = None
    remarks: str | None = None
    exhibition_details: Exhibition | None = None  # standard 1.1

    @property
    def importing_country(self) -> str:
        return self.declaration.importing_country

    @property
    def issue_date(self) -> date:
        return self.certification.issue_date

    @property
    def is_replacement(self) -> bool:
        """Whether the document says it replaces another CO, so travels with function 5.

        Either replacement field is enough: a document with an original issue date but no
        replaced reference is a broken replacement (a rule says so), not an original.
        """
        return self.replaces_reference_no is not None or self.original_issue_date is not None


@dataclass(frozen=True)
class Envelope:
    """Who sends what to whom: kept apart from the business document (ePhyto-style header)."""

    sender: str  # partner id of the sender
    receiver: str  # ISO country code (or partner id) of the receiver
    document_type: DocumentType
    function: MessageFunction
    message_id: str  # the sender's own id for this message
    sent_at: datetime
    reference_no: str | None = None
    issuing_country: str | None = None
    correlation_id: str | None = None
    agreement: str | None = None  # the FTA the message is under; None (1.0 headers) = AKFTA
    sender_role: str | None = None  # 1.1 header: issuing_authority | import_customs
    recipient_role: str | None = None


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    IN_FLIGHT = "in_flight"
    WAITING_RETRY = "waiting_retry"
    DELIVERED = "delivered"
    DEAD = "dead"
    CANCELLED = "cancelled"
    HELD = "held"  # built and signed for a partner in shadow mode, not sent


class CertificateState(StrEnum):
    """Business state of a CO, beside the delivery state of each message about it."""

    ISSUED = "ISSUED"
    TRANSMITTED = "TRANSMITTED"
    ACKNOWLEDGED = "ACKNOWLEDGED"
    PREFERENCE_GIVEN = "PREFERENCE_GIVEN"
    PREFERENCE_NOT_GIVEN = "PREFERENCE_NOT_GIVEN"
    REPLACED = "REPLACED"
    CANCELLED = "CANCELLED"
    VERIFICATION_REQUESTED = "VERIFICATION_REQUESTED"
    VERIFIED = "VERIFIED"
    REVOKED = "REVOKED"  # e-Form AK 1.1: withdrawn after use, with a reason


@dataclass(frozen=True)
class Receipt:
    """What the sender gets back once a message is durably accepted."""

    message_id: str
    status: str  # "accepted" | "duplicate"
    received_at: datetime
    reference_no: str | None = None
    findings: tuple = field(default=())
    signed: bytes | None = None  # the bridge's signed receipt, for partners that want one


# -- lifecycle messages ---------------------------------------------------------------------
#
# Everything said about a CO after it is issued (design.md, message catalogue). Each message
# names its CO by the same three keys, reference number + issuing country + importing
# country, so the bridge can route it and file it under the CO's timeline without decoding
# anything else. They travel in the agreed XML only (standard/akstd/eformak-messages-1.0.xsd);
# national formats cover the certificate itself.


class PreferenceDecision(StrEnum):
    """Box 4, per item: what importing customs decided (ATIGA Rule 16(3): one bad item does
    not block the others, so a decision is per item, never per CO)."""

    GIVEN = "GIVEN"
    NOT_GIVEN = "NOT_GIVEN"
    SUSPENDED = "SUSPENDED"  # pending a verification; goods released (ATIGA Rule 18)


class VerificationResult(StrEnum):
    ORIGINATING = "ORIGINATING"
    NOT_ORIGINATING = "NOT_ORIGINATING"


class AckStatus(StrEnum):
    """Technical receipt of a message (Indonesia-China e-Form E "ACK"; ePhyto tracking)."""

    RECEIVED = "received"
    RECEIVED_WITH_WARNINGS = "received_with_warnings"
    REJECTED = "rejected"


@dataclass(frozen=True)
class CancellationNotice:
    """The issuing authority revokes a CO (function 1). A correction is not a cancellation:
    it is a new CO that replaces the old one."""

    reference_no: str
    issuing_country: str
    importing_country: str
    reason: str
    cancelled_on: date
    issuing_body: str | None = None  # 1.1: ReferencedCertificate/IssuingBody


@dataclass(frozen=True)
class ItemDecision:
    """Box 4 for one goods item (Box 5 number)."""

    item_no: int
    decision: PreferenceDecision
    reason: str | None = None
    reason_code: str | None = None  # 1.1: from the bilateral list (config/refusal_reasons.toml)


@dataclass(frozen=True)
class CustomsResponse:
    """Importing customs' decision on preference (Box 4 equivalent, function 11)."""

    reference_no: str
    issuing_country: str
    importing_country: str
    import_declaration_no: str
    decision_date: date
    decisions: tuple[ItemDecision, ...]
    officer: str | None = None
    issuing_body: str | None = None  # 1.1: ReferencedCertificate/IssuingBody


@dataclass(frozen=True)
class RetransmissionRequest:
    """The receiving side asks for a CO again, e.g. after data loss (ATIGA Rule 29(3))."""

    reference_no: str
    issuing_country: str
    importing_country: str
    reason: str
    requested_on: date
    issuing_body: str | None = None  # 1.1: ReferencedCertificate/IssuingBody


@dataclass(frozen=True)
class VerificationRequest:
    """Retroactive check sent by importing customs to the issuing authority (AKFTA: indirect
    verification, reply due in 2 months)."""

    reference_no: str
    issuing_country: str
    importing_country: str
    request_no: str
    reasons: str
    requested_on: date
    reply_due: date
    issuing_body: str | None = None  # 1.1: ReferencedCertificate/IssuingBody


@dataclass(frozen=True)
class Attachment:
    """e-Form AK 1.1: a document carried inside a message (a signed PDF of the form, an
    invoice, a cost statement). It is signed and stored with the message that carries it;
    the 1.1 XSD limits its media type and size."""

    filename: str
    media_type: str
    content: bytes


@dataclass(frozen=True)
class VerificationReply:
    """The issuing authority's answer to a VerificationRequest (same ``request_no``)."""

    reference_no: str
    issuing_country: str
    importing_country: str
    request_no: str
    result: VerificationResult
    replied_on: date
    remarks: str | None = None
    attachments: tuple[Attachment, ...] = ()  # 1.1 only
    issuing_body: str | None = None  # 1.1: ReferencedCertificate/IssuingBody


@dataclass(frozen=True)
class Ack:
    """Technical receipt of one message (``message_id``), with every finding at once."""

    reference_no: str
    issuing_country: str
    importing_country: str
    message_id: str
    status: AckStatus
    findings: tuple[Finding, ...] = ()
    issuing_body: str | None = None  # 1.1: ReferencedCertificate/IssuingBody


class BusinessReceiptStatus(StrEnum):
    """The recipient registered the CO in its own system (or could not): business, not
    technical, receipt (ASW notifies both)."""

    REGISTERED = "registered"
    NOT_REGISTERED = "not_registered"


@dataclass(frozen=True)
class BusinessReceipt:
    """e-Form AK 1.1: the recipient's business receipt of one message (``message_id``)."""

    reference_no: str
    issuing_country: str
    importing_country: str
    message_id: str
    status: BusinessReceiptStatus
    registered_on: date
    remarks: str | None = None
    issuing_body: str | None = None  # 1.1: ReferencedCertificate/IssuingBody


@dataclass(frozen=True)
class ItemUtilisation:
    item_no: int
    quantity: Decimal
    unit: str  # UN/ECE Rec 20, as in Box 9


@dataclass(frozen=True)
class UtilisationNotice:
    """e-Form AK 1.1: import customs tells the issuing authority how much of a CO one import
    declaration used; one CO can be used across several declarations."""

    reference_no: str
    issuing_country: str
    importing_country: str
    import_declaration_no: str
    used_on: date
    items: tuple[ItemUtilisation, ...]
    issuing_body: str | None = None  # 1.1: ReferencedCertificate/IssuingBody


@dataclass(frozen=True)
class RevocationNotice:
    """e-Form AK 1.1: the issuing authority revokes a CO after use (preference granted),
    always with a reason; before use a CO is replaced or cancelled instead."""

    reference_no: str
    issuing_country: str
    importing_country: str
    revoked_on: date
    reason: str
    issuing_body: str | None = None  # 1.1: ReferencedCertificate/IssuingBody


@dataclass(frozen=True)
class DocumentsRequest:
    """e-Form AK 1.1: import customs asks the issuing authority for supporting documents
    (cost statements, invoices, ...) within a verification (``request_no``)."""

    reference_no: str
    issuing_country: str
    importing_country: str
    request_no: str
    requested_on: date
    documents: str
    due: date
    issuing_body: str | None = None  # 1.1: ReferencedCertificate/IssuingBody


@dataclass(frozen=True)
class VerificationExtension:
    """e-Form AK 1.1: the issuing authority needs longer than the 2 months to reply."""

    reference_no: str
    issuing_country: str
    importing_country: str
    request_no: str
    extended_to: date
    reason: str
    issuing_body: str | None = None  # 1.1: ReferencedCertificate/IssuingBody


class DeterminationResult(StrEnum):
    ORIGINATING = "ORIGINATING"
    NOT_ORIGINATING = "NOT_ORIGINATING"
    NOT_AUTHENTIC = "NOT_AUTHENTIC"


@dataclass(frozen=True)
class ItemDetermination:
    item_no: int
    result: DeterminationResult
    reason: str | None = None


@dataclass(frozen=True)
class VerificationDetermination:
    """e-Form AK 1.1: import customs' final determination, per goods item, that closes a
    verification (after the reply, or without one once it is overdue)."""

    reference_no: str
    issuing_country: str
    importing_country: str
    request_no: str
    determined_on: date
    items: tuple[ItemDetermination, ...]
    attachments: tuple[Attachment, ...] = ()
    issuing_body: str | None = None  # 1.1: ReferencedCertificate/IssuingBody


@dataclass(frozen=True)
class Clarification:
    """e-Form AK 1.1: the issuing authority explains a CO refused at import (declaration
    ``import_declaration_no``), asking import customs to reconsider."""

    reference_no: str
    issuing_country: str
    importing_country: str
    import_declaration_no: str
    clarified_on: date
    text: str
    issuing_body: str | None = None  # 1.1: ReferencedCertificate/IssuingBody


@dataclass(frozen=True)
class Reconsideration:
    """e-Form AK 1.1: import customs' new Box 4 decision per item after a clarification."""

    reference_no: str
    issuing_country: str
    importing_country: str
    import_declaration_no: str
    decision_date: date
    decisions: tuple[ItemDecision, ...]
    issuing_body: str | None = None  # 1.1: ReferencedCertificate/IssuingBody


@dataclass(frozen=True)
class StatusQuery:
    """Either side asks for the state and timeline of a CO (pull fallback)."""

    reference_no: str
    issuing_country: str
    importing_country: str
    issuing_body: str | None = None  # 1.1: ReferencedCertificate/IssuingBody


@dataclass(frozen=True)
class StatusEvent:
    """One line of a CO's timeline."""

    at: datetime  # timezone-aware
    name: str
    message_id: str | None = None
    detail: str | None = None


@dataclass(frozen=True)
class StatusResponse:
    """The answer to a StatusQuery: the CO's business state and its timeline."""

    reference_no: str
    issuing_country: str
    importing_country: str
    state: CertificateState
    events: tuple[StatusEvent, ...] = ()
    issuing_body: str | None = None  # 1.1: ReferencedCertificate/IssuingBody


def certificate_scope(issuing_country: str, issuing_body: str | None) -> str:
    """Where a reference number is unique: the issuing country, and the issuing body when one
    is named (standard 1.1: Korea's KCS and KCCI number independently). A 1.0 document names
    none, and its keys stay as they were."""
    return f"{issuing_country}|{issuing_body}" if issuing_body else issuing_country


def certificate_name(issuing_country: str, reference_no: str, issuing_body: str | None) -> str:
    """A CO as messages name it: ``KR/123``, or ``KR/123 issued by KCCI`` when it names a body."""
    return f"{issuing_country}/{reference_no}" + (
        f" issued by {issuing_body}" if issuing_body else ""
    )


LifecycleMessage: TypeAlias = (
    CancellationNotice
    | CustomsResponse
    | RetransmissionRequest
    | VerificationRequest
    | VerificationReply
    | Ack
    | StatusQuery
    | StatusResponse
    | BusinessReceipt
    | UtilisationNotice
    | RevocationNotice
    | DocumentsRequest
    | VerificationExtension
    | VerificationDetermination
    | Clarification
    | Reconsideration
)

# The messages e-Form AK 1.1 adds: they exist only in its namespace.
LIFECYCLE_TYPES_11: tuple[type, ...] = (
    BusinessReceipt,
    UtilisationNotice,
    RevocationNotice,
    DocumentsRequest,
    VerificationExtension,
    VerificationDetermination,
    Clarification,
    Reconsideration,
)

LIFECYCLE_TYPES: tuple[type, ...] = (
    CancellationNotice,
    CustomsResponse,
    RetransmissionRequest,
    VerificationRequest,
    VerificationReply,
    Ack,
    StatusQuery,
    StatusResponse,
    *LIFECYCLE_TYPES_11,
)
