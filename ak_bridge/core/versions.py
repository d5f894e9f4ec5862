"""e-Form AK versions: which version a partner gets, and what only 1.1 can carry.

Why: 1.0 and 1.1 live side by side (issue 11). A partner names the versions it speaks
(``standard_versions``); the bridge sends the highest one both sides speak, and refuses at
intake, naming the Form AK box, a certificate that uses a field the destination's version or
national format cannot carry, instead of dropping it on the way. Each wire format says which
of the 1.1 features it carries; this module says which ones a certificate uses.

Pure: no I/O, no clock.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from ak_bridge.core.errors import ConfigError, VersionNotLossless
from ak_bridge.core.model import FormAK

__all__ = [
    "FEATURES_1_1",
    "SUPPORTED",
    "Feature",
    "features_used",
    "negotiate",
    "require_carried",
]

SUPPORTED: tuple[str, ...] = ("1.0", "1.1")  # oldest first
DEFAULT_VERSIONS: tuple[str, ...] = ("1.0",)
DESCRIPTION_MAX_1_0 = 512
HS_EDITIONS_1_1: tuple[str, ...] = ("HS2007", "HS2012", "HS2017", "HS2022")  # eformak-1.1.xsd


@dataclass(frozen=True)
class Feature:
    """Something only e-Form AK 1.1 can say; ``paths`` are its canonical leaves (a national
    mapping carries the feature when it maps all of them; empty: the canonical schema alone
    decides, so every mapping carries it)."""

    name: str
    box: str
    label: str
    paths: tuple[str, ...] = ()


FEATURES_1_1: tuple[Feature, ...] = (
    Feature("gross_weight_absent", "9", "an item without gross weight (other quantity only)"),
    Feature("long_description", "7", f"a description over {DESCRIPTION_MAX_1_0} characters"),
    Feature(
        "invoice_issuer",
        "10",
        "the invoice issuer",
        ("items.invoices.issuer_name", "items.invoices.issuer_country"),
    ),
    Feature(
        "exhibition_details",
        "2",
        "the exhibition details",
        ("exhibition_details.name", "exhibition_details.address", "exhibition_details.country"),
    ),
    Feature(
        "national_tariff_code",
        "7",
        "the national tariff code",
        ("items.national_tariff_code",),
    ),
    Feature("issuing_body", "12", "the issuing body", ("issuing_body",)),
    Feature("transport_mode", "3", "the transport mode", ("transport.mode",)),
    Feature(
        "port_locodes",
        "3",
        "UN/LOCODE ports",
        ("transport.loading_locode", "transport.discharge_locode"),
    ),
    Feature(
        "transport_route",
        "3",
        "the route and transit ports",
        ("transport.route", "transport.transit_locodes"),
    ),
    Feature(
        "transport_document",
        "3",
        "the transport document",
        ("transport.document_no", "transport.document_date"),
    ),
)
ALL_1_1: frozenset[str] = frozenset(f.name for f in FEATURES_1_1)


def features_used(co: FormAK) -> list[Feature]:
    """The 1.1 features this certificate uses, in box order of ``FEATURES_1_1``."""
    t = co.transport
    invoices = [inv for item in co.items for inv in item.invoices]
    used = {
        "gross_weight_absent": any(i.gross_weight is None for i in co.items),
        "long_description": any(len(i.description) > DESCRIPTION_MAX_1_0 for i in co.items),
        "invoice_issuer": any(i.issuer_name or i.issuer_country for i in invoices),
        "exhibition_details": co.exhibition_details is not None,
        "national_tariff_code": any(i.national_tariff_code for i in co.items),
        "issuing_body": co.issuing_body is not None,
        "transport_mode": t.mode is not None,
        "port_locodes": t.loading_locode is not None or t.discharge_locode is not None,
        "transport_route": t.route is not None or bool(t.transit_locodes),
        "transport_document": t.document_no is not None or t.document_date is not None,
    }
    return [f for f in FEATURES_1_1 if used[f.name]]


def carried_by_mapping(mapped_paths: Iterable[str]) -> frozenset[str]:
    """The features a national mapping carries: those whose canonical leaves it all maps."""
    paths = set(mapped_paths)
    return frozenset(f.name for f in FEATURES_1_1 if all(p in paths for p in f.paths))


def require_carried(co: FormAK, carried: frozenset[str], target: str) -> None:
    """Raise ``VersionNotLossless`` (box of the first feature) if ``target`` cannot carry
    every 1.1 feature ``co`` uses; the message lists them all."""
    missing = sorted(
        (f for f in features_used(co) if f.name not in carried), key=lambda f: int(f.box)
    )
    if missing:
        what = "; ".join(f"Box {f.box}: {f.label}" for f in missing)
        raise VersionNotLossless(
            f"{target} cannot carry what this certificate uses ({what}); "
            "send it to a partner that speaks e-Form AK 1.1, or leave these out",
            box=missing[0].box,
        )


def require_edition(co: FormAK, version: str) -> None:
    """1.1 lists the HS editions (1.0 took any ``HS`` + 4 digits): a 1.0 certificate on
    another edition cannot be sent as 1.1."""
    if version != "1.0" and co.hs_edition not in HS_EDITIONS_1_1:
        raise VersionNotLossless(
            f"e-Form AK {version} lists the HS editions {', '.join(HS_EDITIONS_1_1)}; "
            f"this certificate uses {co.hs_edition}",
            box="7",
        )


def negotiate(theirs: Iterable[str]) -> str:
    """The highest version both the bridge and the partner speak."""
    common = [v for v in SUPPORTED if v in set(theirs)]
    if not common:  # the config check refuses this first; defensive
        raise ValueError(f"no common e-Form AK version with {sorted(theirs)}")
    return common[-1]


def check_versions(versions: Iterable[str], source: str, key: str) -> tuple[str, ...]:
    """A partner's ``standard_versions`` as configured: known versions, at least one."""
    values = tuple(versions)
    if not values:
        raise ConfigError(source, key, "must name at least one version")
    unknown = [v for v in values if v not in SUPPORTED]
    if unknown:
        raise ConfigError(source, key, f"unknown version(s) {unknown}; known: {list(SUPPORTED)}")
    return values
