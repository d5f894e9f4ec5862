"""eformak-messages-1.1.xsd (issue 11): the 1.0 messages, the 1.1 header with roles and the
agreement, the business receipt and the utilisation notice; valid and invalid documents."""

from __future__ import annotations

import pytest
from lxml import etree

from ak_bridge.security import xmlio

NS = "urn:ak-bridge:eformak:messages:1.1"
XSD = "akstd/eformak-messages-1.1.xsd"
REF = (
    "<ReferencedCertificate><ID>KR-2026-AK-000001</ID><IssuingCountry>KR</IssuingCountry>"
    "<ImportationCountryCode>VN</ImportationCountryCode></ReferencedCertificate>"
)
HEADER = (
    "<SenderID>VN-CUSTOMS</SenderID><RecipientID>KR</RecipientID>"
    "<DocumentTypeCode>UTILISATION_NOTICE</DocumentTypeCode>"
    "<MessageFunctionCode>9</MessageFunctionCode><MessageID>VN-1</MessageID>"
    "<CreationDateTime>2026-11-29T01:00:00Z</CreationDateTime>{extra}"
)
ROLES = (
    "<SenderRoleCode>import_customs</SenderRoleCode>"
    "<RecipientRoleCode>issuing_authority</RecipientRoleCode><AgreementCode>AKFTA</AgreementCode>"
)


def _header(extra: str) -> str:
    return f"<ExchangeHeader>{HEADER.format(extra=extra)}</ExchangeHeader>"


VALID = {
    "header 1.1": _header(ROLES),
    "header as in 1.0": _header(""),
    "business receipt": f"<BusinessReceipt>{REF}<ReceivedMessageID>AKB-1</ReceivedMessageID>"
    "<StatusCode>registered</StatusCode><RegistrationDate>2026-11-29</RegistrationDate>"
    "</BusinessReceipt>",
    "utilisation notice": f"<UtilisationNotice>{REF}<ImportDeclarationID>VN-IMP-1"
    "</ImportDeclarationID><UtilisationDate>2026-11-29</UtilisationDate>"
    "<GoodsItemUtilisation><SequenceNumeric>1</SequenceNumeric><UsedQuantity>120.5"
    "</UsedQuantity><UnitCode>KGM</UnitCode></GoodsItemUtilisation></UtilisationNotice>",
    "1.0 message in 1.1": f"<StatusQuery>{REF}</StatusQuery>",
}
INVALID = {
    "unknown role": _header("<SenderRoleCode>exporter</SenderRoleCode>"),
    "lower-case agreement": _header("<AgreementCode>akfta</AgreementCode>"),
    "receipt status": f"<BusinessReceipt>{REF}<ReceivedMessageID>AKB-1</ReceivedMessageID>"
    "<StatusCode>maybe</StatusCode><RegistrationDate>2026-11-29</RegistrationDate>"
    "</BusinessReceipt>",
    "utilisation without items": f"<UtilisationNotice>{REF}<ImportDeclarationID>VN-IMP-1"
    "</ImportDeclarationID><UtilisationDate>2026-11-29</UtilisationDate></UtilisationNotice>",
}


def _doc(xml: str) -> etree._Element:
    root = etree.fromstring(xml)
    for el in root.iter():
        el.tag = f"{{{NS}}}{el.tag}"
    return root


@pytest.mark.parametrize("name", VALID)
def test_valid_documents(name: str) -> None:
    assert xmlio.load_schema(XSD).validate(_doc(VALID[name])), name


@pytest.mark.parametrize("name", INVALID)
def test_invalid_documents(name: str) -> None:
    assert not xmlio.load_schema(XSD).validate(_doc(INVALID[name])), name
