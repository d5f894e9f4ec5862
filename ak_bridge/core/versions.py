"""Versions of the e-Form AK certificate standard, and what a version can carry.

Why here: which version a partner is sent, and whether a certificate survives the trip to
that version, are exchange rules (issue 11, "version negotiation"): a certificate that
uses a 1.1 field must never reach a 1.0-only partner with that field silently dropped. The
bridge refuses it at intake, before a receipt exists, naming the Form AK box.

Pure: no I/O, no clock.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from dataclasses import dataclass

from ak_bridge.core.errors import VersionNotLossless
from ak_bridge.core.model import FormAK

__all__ = [
    "DESCRIPTION_MAX_1_0",
    "STANDARD_VERSIONS",
    "Feature",
    "VersionNotLossless",
    "features_1_1",
    "negotiate",
    "require_carried",
]

STANDARD_VERSIONS = ("1.0", "1.1")  # oldest first; the bridge reads and writes both
DESCRIPTION_MAX_1_0 = 512  # Box 7 description in eformak-1.0.xsd (1.1: 2,000)


@dataclass(frozen=True)
class Feature:
    """One use of a standard-1.1 field in a certificate."""

    name: str  # stable, e.g. "transport.mode"
    box: str
    what: str


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
    lost = [f for f in features_1_1(co) if f.name not in carried]
    if lost:
        first = lost[0]
        raise VersionNotLossless(
            f"{destination} cannot carry {', '.join(f.what for f in lost[:5])}"
            f"{' and more' if len(lost) > 5 else ''} (e-Form AK 1.1 only): refused rather "
            "than delivered without it",
            box=first.box,
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
