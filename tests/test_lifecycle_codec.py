"""Lifecycle messages in the agreed XML: every message round trips, and errors name the box.

Properties: ``decode(encode(m)) == m`` for every lifecycle message type and for the exchange
header, also through bytes (``xmlio.to_bytes`` -> ``xmlio.parse_untrusted``). Examples: an
XSD failure is a ``SchemaViolation`` naming box 4 inside a customs response and "header"
elsewhere; a value the standard cannot carry is a ``TranslationFailed`` on encode; each
message travels with the document type and UN/EDIFACT 1225 function of the catalogue.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree
from strategies import dates, optional, parties, texts

from ak_bridge.core.errors import Finding, SchemaViolation, Severity, TranslationFailed
from ak_bridge.core.model import (
    LIFECYCLE_TYPES,
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
    ItemDecision,
    ItemDetermination,
    ItemUtilisation,
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
from ak_bridge.formats.lifecycle import MESSAGES_NS, LifecycleCodec, document_type_of, function_of
from ak_bridge.security import xmlio
from ak_bridge.sim.certificates import sample_form_ak

PROPERTY = settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
CODEC = LifecycleCodec()

# -- strategies ------------------------------------------------------------------------------

ids = texts(20)
instants = st.builds(
    lambda naive, minutes: naive.replace(tzinfo=timezone(timedelta(minutes=minutes))),
    st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2099, 12, 31)),
    st.integers(-14 * 60, 14 * 60).map(lambda m: m - m % 15),
)
routing = {"reference_no": ids, "issuing_country": parties, "importing_country": parties}

findings = st.builds(
    Finding,
    code=st.from_regex(r"[a-z][a-z0-9_]{0,40}", fullmatch=True),
    box=optional(st.sampled_from(["header", "marking", *map(str, range(1, 14))])),
    message=texts(80),
    severity=st.sampled_from(Severity),
)

attachments = st.lists(
    st.builds(
        Attachment,
        filename=texts(),
        media_type=st.sampled_from(["application/pdf", "image/png"]),
        content=st.binary(min_size=1, max_size=64),
    ),
    max_size=2,
).map(tuple)

decisions = st.lists(
    st.builds(
        ItemDecision,
        item_no=st.integers(1, 999),
        decision=st.sampled_from(PreferenceDecision),
        reason=optional(texts(80)),
        reason_code=optional(st.sampled_from(["DC01", "OC01", "SIG1"])),
    ),
    min_size=1,
    max_size=4,
).map(tuple)

MESSAGES: dict[type, st.SearchStrategy] = {
    CancellationNotice: st.builds(
        CancellationNotice, **routing, reason=texts(80), cancelled_on=dates
    ),
    CustomsResponse: st.builds(
        CustomsResponse,
        **routing,
        import_declaration_no=ids,
        decision_date=dates,
        decisions=decisions,
        officer=optional(texts()),
    ),
    RetransmissionRequest: st.builds(
        RetransmissionRequest, **routing, reason=texts(80), requested_on=dates
    ),
    VerificationRequest: st.builds(
        VerificationRequest,
        **routing,
        request_no=ids,
        reasons=texts(80),
        requested_on=dates,
        reply_due=dates,
    ),
    VerificationReply: st.builds(
        VerificationReply,
        **routing,
        request_no=ids,
        result=st.sampled_from(VerificationResult),
        replied_on=dates,
        remarks=optional(texts(80)),
        attachments=attachments,
    ),
    Ack: st.builds(
        Ack,
        **routing,
        message_id=ids,
        status=st.sampled_from(AckStatus),
        findings=st.lists(findings, max_size=3).map(tuple),
    ),
    StatusQuery: st.builds(StatusQuery, **routing),
    Clarification: st.builds(
        Clarification, **routing, import_declaration_no=ids, clarified_on=dates, text=texts(80)
    ),
    Reconsideration: st.builds(
        Reconsideration,
        **routing,
        import_declaration_no=ids,
        decision_date=dates,
        decisions=decisions,
    ),
    RevocationNotice: st.builds(RevocationNotice, **routing, revoked_on=dates, reason=texts(80)),
    DocumentsRequest: st.builds(
        DocumentsRequest,
        **routing,
        request_no=ids,
        requested_on=dates,
        documents=texts(80),
        due=dates,
    ),
    VerificationExtension: st.builds(
        VerificationExtension, **routing, request_no=ids, extended_to=dates, reason=texts(80)
    ),
    VerificationDetermination: st.builds(
        VerificationDetermination,
        **routing,
        request_no=ids,
        determined_on=dates,
        items=st.lists(
            st.builds(
                ItemDetermination,
                item_no=st.integers(1, 999),
                result=st.sampled_from(DeterminationResult),
                reason=optional(texts(80)),
            ),
            min_size=1,
            max_size=4,
        ).map(tuple),
        attachments=attachments,
    ),
    BusinessReceipt: st.builds(
        BusinessReceipt,
        **routing,
        message_id=ids,
        status=st.sampled_from(BusinessReceiptStatus),
        registered_on=dates,
        remarks=optional(texts(80)),
    ),
    UtilisationNotice: st.builds(
        UtilisationNotice,
        **routing,
        import_declaration_no=ids,
        used_on=dates,
        items=st.lists(
            st.builds(
                ItemUtilisation,
                item_no=st.integers(1, 999),
                quantity=st.decimals(0, 10**9, places=3),
                unit=st.sampled_from(["KGM", "NMB", "LTR"]),
            ),
            min_size=1,
            max_size=4,
        ).map(tuple),
    ),
    StatusResponse: st.builds(
        StatusResponse,
        **routing,
        state=st.sampled_from(CertificateState),
        events=st.lists(
            st.builds(
                StatusEvent,
                at=instants,
                name=texts(),
                message_id=optional(ids),
                detail=optional(texts(80)),
            ),
            max_size=3,
        ).map(tuple),
    ),
}

envelopes = st.builds(
    Envelope,
    sender=ids,
    receiver=ids,
    document_type=st.sampled_from(DocumentType),
    function=st.sampled_from(MessageFunction),
    message_id=ids,
    sent_at=instants,
    reference_no=optional(ids),
    issuing_country=optional(parties),
    correlation_id=optional(ids),
    agreement=optional(st.sampled_from(["AKFTA", "IKCEPA", "VKFTA"])),
    sender_role=optional(st.sampled_from(["issuing_authority", "import_customs"])),
    recipient_role=optional(st.sampled_from(["issuing_authority", "import_customs"])),
)


def test_every_lifecycle_type_has_a_strategy() -> None:
    assert set(MESSAGES) == set(LIFECYCLE_TYPES)


# -- properties ------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", LIFECYCLE_TYPES, ids=lambda t: t.__name__)
@PROPERTY
@given(data=st.data())
def test_decode_inverts_encode(kind: type, data: st.DataObject) -> None:
    msg = data.draw(MESSAGES[kind])
    element = CODEC.encode(msg)
    assert CODEC.recognizes(element)
    assert CODEC.decode(element) == msg
    assert CODEC.decode(xmlio.parse_untrusted(xmlio.to_bytes(element))) == msg


@PROPERTY
@given(env=envelopes)
def test_header_round_trip(env: Envelope) -> None:
    element = CODEC.encode_header(env)
    assert CODEC.is_header(element) and not CODEC.recognizes(element)
    assert CODEC.decode_header(xmlio.parse_untrusted(xmlio.to_bytes(element))) == env


# -- the catalogue -----------------------------------------------------------------------

DAY = date(2026, 11, 18)
R = ("KR-2026-BS-1", "KR", "VN")
CATALOGUE = [
    (CancellationNotice(*R, "fraud", DAY), DocumentType.FORM_AK, MessageFunction.CANCEL),
    (
        CustomsResponse(*R, "D-1", DAY, (ItemDecision(1, PreferenceDecision.GIVEN),)),
        DocumentType.CUSTOMS_RESPONSE,
        MessageFunction.RESPONSE,
    ),
    (
        RetransmissionRequest(*R, "lost", DAY),
        DocumentType.RETRANSMISSION_REQUEST,
        MessageFunction.ORIGINAL,
    ),
    (
        VerificationRequest(*R, "V-1", "doubt", DAY, DAY + timedelta(days=61)),
        DocumentType.VERIFICATION_REQUEST,
        MessageFunction.ORIGINAL,
    ),
    (
        VerificationReply(*R, "V-1", VerificationResult.ORIGINATING, DAY),
        DocumentType.VERIFICATION_REPLY,
        MessageFunction.RESPONSE,
    ),
    (Ack(*R, "AKB-1", AckStatus.RECEIVED), DocumentType.ACK, MessageFunction.RESPONSE),
    (StatusQuery(*R), DocumentType.STATUS_QUERY, MessageFunction.ORIGINAL),
    (
        StatusResponse(*R, CertificateState.ISSUED),
        DocumentType.STATUS_RESPONSE,
        MessageFunction.RESPONSE,
    ),
    (
        DocumentsRequest(*R, "V-1", DAY, "cost statement of item 2", DAY + timedelta(days=30)),
        DocumentType.DOCUMENTS_REQUEST,
        MessageFunction.ORIGINAL,
    ),
    (
        VerificationExtension(*R, "V-1", DAY + timedelta(days=90), "producer visit needed"),
        DocumentType.VERIFICATION_EXTENSION,
        MessageFunction.ORIGINAL,
    ),
    (
        VerificationDetermination(
            *R, "V-1", DAY, (ItemDetermination(1, DeterminationResult.NOT_AUTHENTIC, "seal"),)
        ),
        DocumentType.VERIFICATION_DETERMINATION,
        MessageFunction.ORIGINAL,
    ),
    (
        Clarification(*R, "IMP-1", DAY, "the through B/L is attached"),
        DocumentType.CLARIFICATION,
        MessageFunction.ORIGINAL,
    ),
    (
        Reconsideration(*R, "IMP-1", DAY, (ItemDecision(1, PreferenceDecision.GIVEN),)),
        DocumentType.RECONSIDERATION,
        MessageFunction.RESPONSE,
    ),
    (
        RevocationNotice(*R, DAY, "not originating (verification KCS-VR-1)"),
        DocumentType.REVOCATION_NOTICE,
        MessageFunction.ORIGINAL,
    ),
    (
        BusinessReceipt(*R, "AKB-1", BusinessReceiptStatus.REGISTERED, DAY),
        DocumentType.BUSINESS_RECEIPT,
        MessageFunction.RESPONSE,
    ),
    (
        UtilisationNotice(*R, "IMP-1", DAY, (ItemUtilisation(1, Decimal("12.5"), "KGM"),)),
        DocumentType.UTILISATION_NOTICE,
        MessageFunction.ORIGINAL,
    ),
]


def test_the_catalogue_covers_every_lifecycle_type() -> None:
    assert {type(m) for m, _, _ in CATALOGUE} == set(LIFECYCLE_TYPES)


@pytest.mark.parametrize(("msg", "document_type", "function"), CATALOGUE)
def test_each_message_travels_as_the_catalogue_says(
    msg: object, document_type: DocumentType, function: MessageFunction
) -> None:
    assert (document_type_of(msg), function_of(msg)) == (document_type, function)  # type: ignore[arg-type]
    assert CODEC.decode(CODEC.encode(msg)) == msg  # type: ignore[arg-type]


def test_issue_and_replace_are_the_certificate_with_function_9_and_5() -> None:
    co = sample_form_ak("KR-2026-BS-1", "KR", "VN", DAY)
    assert document_type_of(co) is DocumentType.FORM_AK
    assert function_of(co) is MessageFunction.ORIGINAL
    new = replace(co, reference_no="KR-2026-BS-2", replaces_reference_no="KR-2026-BS-1")
    assert function_of(new) is MessageFunction.REPLACE


def test_not_a_lifecycle_message_is_a_type_error() -> None:
    with pytest.raises(TypeError):
        document_type_of("nonsense")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        CODEC.encode(object())  # type: ignore[arg-type]


# -- errors name the box ---------------------------------------------------------------------

RESPONSE = CustomsResponse(
    "KR-1",
    "KR",
    "VN",
    "105938274610",
    date(2026, 11, 18),
    (ItemDecision(1, PreferenceDecision.GIVEN), ItemDecision(2, PreferenceDecision.NOT_GIVEN, "x")),
)


def _q(local: str) -> str:
    return f"{{{MESSAGES_NS}}}{local}"


def _drop(root: etree._Element, path: str) -> None:
    el = root.find("/".join(_q(p) for p in path.split("/")))
    assert el is not None, path
    el.getparent().remove(el)


def _set(root: etree._Element, path: str, text: str) -> None:
    el = root.find("/".join(_q(p) for p in path.split("/")))
    assert el is not None, path
    el.text = text


@pytest.mark.parametrize(
    ("corrupt", "box"),
    [
        (lambda r: _drop(r, "ImportDeclarationID"), "4"),
        (lambda r: _set(r, "DecisionDate", "18/11/2026"), "4"),
        (lambda r: _set(r, "GoodsItemDecision/DecisionCode", "MAYBE"), "4"),
        (lambda r: _set(r, "GoodsItemDecision/SequenceNumeric", "0"), "4"),
        (lambda r: [_drop(r, "GoodsItemDecision") for _ in range(2)], "4"),
        (lambda r: _set(r, "ReferencedCertificate/IssuingCountry", "CN"), "header"),
        (lambda r: _drop(r, "ReferencedCertificate/ImportationCountryCode"), "header"),
    ],
)
def test_schema_violation_names_the_box(corrupt, box: str) -> None:
    root = CODEC.encode(RESPONSE)
    corrupt(root)
    with pytest.raises(SchemaViolation) as err:
        CODEC.decode(root)
    assert err.value.box == box, err.value.detail


def test_unknown_root_and_wrong_payload_are_refused() -> None:
    with pytest.raises(SchemaViolation):
        CODEC.decode(etree.Element(_q("Gossip")))
    with pytest.raises(SchemaViolation):
        CODEC.decode({"a": 1})  # type: ignore[arg-type]
    with pytest.raises(SchemaViolation):
        CODEC.decode_header(CODEC.encode(RESPONSE))


def test_signature_is_allowed_as_last_child() -> None:
    root = CODEC.encode(RESPONSE)
    etree.SubElement(root, f"{{{xmlio.NS_DSIG}}}Signature").text = "opaque"
    assert CODEC.decode(root) == RESPONSE


def test_xsd_valid_time_python_cannot_read_is_a_schema_violation() -> None:
    msg = StatusResponse(
        "KR-1", "KR", "VN", CertificateState.ISSUED, (StatusEvent(datetime.now(UTC), "x"),)
    )
    root = CODEC.encode(msg)
    _set(root, "Event/OccurrenceDateTime", "2026-11-20T24:00:00Z")  # legal in XSD 1.0
    with pytest.raises(SchemaViolation) as err:
        CODEC.decode(root)
    assert err.value.box == "header"


@pytest.mark.parametrize(
    ("msg", "box"),
    [
        (CancellationNotice("KR-1", "KR", "VN", "x" * 513, date(2026, 1, 5)), "header"),
        (
            StatusResponse(
                "KR-1",
                "KR",
                "VN",
                CertificateState.ISSUED,
                (StatusEvent(datetime(2026, 1, 5, 9, 0), "received"),),  # no time zone
            ),
            "header",
        ),
        (
            CustomsResponse("KR-1", "KR", "VN", "D-1", date(2026, 1, 5), ()),  # no decision
            "4",
        ),
    ],
)
def test_encode_refuses_what_the_standard_cannot_carry(msg: object, box: str) -> None:
    with pytest.raises(TranslationFailed) as err:
        CODEC.encode(msg)  # type: ignore[arg-type]
    assert err.value.box == box


PDF = Attachment("form.pdf", "application/pdf", b"%PDF-1.7 signed form")


@pytest.mark.parametrize(
    "bad",
    [
        Attachment("form.exe", "application/x-msdownload", b"MZ"),  # not an agreed media type
        Attachment("huge.pdf", "application/pdf", b"x" * (1024 * 1024 + 1)),  # over 1 MiB
    ],
)
def test_attachments_are_limited_in_media_type_and_size(bad: Attachment) -> None:
    reply = VerificationReply(*R, "V-1", VerificationResult.ORIGINATING, DAY, None, (bad,))
    with pytest.raises(TranslationFailed):
        CODEC.encode(reply)
    ok = CODEC.encode(replace(reply, attachments=(PDF,)))
    assert etree.QName(ok).namespace == "urn:ak-bridge:eformak:messages:1.1"  # 1.1 only
    assert CODEC.decode(ok).attachments == (PDF,)
