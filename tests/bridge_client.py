"""A small raw-HTTP client for the bridge, for the security tests.

Why not zeep: these tests need to send what zeep would never send (another sender id, no
token, a forged header) and to read the typed code of every refusal the same way on SOAP
and REST. One ``Answer`` shape for both keeps the authorization matrix a table.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import openapi_check
import requests
from lxml import etree

from ak_bridge.adapters.web import soap
from ak_bridge.core.model import Envelope
from ak_bridge.standard.contracts import SoapContract, rest_body


@dataclass(frozen=True)
class Answer:
    """What the bridge said: HTTP status, typed error code (None on success), key fields."""

    status: int
    code: str | None
    outcome: str | None  # receipt status (accepted, duplicate, …) or CO state
    content: bytes


def _soap_answer(contract: SoapContract, resp: requests.Response) -> Answer:
    root = etree.fromstring(resp.content)
    code = root.findtext(f".//{contract.q(contract.error_detail)}/{contract.q(contract.f('code'))}")
    outcome = root.findtext(f".//{contract.q(contract.f('status'))}") or root.findtext(
        f".//{contract.q(contract.f('state'))}"
    )
    return Answer(resp.status_code, code, outcome, resp.content)


def _rest_answer(resp: requests.Response) -> Answer:
    openapi_check.check(resp)  # every REST exchange of the suite matches the OpenAPI document
    data = resp.json()
    if "error" in data:
        return Answer(resp.status_code, data["error"]["code"], None, resp.content)
    return Answer(resp.status_code, None, data.get("status") or data.get("state"), resp.content)


def soap_submit(
    base_url: str,
    contract: SoapContract,
    headers: dict[str, str],
    envelope: Envelope,
    document: bytes,
) -> Answer:
    resp = requests.post(
        base_url + contract.path,
        data=soap.submit_request(contract, envelope, document),
        headers={**headers, "Content-Type": soap.CONTENT_TYPE},
        timeout=30,
    )
    return _soap_answer(contract, resp)


def soap_query(
    base_url: str, contract: SoapContract, headers: dict[str, str], country: str, reference: str
) -> Answer:
    op = etree.Element(contract.q(contract.query), nsmap={None: contract.namespace})
    etree.SubElement(op, contract.q(contract.f("issuing_country"))).text = country
    etree.SubElement(op, contract.q(contract.f("reference_no"))).text = reference
    env = etree.Element(f"{{{soap.NS_SOAP11}}}Envelope", nsmap={"soapenv": soap.NS_SOAP11})
    etree.SubElement(env, f"{{{soap.NS_SOAP11}}}Body").append(op)
    resp = requests.post(
        base_url + contract.path,
        data=etree.tostring(env, xml_declaration=True, encoding="UTF-8"),
        headers={**headers, "Content-Type": soap.CONTENT_TYPE},
        timeout=30,
    )
    return _soap_answer(contract, resp)


def rest_json(
    envelope: Envelope,
    document: dict[str, Any] | None = None,
    signature: bytes | None = None,
    document_xml: bytes | None = None,
) -> dict[str, Any]:
    return rest_body(envelope, document, signature, document_xml)


def rest_submit(base_url: str, headers: dict[str, str], body: dict[str, Any]) -> Answer:
    resp = requests.post(
        base_url + "/rest/v1/documents",
        data=json.dumps(body).encode(),
        headers={**headers, "Content-Type": "application/json"},
        timeout=30,
    )
    return _rest_answer(resp)


def rest_status(base_url: str, headers: dict[str, str], country: str, reference: str) -> Answer:
    resp = requests.get(
        f"{base_url}/rest/v1/certificates/{country}/{reference}", headers=headers, timeout=30
    )
    return _rest_answer(resp)
