"""Hypothesis strategies for valid canonical Form AK values.

Why here: every wire format must carry every valid certificate, so the round-trip properties
need a generator of *all* valid shapes (optional boxes present or not, several items and
invoices, odd but legal text), not one sample. "Valid" means what the canonical schema and
the XSDs accept: texts are non-empty, printable (letters, marks, numbers, punctuation,
symbols, spaces: no control characters or surrogates, which XML 1.0 cannot carry) and have
no leading or trailing whitespace; codes follow their code-list shapes.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal
from typing import TypeVar

from hypothesis import strategies as st

from ak_bridge.core.model import (
    AKFTA_PARTIES,
    Certification,
    CriterionKind,
    CtcLevel,
    Declaration,
    Exhibition,
    FormAK,
    GoodsItem,
    Invoice,
    InvoiceIssuer,
    Money,
    OriginalCertificate,
    OriginCriterion,
    Party,
    Quantity,
    Transport,
)

T = TypeVar("T")

_ALPHABET = st.characters(codec="utf-8", categories=("L", "M", "N", "P", "S", "Zs"))


def texts(max_size: int = 30) -> st.SearchStrategy[str]:
    """Non-empty printable text without surrounding whitespace."""
    return st.text(_ALPHABET, min_size=1, max_size=max_size).map(str.strip).filter(bool)


def optional(strategy: st.SearchStrategy[T]) -> st.SearchStrategy[T | None]:
    return st.none() | strategy


def _regex(pattern: str) -> st.SearchStrategy[str]:
    return st.from_regex(pattern, fullmatch=True)


parties = st.sampled_from(sorted(AKFTA_PARTIES))
any_country = _regex(r"[A-Z]{2}")
dates = st.dates(min_value=date(1990, 1, 1), max_value=date(2099, 12, 31))


def amounts(max_value: int = 10**9) -> st.SearchStrategy[Decimal]:
    return st.integers(0, 3).flatmap(
        lambda places: st.decimals(
            min_value=0, max_value=max_value, places=places, allow_nan=False, allow_infinity=False
        )
    )


def party(country: st.SearchStrategy[str] = parties) -> st.SearchStrategy[Party]:
    return st.builds(Party, name=texts(), address=texts(60), country=country)


transports = st.builds(
    Transport,
    departure_date=optional(dates),
    vessel=optional(texts()),
    port_of_loading=optional(texts(12)),
    port_of_discharge=optional(texts(12)),
)

origins = st.builds(
    OriginCriterion,
    kind=st.sampled_from(CriterionKind),
    rvc_percent=optional(
        st.decimals(min_value=0, max_value=100, places=2, allow_nan=False, allow_infinity=False)
    ),
    ctc_level=optional(st.sampled_from(CtcLevel)),
)

quantities = st.builds(Quantity, value=amounts(), unit=_regex(r"[A-Z0-9]{2,3}"))

goods_items = st.builds(
    GoodsItem,
    item_no=st.integers(1, 99_999),
    marks=texts(),
    package_count=st.integers(0, 99_999),
    package_type=_regex(r"[A-Z0-9]{2}"),
    description=texts(60),
    hs_code=_regex(r"[0-9]{6,10}"),
    origin=origins,
    gross_weight=quantities,
    quantity=optional(quantities),
    fob=optional(st.builds(Money, amount=amounts(), currency=_regex(r"[A-Z]{3}"))),
    invoices=st.lists(st.builds(Invoice, number=texts(20), date=dates), max_size=2).map(tuple),
)

declarations = st.builds(
    Declaration,
    producing_country=parties,
    importing_country=parties,
    place=texts(),
    date=dates,
    signatory_name=texts(),
    signatory_title=optional(texts()),
)

certifications = st.builds(
    Certification,
    authority_id=texts(20),
    authority_name=texts(),
    place=texts(),
    issue_date=dates,
    officer_name=texts(),
    seal_id=optional(texts(20)),
    signed_electronically=st.booleans(),
)

form_aks: st.SearchStrategy[FormAK] = st.builds(
    FormAK,
    reference_no=texts(20),
    issuing_country=parties,
    exporter=party(),
    consignee=party(),
    transport=transports,
    items=st.lists(goods_items, min_size=1, max_size=3).map(tuple),
    declaration=declarations,
    certification=certifications,
    hs_edition=_regex(r"HS[0-9]{4}"),
    third_country_invoicing=st.booleans(),
    exhibition=st.booleans(),
    back_to_back=st.booleans(),
    issued_retroactively=st.booleans(),
    certified_true_copy=st.booleans(),
    third_country_invoicer=optional(party(any_country)),
    original_certificate=optional(
        st.builds(
            OriginalCertificate,
            reference_no=texts(20),
            issue_date=dates,
            issuing_country=optional(parties),
        )
    ),
    replaces_reference_no=optional(texts(20)),
    original_issue_date=optional(dates),
    remarks=optional(texts(60)),
)


# -- e-Form AK standard 1.1 values (issue 11) ----------------------------------------------

_PORTS = _regex(r"[A-Z]{2}[A-Z2-9]{3}") | texts(12)


@st.composite
def _form_aks_1_1(draw: st.DrawFn) -> FormAK:
    """A valid certificate with any mix of the 1.1 values (each may be absent)."""
    co = draw(form_aks)

    def item(i: GoodsItem) -> GoodsItem:
        weight = draw(optional(quantities))
        long_text = draw(st.integers(513, 2000).map(lambda n: "d" * n))
        return replace(
            i,
            description=draw(st.sampled_from([i.description, long_text])),
            gross_weight=weight,
            quantity=i.quantity if weight is not None else draw(quantities),
            national_tariff_code=draw(optional(_regex(r"[0-9]{6,12}"))),
            invoices=tuple(
                replace(
                    inv,
                    issuer=draw(
                        optional(st.builds(InvoiceIssuer, name=texts(), country=any_country))
                    ),
                )
                for inv in i.invoices
            ),
        )

    transport = replace(
        co.transport,
        mode=draw(optional(_regex(r"[1-8]"))),
        route=draw(optional(texts(60))),
        transit_ports=tuple(draw(st.lists(_PORTS, max_size=3))),
        document_no=draw(optional(texts(20))),
        document_date=draw(optional(dates)),
    )
    exhibition = st.builds(
        Exhibition,
        name=texts(),
        address=texts(60),
        country=any_country,
        start_date=optional(dates),
        end_date=optional(dates),
        buyer=optional(texts()),
    )
    return replace(
        co,
        items=tuple(item(i) for i in co.items),
        transport=transport,
        hs_edition=draw(st.sampled_from(["HS2007", "HS2012", "HS2017", "HS2022"])),
        certification=replace(
            co.certification,
            issuing_body=draw(optional(_regex(r"[A-Z0-9][A-Z0-9-]{0,34}"))),
        ),
        exhibition_details=draw(optional(exhibition)),
    )


form_aks_1_1: st.SearchStrategy[FormAK] = _form_aks_1_1()
