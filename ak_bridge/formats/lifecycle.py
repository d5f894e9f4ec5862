"""Codec for the lifecycle messages of the e-Form AK exchange (``eformak-messages-1.0.xsd``).

Why one codec for every partner: the national formats describe the certificate only; what
happens to a CO afterwards (cancellation, Box 4 customs response, retransmission and
verification requests, acknowledgements, status) has no national form anywhere, so every
partner exchanges these messages in the agreed XML, and a new country needs nothing here.

Why table-driven: eight messages with the same shape (a ReferencedCertificate routing key,
then a few leaves and at most one repeated group) are one small spec each; encode and
decode walk the same spec, so they cannot drift apart, and the round-trip property test
covers every field of every message.

Decoding validates against the XSD first and raises ``SchemaViolation`` naming the box
("4" inside a CustomsResponse decision, "header" elsewhere). Encoding validates what it
built and raises ``TranslationFailed`` for a value the standard cannot carry (an over-long
reason, a timestamp without a time zone), so an invalid message never leaves the bridge.

Pure: no I/O beyond reading the XSD once through :mod:`ak_bridge.security.xmlio`, no clock.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, Literal

from lxml import etree

from ak_bridge.core.errors import Finding, SchemaViolation, Severity, TranslationFailed
from ak_bridge.core.model import (
    LIFECYCLE_TYPES_11,
    Ack,
    AckStatus,
    Attachment,
    BusinessReceipt,
    BusinessReceiptStatus,
    CancellationNotice,
    CertificateState,
    Clarification,
    CustomsResponse,
    DeterminationResult,
    DocumentsRequest,
    DocumentType,
    Envelope,
    FormAK,
    ItemDecision,
    ItemDetermination,
    ItemUtilisation,
    LifecycleMessage,
    MessageFunction,
    PreferenceDecision,
    Reconsideration,
    RetransmissionRequest,
    RevocationNotice,
    StatusEvent,
    StatusQuery,
    StatusResponse,
    UtilisationNotice,
    VerificationDetermination,
    VerificationExtension,
    VerificationReply,
    VerificationRequest,
    VerificationResult,
)
from ak_bridge.core.versions import message_features_1_1, require_message_carried
from ak_bridge.formats.akstd import require_element, validate_with_boxes

__all__ = [
    "MESSAGES_NS",
    "MESSAGES_XSD",
    "LifecycleCodec",
    "document_type_of",
    "function_of",
]

MESSAGES_NS = "urn:ak-bridge:eformak:messages:1.0"
MESSAGES_XSD = "akstd/eformak-messages-1.0.xsd"
MESSAGES_NS_11 = "urn:ak-bridge:eformak:messages:1.1"
# Each namespace validates against its own catalogue; 1.0 stays readable beside 1.1.
XSD_OF = {MESSAGES_NS: MESSAGES_XSD, MESSAGES_NS_11: "akstd/eformak-messages-1.1.xsd"}
MESSAGE_VERSION_OF = {MESSAGES_NS: "1.0", MESSAGES_NS_11: "1.1"}  # what a sender must speak
HEADER_ROOT = f"{{{MESSAGES_NS}}}ExchangeHeader"
HEADER_ROOTS = {f"{{{ns}}}ExchangeHeader": ns for ns in XSD_OF}

# Elements that belong to Box 4 (the importing customs' decision); everything else in a
# lifecycle message is about the message as a whole ("header").
BOX_OF: dict[str, str] = {
    "GoodsItemUtilisation": "9",  # quantities used, as in Box 9
    "UsedQuantity": "9",
    "ImportDeclarationID": "4",
    "DecisionDate": "4",
    "OfficerName": "4",
    "GoodsItemDecision": "4",
    "DecisionCode": "4",
    "ReasonCode": "4",
}


# -- converters: (to wire, from wire, whitespace-collapsed in the XSD) ---------------------


@dataclass(frozen=True)
class _Conv:
    to_wire: Callable[[Any], str]
    from_wire: Callable[[str], Any]
    token: bool  # the XSD type collapses whitespace: strip before converting


_TEXT = _Conv(str, str, token=False)
_INT = _Conv(str, int, token=True)
_DATE = _Conv(date.isoformat, date.fromisoformat, token=True)
_DATETIME = _Conv(datetime.isoformat, datetime.fromisoformat, token=True)
_DECIMAL = _Conv(str, Decimal, token=True)
_BASE64 = _Conv(lambda b: base64.b64encode(b).decode(), base64.b64decode, token=True)


def _enum(cls: type[StrEnum]) -> _Conv:
    return _Conv(lambda v: cls(v).value, cls, token=True)


@dataclass(frozen=True)
class _F:
    """One child element: model attribute, element local name, leaf converter or group."""

    attr: str
    element: str
    conv: _Conv | _Spec
    optional: bool = False
    many: bool = False


@dataclass(frozen=True)
class _Spec:
    """A message (or repeated group): element, dataclass, children in XSD order."""

    element: str
    cls: type
    fields: tuple[_F, ...]
    routed: bool = True  # starts with ReferencedCertificate (every root message does)


_DECISION = _Spec(
    "GoodsItemDecision",
    ItemDecision,
    (
        _F("item_no", "SequenceNumeric", _INT),
        _F("decision", "DecisionCode", _enum(PreferenceDecision)),
        _F("reason_code", "ReasonCode", _TEXT, optional=True),  # 1.1 only
        _F("reason", "Reason", _TEXT, optional=True),
    ),
    routed=False,
)
_FINDING = _Spec(
    "Finding",
    Finding,
    (
        _F("code", "Code", _TEXT),
        _F("box", "Box", _TEXT, optional=True),
        _F("severity", "SeverityCode", _enum(Severity)),
        _F("message", "Message", _TEXT),
    ),
    routed=False,
)
_EVENT = _Spec(
    "Event",
    StatusEvent,
    (
        _F("at", "OccurrenceDateTime", _DATETIME),
        _F("name", "Name", _TEXT),
        _F("message_id", "MessageID", _TEXT, optional=True),
        _F("detail", "Detail", _TEXT, optional=True),
    ),
    routed=False,
)

_DETERMINATION = _Spec(
    "GoodsItemDetermination",
    ItemDetermination,
    (
        _F("item_no", "SequenceNumeric", _INT),
        _F("result", "DeterminationCode", _enum(DeterminationResult)),
        _F("reason", "Reason", _TEXT, optional=True),
    ),
    routed=False,
)
_ATTACHMENT = _Spec(
    "Attachment",
    Attachment,
    (
        _F("filename", "FileName", _TEXT),
        _F("media_type", "MediaTypeCode", _TEXT),
        _F("content", "EmbeddedObject", _BASE64),
    ),
    routed=False,
)
_UTILISATION = _Spec(
    "GoodsItemUtilisation",
    ItemUtilisation,
    (
        _F("item_no", "SequenceNumeric", _INT),
        _F("quantity", "UsedQuantity", _DECIMAL),
        _F("unit", "UnitCode", _TEXT),
    ),
    routed=False,
)

_MESSAGES: tuple[_Spec, ...] = (
    _Spec(
        "CancellationNotice",
        CancellationNotice,
        (_F("cancelled_on", "CancellationDate", _DATE), _F("reason", "Reason", _TEXT)),
    ),
    _Spec(
        "CustomsResponse",
        CustomsResponse,
        (
            _F("import_declaration_no", "ImportDeclarationID", _TEXT),
            _F("decision_date", "DecisionDate", _DATE),
            _F("officer", "OfficerName", _TEXT, optional=True),
            _F("decisions", "GoodsItemDecision", _DECISION, many=True),
        ),
    ),
    _Spec(
        "RetransmissionRequest",
        RetransmissionRequest,
        (_F("requested_on", "RequestDate", _DATE), _F("reason", "Reason", _TEXT)),
    ),
    _Spec(
        "VerificationRequest",
        VerificationRequest,
        (
            _F("request_no", "RequestID", _TEXT),
            _F("requested_on", "RequestDate", _DATE),
            _F("reply_due", "ReplyDueDate", _DATE),
            _F("reasons", "Reason", _TEXT),
        ),
    ),
    _Spec(
        "VerificationReply",
        VerificationReply,
        (
            _F("request_no", "RequestID", _TEXT),
            _F("result", "ResultCode", _enum(VerificationResult)),
            _F("replied_on", "ReplyDate", _DATE),
            _F("remarks", "Remarks", _TEXT, optional=True),
            _F("attachments", "Attachment", _ATTACHMENT, many=True),  # 1.1 only
        ),
    ),
    _Spec(
        "Acknowledgement",
        Ack,
        (
            _F("message_id", "AcknowledgedMessageID", _TEXT),
            _F("status", "StatusCode", _enum(AckStatus)),
            _F("findings", "Finding", _FINDING, many=True),
        ),
    ),
    _Spec("StatusQuery", StatusQuery, ()),
    _Spec(
        "BusinessReceipt",
        BusinessReceipt,
        (
            _F("message_id", "ReceivedMessageID", _TEXT),
            _F("status", "StatusCode", _enum(BusinessReceiptStatus)),
            _F("registered_on", "RegistrationDate", _DATE),
            _F("remarks", "Remarks", _TEXT, optional=True),
        ),
    ),
    _Spec(
        "DocumentsRequest",
        DocumentsRequest,
        (
            _F("request_no", "RequestID", _TEXT),
            _F("requested_on", "RequestDate", _DATE),
            _F("documents", "RequestedDocuments", _TEXT),
            _F("due", "DueDate", _DATE),
        ),
    ),
    _Spec(
        "VerificationExtension",
        VerificationExtension,
        (
            _F("request_no", "RequestID", _TEXT),
            _F("extended_to", "ExtendedReplyDueDate", _DATE),
            _F("reason", "Reason", _TEXT),
        ),
    ),
    _Spec(
        "VerificationDetermination",
        VerificationDetermination,
        (
            _F("request_no", "RequestID", _TEXT),
            _F("determined_on", "DeterminationDate", _DATE),
            _F("items", "GoodsItemDetermination", _DETERMINATION, many=True),
            _F("attachments", "Attachment", _ATTACHMENT, many=True),
        ),
    ),
    _Spec(
        "Clarification",
        Clarification,
        (
            _F("import_declaration_no", "ImportDeclarationID", _TEXT),
            _F("clarified_on", "ClarificationDate", _DATE),
            _F("text", "Text", _TEXT),
        ),
    ),
    _Spec(
        "Reconsideration",
        Reconsideration,
        (
            _F("import_declaration_no", "ImportDeclarationID", _TEXT),
            _F("decision_date", "DecisionDate", _DATE),
            _F("decisions", "GoodsItemDecision", _DECISION, many=True),
        ),
    ),
    _Spec(
        "RevocationNotice",
        RevocationNotice,
        (_F("revoked_on", "RevocationDate", _DATE), _F("reason", "Reason", _TEXT)),
    ),
    _Spec(
        "UtilisationNotice",
        UtilisationNotice,
        (
            _F("import_declaration_no", "ImportDeclarationID", _TEXT),
            _F("used_on", "UtilisationDate", _DATE),
            _F("items", "GoodsItemUtilisation", _UTILISATION, many=True),
        ),
    ),
    _Spec(
        "StatusResponse",
        StatusResponse,
        (
            _F("state", "StateCode", _enum(CertificateState)),
            _F("events", "Event", _EVENT, many=True),
        ),
    ),
)
# Messages new in 1.1 exist only in its namespace; the 1.0 ones are read in either.
NEW_IN_11: frozenset[type] = frozenset(LIFECYCLE_TYPES_11)
_BY_TAG = {
    f"{{{ns}}}{s.element}": s
    for s in _MESSAGES
    for ns in XSD_OF
    if ns == MESSAGES_NS_11 or s.cls not in NEW_IN_11
}
_BY_CLASS = {s.cls: s for s in _MESSAGES}
NEW_TYPES_11 = frozenset(
    {
        DocumentType.BUSINESS_RECEIPT,
        DocumentType.UTILISATION_NOTICE,
        DocumentType.REVOCATION_NOTICE,
        DocumentType.DOCUMENTS_REQUEST,
        DocumentType.VERIFICATION_EXTENSION,
        DocumentType.VERIFICATION_DETERMINATION,
        DocumentType.CLARIFICATION,
        DocumentType.RECONSIDERATION,
    }
)

_HEADER = _Spec(
    "ExchangeHeader",
    Envelope,
    (
        _F("sender", "SenderID", _TEXT),
        _F("receiver", "RecipientID", _TEXT),
        _F("document_type", "DocumentTypeCode", _enum(DocumentType)),
        _F("function", "MessageFunctionCode", _enum(MessageFunction)),
        _F("reference_no", "CertificateID", _TEXT, optional=True),
        _F("issuing_country", "IssuingCountry", _TEXT, optional=True),
        _F("message_id", "MessageID", _TEXT),
        _F("correlation_id", "CorrelationID", _TEXT, optional=True),
        _F("sent_at", "CreationDateTime", _DATETIME),
    ),
    routed=False,
)
_HEADER_11 = _Spec(
    "ExchangeHeader",
    Envelope,
    (
        *_HEADER.fields,
        _F("sender_role", "SenderRoleCode", _TEXT, optional=True),
        _F("recipient_role", "RecipientRoleCode", _TEXT, optional=True),
        _F("agreement", "AgreementCode", _TEXT, optional=True),
    ),
    routed=False,
)

# What each message travels as in the exchange header: (document type, UN/EDIFACT 1225).
# Requests are originals (9), answers are responses (11); a cancellation is the Form AK's
# own function 1, so it stays under the CO's idempotency key (country + reference + function).
_TRAVELS_AS: dict[type, tuple[DocumentType, MessageFunction]] = {
    CancellationNotice: (DocumentType.FORM_AK, MessageFunction.CANCEL),
    CustomsResponse: (DocumentType.CUSTOMS_RESPONSE, MessageFunction.RESPONSE),
    RetransmissionRequest: (DocumentType.RETRANSMISSION_REQUEST, MessageFunction.ORIGINAL),
    VerificationRequest: (DocumentType.VERIFICATION_REQUEST, MessageFunction.ORIGINAL),
    VerificationReply: (DocumentType.VERIFICATION_REPLY, MessageFunction.RESPONSE),
    Ack: (DocumentType.ACK, MessageFunction.RESPONSE),
    StatusQuery: (DocumentType.STATUS_QUERY, MessageFunction.ORIGINAL),
    StatusResponse: (DocumentType.STATUS_RESPONSE, MessageFunction.RESPONSE),
    BusinessReceipt: (DocumentType.BUSINESS_RECEIPT, MessageFunction.RESPONSE),
    UtilisationNotice: (DocumentType.UTILISATION_NOTICE, MessageFunction.ORIGINAL),
    RevocationNotice: (DocumentType.REVOCATION_NOTICE, MessageFunction.ORIGINAL),
    DocumentsRequest: (DocumentType.DOCUMENTS_REQUEST, MessageFunction.ORIGINAL),
    VerificationExtension: (DocumentType.VERIFICATION_EXTENSION, MessageFunction.ORIGINAL),
    VerificationDetermination: (DocumentType.VERIFICATION_DETERMINATION, MessageFunction.ORIGINAL),
    Clarification: (DocumentType.CLARIFICATION, MessageFunction.ORIGINAL),
    Reconsideration: (DocumentType.RECONSIDERATION, MessageFunction.RESPONSE),
}


def document_type_of(msg: LifecycleMessage | FormAK) -> DocumentType:
    """The header's document type for ``msg`` (a CancellationNotice travels as FORM_AK)."""
    if isinstance(msg, FormAK):
        return DocumentType.FORM_AK
    return _travels_as(msg)[0]


def function_of(msg: LifecycleMessage | FormAK) -> MessageFunction:
    """The UN/EDIFACT 1225 function ``msg`` travels with: Issue 9, Replace 5, Cancel 1,
    answers 11, requests 9."""
    if isinstance(msg, FormAK):
        return MessageFunction.REPLACE if msg.is_replacement else MessageFunction.ORIGINAL
    return _travels_as(msg)[1]


def _travels_as(msg: Any) -> tuple[DocumentType, MessageFunction]:
    try:
        return _TRAVELS_AS[type(msg)]
    except KeyError:
        raise TypeError(f"not a lifecycle message: {type(msg).__name__}") from None


def _q(local: str, ns: str = MESSAGES_NS) -> str:
    return f"{{{ns}}}{local}"


def _ns(root: etree._Element) -> str:
    return etree.QName(root).namespace or ""


class LifecycleCodec:
    """Lifecycle messages and the exchange header (XML) <-> model dataclasses."""

    name: str = "messages"
    kind: Literal["xml", "json"] = "xml"
    marker: str = MESSAGES_NS

    document_type_of = staticmethod(document_type_of)
    function_of = staticmethod(function_of)

    def recognizes(self, document: etree._Element | dict[str, Any]) -> bool:
        """A lifecycle message root (not the header, which is no business document)."""
        return isinstance(document, etree._Element) and document.tag in _BY_TAG

    def is_header(self, document: etree._Element | dict[str, Any]) -> bool:
        return isinstance(document, etree._Element) and document.tag in HEADER_ROOTS

    # -- messages ---------------------------------------------------------------------------

    def decode(self, element: etree._Element) -> LifecycleMessage:
        root = require_element(element, self.name)
        spec = _BY_TAG.get(root.tag)
        if spec is None:
            raise SchemaViolation(
                f"{self.name}: {root.tag} is not a lifecycle message of {MESSAGES_NS}",
                box="header",
            )
        _validate(root)
        return _read(root, spec, _ns(root))

    def encode(self, msg: LifecycleMessage, version: str | None = None) -> etree._Element:
        """``msg`` in the catalogue of ``version``; without one, the oldest that carries it.

        The bridge passes the version negotiated with the destination
        (:func:`ak_bridge.core.versions.message_version`); asked for 1.0, a message saying
        what only 1.1 can (a 1.1 message, REVOKED, a reason code, attachments) raises
        ``VersionNotLossless`` naming its box instead of being written without it.
        """
        spec = _BY_CLASS.get(type(msg))
        if spec is None:
            raise TypeError(f"not a lifecycle message: {type(msg).__name__}")
        if version is None:
            version = "1.1" if any(message_features_1_1(msg)) else "1.0"
        elif version == "1.0":
            require_message_carried(msg, "e-Form AK messages 1.0", version)
        ns = MESSAGES_NS_11 if version == "1.1" else MESSAGES_NS
        root = etree.Element(_q(spec.element, ns), nsmap={None: ns})
        _write(root, spec, msg, ns)
        _check_encoded(root)
        return root

    # -- the exchange header ----------------------------------------------------------------

    def decode_header(self, element: etree._Element) -> Envelope:
        root = require_element(element, self.name)
        ns = HEADER_ROOTS.get(root.tag)
        if ns is None:
            raise SchemaViolation(f"{self.name}: root must be {HEADER_ROOT}", box="header")
        _validate(root)
        return _read(root, _HEADER_11 if ns == MESSAGES_NS_11 else _HEADER, ns)

    def encode_header(self, envelope: Envelope) -> etree._Element:
        """A 1.0 header, unless the envelope says what only 1.1 can (roles, agreement)."""
        v11 = any((envelope.agreement, envelope.sender_role, envelope.recipient_role)) or (
            envelope.document_type in NEW_TYPES_11
        )
        ns = MESSAGES_NS_11 if v11 else MESSAGES_NS
        root = etree.Element(_q("ExchangeHeader", ns), nsmap={None: ns})
        _write(root, _HEADER_11 if v11 else _HEADER, envelope, ns)
        _check_encoded(root)
        return root


def _validate(root: etree._Element) -> None:
    try:
        validate_with_boxes(root, XSD_OF.get(_ns(root), MESSAGES_XSD), BOX_OF)
    except SchemaViolation as exc:
        if exc.box is None:
            raise SchemaViolation(exc.detail, box="header") from None
        raise


def _check_encoded(root: etree._Element) -> None:
    """What we built must be valid: a value the standard cannot carry is refused here."""
    try:
        _validate(root)
    except SchemaViolation as exc:
        raise TranslationFailed(f"cannot be carried: {exc.detail}", box=exc.box) from None


def _write(parent: etree._Element, spec: _Spec, obj: Any, ns: str) -> None:
    if spec.routed:
        ref = etree.SubElement(parent, _q("ReferencedCertificate", ns))
        etree.SubElement(ref, _q("ID", ns)).text = obj.reference_no
        etree.SubElement(ref, _q("IssuingCountry", ns)).text = obj.issuing_country
        if obj.issuing_body:  # 1.1 only: the 1.0 schema refuses it (never dropped silently)
            etree.SubElement(ref, _q("IssuingBody", ns)).text = obj.issuing_body
        etree.SubElement(ref, _q("ImportationCountryCode", ns)).text = obj.importing_country
    for f in spec.fields:
        value = getattr(obj, f.attr)
        for item in value if f.many else (value,):
            if item is None:
                continue
            el = etree.SubElement(parent, _q(f.element, ns))
            if isinstance(f.conv, _Spec):
                _write(el, f.conv, item, ns)
            else:
                el.text = f.conv.to_wire(item)


def _text(el: etree._Element) -> str:
    return "".join(el.itertext())  # a comment inside the text must not cut it


def _read(el: etree._Element, spec: _Spec, ns: str) -> Any:
    """Build the dataclass of ``spec`` from a validated element."""
    values: dict[str, Any] = {}
    if spec.routed:
        ref = el.find(_q("ReferencedCertificate", ns))
        assert ref is not None  # the XSD requires it
        values["reference_no"] = _text(ref.find(_q("ID", ns)))
        values["issuing_country"] = _text(ref.find(_q("IssuingCountry", ns))).strip()
        values["importing_country"] = _text(ref.find(_q("ImportationCountryCode", ns))).strip()
        body = ref.find(_q("IssuingBody", ns))
        if body is not None:
            values["issuing_body"] = _text(body).strip()
    for f in spec.fields:
        found = [_leaf(node, f, ns) for node in el.findall(_q(f.element, ns))]
        values[f.attr] = tuple(found) if f.many else (found[0] if found else None)
    return spec.cls(**values)


def _leaf(node: etree._Element, f: _F, ns: str) -> Any:
    if isinstance(f.conv, _Spec):
        return _read(node, f.conv, ns)
    raw = _text(node)
    try:
        return f.conv.from_wire(raw.strip() if f.conv.token else raw)
    except ValueError as exc:  # valid for the XSD, not for Python (e.g. 24:00:00)
        raise SchemaViolation(
            f"{f.element}: {raw!r} cannot be read: {exc}", box=BOX_OF.get(f.element, "header")
        ) from None
