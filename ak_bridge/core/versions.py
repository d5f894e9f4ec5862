"""Versions of the e-Form AK standard (certificate and messages), and what each can carry.

Why here: which version a partner is sent, and whether a certificate survives the trip to
that version, are exchange rules (issue 11, "version negotiation"): a certificate that
uses a 1.1 field must never reach a 1.0-only partner with that field silently dropped. The
bridge refuses it at intake, before a receipt exists, naming the Form AK box. The same holds
for the lifecycle messages: a message 1.1 adds (or a 1.1 value in a 1.0 message) is never
sent to a partner that speaks only 1.0, and every message goes at the highest version the
destination speaks.

Pure: no I/O, no clock.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from dataclasses import dataclass

from ak_bridge.core.errors import VersionNotLossless
from ak_bridge.core.model import (
    LIFECYCLE_TYPES_11,
    CertificateState,
    CustomsResponse,
    FormAK,
    LifecycleMessage,
    Reconsideration,
    StatusResponse,
    VerificationDetermination,
    VerificationReply,
)

__all__ = [
    "DESCRIPTION_MAX_1_0",
    "STANDARD_VERSIONS",
    "Feature",
    "VersionNotLossless",
    "features_1_1",
    "message_features_1_1",
    "message_version",
    "negotiate",
    "require_carried",
    "require_message_carried",
]

STANDARD_VERSIONS = ("1.0", "1.1")  # oldest first; the bridge reads and writes both
DESCRIPTION_MAX_1_0 = 512  # Box 7 description in eformak-1.0.xsd (1.1: 2,000)


@dataclass(frozen=True)
class Feature:
    """One use of a standard-1.1 field in a certificate."""

    name: str  # stable, e.g. "transport.mode"
    box: str
    what: str


HS_EDITIONS_1_1 = ("HS2007", "HS2012", "HS2017", "HS2022")  # eformak-1.1.xsd HSEditionType


def require_edition(co: FormAK, version: str) -> None:
    """1.1 lists the HS editions (1.0 took any ``HS`` + 4 digits): a 1.0 certificate on
    another edition cannot go out as 1.1 (else a late translation_failed)."""
    if version != "1.0" and co.hs_edition not in HS_EDITIONS_1_1:
        raise VersionNotLossless(
            f"e-Form AK {version} lists the HS editions {', '.join(HS_EDITIONS_1_1)}; "
            f"this certificate uses {co.hs_edition}",
            box="7",
        )


def negotiate(partner_versions: Collection[str], ours: Collection[str] = STANDARD_VERSIONS) -> str:
    """The highest version both sides speak ("1.0" when they share none but 1.0's default)."""
    common = [v for v in ours if v in partner_versions]
    return common[-1] if common else STANDARD_VERSIONS[0]


def features_1_1(co: FormAK) -> Iterator[Feature]:
    """Every value of ``co`` that only standard 1.1 can carry, in box order."""
    if co.exhibition_details is not None:
        yield Feature("exhibition_details", "2", "exhibition details")
    t = co.transport
    if t.mode is not None:
        yield Feature("transport.mode", "3", "transport mode (UN/ECE Rec 19)")
    if t.route is not None:
        yield Feature("transport.route", "3", "route")
    if t.transit_ports:
        yield Feature("transport.transit_ports", "3", "transit ports")
    if t.document_no is not None or t.document_date is not None:
        yield Feature("transport.document", "3", "transport document number and date")
    for item in co.items:
        n = item.item_no
        if len(item.description) > DESCRIPTION_MAX_1_0:
            yield Feature(
                "items.description", "7", f"item {n}: description over {DESCRIPTION_MAX_1_0} chars"
            )
        if item.national_tariff_code is not None:
            yield Feature("items.national_tariff_code", "7", f"item {n}: national tariff code")
        if item.gross_weight is None:
            yield Feature("items.gross_weight", "9", f"item {n}: other quantity without weight")
        if any(inv.issuer is not None for inv in item.invoices):
            yield Feature("items.invoices.issuer", "10", f"item {n}: invoice issuer")
    if co.certification.issuing_body is not None:
        yield Feature("certification.issuing_body", "12", "issuing body")


def require_carried(co: FormAK, destination: str, carried: Collection[str]) -> None:
    """Raise ``VersionNotLossless`` naming the first 1.1 value ``carried`` does not cover.

    ``carried`` is the set of feature names the destination's format, at the negotiated
    version, can hold (empty for a 1.0 partner).
    """
    _refuse_lost(
        [f for f in features_1_1(co) if f.name not in carried],
        destination,
        "(e-Form AK 1.1 only): refused rather than delivered without it",
    )


def _refuse_lost(lost: list[Feature], destination: str, why: str) -> None:
    """Raise ``VersionNotLossless`` naming the box of the first of ``lost`` (if any)."""
    if lost:
        raise VersionNotLossless(
            f"{destination} cannot carry {', '.join(f.what for f in lost[:5])}"
            f"{' and more' if len(lost) > 5 else ''} {why}",
            box=lost[0].box,
        )


ALL_1_1 = frozenset(
    {
        "transport.mode",
        "transport.route",
        "transport.transit_ports",
        "transport.document",
        "exhibition_details",
        "items.description",
        "items.national_tariff_code",
        "items.gross_weight",
        "items.invoices.issuer",
        "certification.issuing_body",
    }
)


# -- lifecycle messages ---------------------------------------------------------------------


def message_features_1_1(msg: LifecycleMessage) -> Iterator[Feature]:
    """What only the 1.1 message catalogue can say in ``msg``: a message type 1.1 adds, the
    CO's issuing body, the state REVOKED, a coded refusal reason (Box 4), attachments."""
    if type(msg) in LIFECYCLE_TYPES_11:
        yield Feature("message", "header", f"the {type(msg).__name__} message")
    if msg.issuing_body:
        yield Feature("issuing_body", "header", f"the issuing body {msg.issuing_body}")
    if isinstance(msg, StatusResponse) and msg.state is CertificateState.REVOKED:
        yield Feature("state.revoked", "header", "the state REVOKED")
    if isinstance(msg, (CustomsResponse, Reconsideration)):
        for d in msg.decisions:
            if d.reason_code is not None:
                yield Feature("decisions.reason_code", "4", f"item {d.item_no}: reason code")
    if isinstance(msg, (VerificationReply, VerificationDetermination)) and msg.attachments:
        yield Feature("attachments", "header", f"{len(msg.attachments)} attachment(s)")


def require_message_carried(msg: LifecycleMessage, destination: str, version: str) -> None:
    """Raise ``VersionNotLossless`` naming the box of the first value of ``msg`` that the
    message catalogue of ``version`` cannot carry (for 1.0: every 1.1 feature)."""
    _refuse_lost(
        list(message_features_1_1(msg)) if version == "1.0" else [],
        destination,
        "(e-Form AK messages 1.1 only): refused rather than sent to a partner who cannot read it",
    )


def message_version(msg: LifecycleMessage, destination: str, versions: Collection[str]) -> str:
    """The version ``msg`` travels in to a partner speaking ``versions``: the highest both
    sides speak, so a 1.1 partner gets even a 1.0 message as 1.1.

    A message that version cannot carry is refused, naming the box, rather than delivered
    to a partner who cannot read it (a receipt means deliverable): ``VersionNotLossless``.
    """
    version = negotiate(versions)
    require_message_carried(msg, f"{destination} (e-Form AK {version})", version)
    return version
