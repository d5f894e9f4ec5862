"""Where a message goes: pure decisions over the envelope, the document and the partners.

Form D is recognised here, before any translation, and either refused with an error that
names the ASW or handed to the configured ASW partner as the raw bytes received.
"""

from __future__ import annotations

from dataclasses import dataclass

from lxml import etree

from ak_bridge.core.errors import (
    AgreementNotHandled,
    FormDNotAccepted,
    NotAuthorized,
    UnknownPartner,
)
from ak_bridge.core.model import DocumentType, Envelope
from ak_bridge.core.settings import (
    IMPORT_CUSTOMS,
    ISSUING_AUTHORITY,
    Channel,
    PartnerConfig,
    Settings,
)

# The role that speaks for each side of a CO (core.lifecycle's sides).
ROLE_OF_SIDE = {"issuer": ISSUING_AUTHORITY, "importer": IMPORT_CUSTOMS}

# Root element names under which ATIGA e-Form D documents are known to travel.
FORM_D_ROOTS = frozenset(
    {"FormD", "EFormD", "ATIGAFormD", "ATIGA_FormD", "CertificateOfOriginFormD"}
)

FORM_D_MESSAGE = (
    "ATIGA Form D is not exchanged through ak-bridge: send it over the ASEAN Single Window "
    "(ASW) through your national single window gateway. ak-bridge carries Form AK only."
)


def is_form_d(envelope: Envelope, root: etree._Element | None) -> bool:
    """True when the header or the document's root element says Form D."""
    if envelope.document_type is DocumentType.FORM_D:
        return True
    if root is None:
        return False
    qname = etree.QName(root)
    return qname.localname in FORM_D_ROOTS or "atiga" in (qname.namespace or "").lower()


def form_d_destination(settings: Settings) -> PartnerConfig:
    """The ASW partner a Form D is passed to, or the refusal that points to the ASW."""
    if settings.asw_partner:
        asw = settings.partners[settings.asw_partner]
        if asw.enabled:
            return asw
    raise FormDNotAccepted(FORM_D_MESSAGE, box="header")


AKFTA = "AKFTA"


def agreement_of(envelope: Envelope) -> str:
    """The FTA a message is under: a 1.0 header names none, and means AKFTA."""
    return (envelope.agreement or AKFTA).strip().upper()


def agreement_destination(settings: Settings, agreement: str) -> PartnerConfig:
    """The gateway configured for another agreement, or the refusal that names it."""
    for partner in settings.partners.values():
        if partner.enabled and agreement in partner.gateway_for_agreements:
            return partner
    raise AgreementNotHandled(
        f"ak-bridge processes {AKFTA} only; no gateway is configured for {agreement}: "
        f"send {agreement} certificates over that agreement's own channel",
        box="header",
    )


def sender_partner(settings: Settings, envelope: Envelope) -> PartnerConfig:
    partner = settings.partner(envelope.sender)
    if partner is None or not partner.enabled or partner.channel is Channel.ASW:
        raise UnknownPartner(
            f"sender {envelope.sender!r} is not a configured partner", box="header"
        )
    return partner


@dataclass(frozen=True)
class Route:
    destination: PartnerConfig


def partner_in_role(settings: Settings, country: str, role: str) -> PartnerConfig | None:
    """The enabled partner of ``country`` that acts as ``role`` (the ASW is never one)."""
    for p in settings.partners.values():
        if p.country == country and p.channel is not Channel.ASW and p.enabled and role in p.roles:
            return p
    return None


def route_certificate(settings: Settings, importing_country: str) -> Route:
    """A Form AK goes to the import customs partner of its importing country (Box 11)."""
    partner = partner_in_role(settings, importing_country, IMPORT_CUSTOMS)
    if partner is None:
        raise UnknownPartner(
            f"no {IMPORT_CUSTOMS} partner is configured for importing country "
            f"{importing_country!r}",
            box="11",
        )
    return Route(partner)


def route_country(settings: Settings, country: str, role: str) -> PartnerConfig:
    """A message about a CO goes to the partner in ``role`` on the other side: customs
    responses, verification requests and utilisation notices to the issuing authority,
    the issuing authority's answers to import customs."""
    partner = partner_in_role(settings, country, role)
    if partner is None:
        raise UnknownPartner(f"no {role} partner is configured for {country!r}", box="header")
    return partner


def require_role(partner: PartnerConfig, role: str, what: str) -> None:
    """A partner may only send what its role allows."""
    if role not in partner.roles:
        raise NotAuthorized(
            f"{partner.id} is configured as {', '.join(partner.roles)}: only an {role} "
            f"may send {what}",
            box="header",
        )


def sender_of(settings: Settings, partner_id: str) -> PartnerConfig:
    """An acknowledgement goes back to the partner that sent the acknowledged message."""
    partner = settings.partner(partner_id)
    if partner is None or not partner.enabled:
        raise UnknownPartner(f"partner {partner_id!r} is no longer configured", box="header")
    return partner
