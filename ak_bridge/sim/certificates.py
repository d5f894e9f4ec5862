"""Realistic, valid sample Form AK certificates for the demo and the end-to-end tests.

Why: a demo and an end-to-end test need a certificate that looks like real trade (Korean
auto parts going south, Indonesian coffee or Vietnamese shrimp going north) and that passes
every format's schema, without anyone hand-writing XML. Everything is derived from the
arguments, so the same call always gives the same certificate (no clock, no randomness).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from ak_bridge.core.model import (
    AKFTA_PARTIES,
    Certification,
    CriterionKind,
    CtcLevel,
    Declaration,
    FormAK,
    GoodsItem,
    Invoice,
    Money,
    OriginCriterion,
    Party,
    Quantity,
    Transport,
)

__all__ = ["sample_form_ak"]


@dataclass(frozen=True)
class _Country:
    exporter: Party
    consignee: Party
    authority_id: str
    authority_name: str
    place: str
    port: str  # UN/LOCODE
    officer: str
    signatory: str
    goods: tuple[tuple[str, str, str, str, CriterionKind, Decimal | None], ...]
    # (description, hs_code, package type, marks prefix, criterion, rvc %)


_KOREA = _Country(
    exporter=Party(
        "Hanbit Auto Parts Co., Ltd.", "55 Gongdan-ro, Changwon-si, Gyeongsangnam-do", "KR"
    ),
    consignee=Party("Hanbit Korea Importer Co., Ltd.", "12 Teheran-ro, Gangnam-gu, Seoul", "KR"),
    authority_id="KCS-BUSAN",
    authority_name="Korea Customs Service, Busan Main Customs",
    place="Busan",
    port="KRPUS",
    officer="Park Ji-won",
    signatory="Kim Min-jun",
    goods=(
        (
            "Brake pads for passenger cars, brand HANBIT",
            "870830",
            "CT",
            "HB-BP",
            CriterionKind.CTH_RVC,
            Decimal("40"),
        ),
        (
            "Radiators for motor vehicles, aluminium",
            "870891",
            "PK",
            "HB-RD",
            CriterionKind.RVC,
            Decimal("45"),
        ),
        ("Gear boxes, 6-speed manual", "870840", "CS", "HB-GB", CriterionKind.CTH, None),
    ),
)

_INDONESIA = _Country(
    exporter=Party(
        "PT Kopi Nusantara Sejahtera", "Jl. Raya Bandung No. 17, Bandung, Jawa Barat", "ID"
    ),
    consignee=Party("PT Nusantara Trading Indonesia", "Jl. Sudirman Kav. 52, Jakarta", "ID"),
    authority_id="IPSKA-JKT01",
    authority_name="Ministry of Trade of the Republic of Indonesia (IPSKA Jakarta)",
    place="Jakarta",
    port="IDTPP",
    officer="Siti Rahmawati",
    signatory="Budi Santoso",
    goods=(
        (
            "Arabica coffee, not roasted, not decaffeinated (Gayo)",
            "090111",
            "BG",
            "KNS-ARB",
            CriterionKind.WO,
            None,
        ),
        ("Roasted coffee beans, Java Preanger", "090121", "BG", "KNS-RST", CriterionKind.CTH, None),
        ("Instant coffee extract", "210111", "CT", "KNS-INS", CriterionKind.CTH_RVC, Decimal("40")),
    ),
)

_VIETNAM = _Country(
    exporter=Party(
        "Mekong Seafood Joint Stock Company", "Lot 12, Tra Noc Industrial Zone, Can Tho", "VN"
    ),
    consignee=Party(
        "Mekong Seafood Trading Co., Ltd.", "45 Le Duan, District 1, Ho Chi Minh City", "VN"
    ),
    authority_id="VN-MOIT-HCM",
    authority_name="Ministry of Industry and Trade, Regional Import-Export Management Office HCMC",
    place="Ho Chi Minh City",
    port="VNSGN",
    officer="Nguyen Thi Lan",
    signatory="Tran Van Hung",
    goods=(
        (
            "Frozen whiteleg shrimp, peeled and deveined",
            "030617",
            "CT",
            "MSC-SHR",
            CriterionKind.WO_AK,
            None,
        ),
        ("Frozen pangasius fillets", "030462", "CT", "MSC-PAN", CriterionKind.WO, None),
        (
            "Breaded shrimp, prepared",
            "160521",
            "CT",
            "MSC-BRD",
            CriterionKind.CTC_RVC,
            Decimal("40"),
        ),
    ),
)

_GENERIC_PORTS = {
    "BN": "BNMUA", "KH": "KHPNH", "ID": "IDTPP", "KR": "KRPUS", "LA": "LAVTE", "MY": "MYPKG",
    "MM": "MMRGN", "PH": "PHMNL", "SG": "SGSIN", "TH": "THLCH", "VN": "VNHPH",
}  # fmt: skip


def _profile(country: str) -> _Country:
    if country == "KR":
        return _KOREA
    if country == "ID":
        return _INDONESIA
    if country == "VN":
        return _VIETNAM
    # Any other Party: ship Indonesian-style coffee under that Party's own authority.
    base = _INDONESIA
    return _Country(
        exporter=Party(
            f"{country} Agro Export Co.", f"Export Processing Zone 1, {country}", country
        ),
        consignee=Party(f"{country} Agro Trading Co.", f"Trade Centre 2, {country}", country),
        authority_id=f"{country}-CO-01",
        authority_name=f"Issuing Authority of {country} for AKFTA",
        place=f"{country} Capital",
        port=_GENERIC_PORTS[country],
        officer="Authorised Officer",
        signatory="Export Manager",
        goods=base.goods,
    )


def _consignee_in(importing: str) -> Party:
    return _profile(importing).consignee


def sample_form_ak(
    reference_no: str,
    issuing_country: str,
    importing_country: str,
    issue_date: date,
    *,
    items: int = 2,
) -> FormAK:
    """A valid Form AK from ``issuing_country`` to ``importing_country`` with ``items`` lines.

    RVC lines carry an FOB value (Box 9 is required iff RVC), every line has one or two
    invoices dated a few days before issue, and the vessel leaves on the issue date.
    """
    for code in (issuing_country, importing_country):
        if code not in AKFTA_PARTIES:
            raise ValueError(f"{code!r} is not an AKFTA Party")
    if issuing_country == importing_country:
        raise ValueError("the importing Party must differ from the issuing Party")
    if not 1 <= items <= 999:
        raise ValueError("items must be between 1 and 999")
    src = _profile(issuing_country)
    dst_port = _profile(importing_country).port
    goods: list[GoodsItem] = []
    for n in range(1, items + 1):
        desc, hs, pkg, marks, kind, rvc = src.goods[(n - 1) % len(src.goods)]
        count = 20 * n + 4
        weight = Decimal(count) * Decimal("12.5")
        fob = Money(Decimal(count) * Decimal("185.40"), "USD") if kind.involves_rvc else None
        invoices = (Invoice(f"INV-{reference_no[-6:]}-{n:02d}", issue_date - timedelta(days=3)),)
        if n % 2 == 0:
            invoices += (
                Invoice(f"INV-{reference_no[-6:]}-{n:02d}A", issue_date - timedelta(days=2)),
            )
        goods.append(
            GoodsItem(
                item_no=n,
                marks=f"{marks}/{reference_no[-4:]}/{n:03d}",
                package_count=count,
                package_type=pkg,
                description=desc,
                hs_code=hs,
                origin=OriginCriterion(
                    kind=kind,
                    rvc_percent=rvc,
                    ctc_level=CtcLevel.CTSH if kind is CriterionKind.CTC_RVC else None,
                ),
                gross_weight=Quantity(weight, "KGM"),
                quantity=Quantity(Decimal(count * 10), "NAR") if n % 2 else None,
                fob=fob,
                invoices=invoices,
            )
        )
    return FormAK(
        reference_no=reference_no,
        issuing_country=issuing_country,
        exporter=src.exporter,
        consignee=_consignee_in(importing_country),
        transport=Transport(
            departure_date=issue_date,
            vessel=f"MV {src.place.upper().split()[0]} STAR V.{issue_date:%y%m}",
            port_of_loading=src.port,
            port_of_discharge=dst_port,
        ),
        items=tuple(goods),
        declaration=Declaration(
            producing_country=issuing_country,
            importing_country=importing_country,
            place=src.place,
            date=issue_date,
            signatory_name=src.signatory,
            signatory_title="Export Manager",
        ),
        certification=Certification(
            authority_id=src.authority_id,
            authority_name=src.authority_name,
            place=src.place,
            issue_date=issue_date,
            officer_name=src.officer,
            seal_id=f"SEAL-{src.authority_id}",
        ),
        remarks=None,
    )
