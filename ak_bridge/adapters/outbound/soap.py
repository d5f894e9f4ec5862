"""zeep sender: one client per partner per process, both timeouts always set.

The WSDL is read from ``wsdl/`` (never fetched), the service is bound to the partner's
configured endpoint, and zeep's outcomes are mapped onto the delivery error tree:
connect errors, timeouts and server faults are retried; client faults (a business
rejection by the partner) are not.
"""

from __future__ import annotations

import threading

import requests
import zeep
from zeep.exceptions import Fault, TransportError, XMLParseError, XMLSyntaxError
from zeep.transports import Transport

from ak_bridge.adapters.outbound.credentials import partner_session
from ak_bridge.adapters.outbound.http import class_of_refusal, from_exception, from_status
from ak_bridge.core.errors import FailureClass, PartnerRejected, PartnerUnreachable
from ak_bridge.core.settings import PartnerConfig, Settings
from ak_bridge.service.delivery import Outbound, Sent
from ak_bridge.standard.contracts import CONTRACTS, SoapContract


def contract_for(partner: PartnerConfig) -> SoapContract:
    assert partner.wsdl is not None
    for contract in CONTRACTS.values():
        if partner.wsdl.name == contract.wsdl.rsplit("/", 1)[-1]:
            return contract
    raise ValueError(f"{partner.id}: no SOAP contract for WSDL {partner.wsdl}")


class SoapSender:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._clients: dict[str, tuple[SoapContract, object]] = {}
        self._lock = threading.Lock()

    def _service(self, partner: PartnerConfig) -> tuple[SoapContract, object]:
        with self._lock:
            if partner.id not in self._clients:
                contract = contract_for(partner)
                session = partner_session(partner)
                transport = Transport(
                    session=session, timeout=10, operation_timeout=partner.timeout_seconds
                )
                client = zeep.Client(
                    str(partner.wsdl),
                    transport=transport,
                    settings=zeep.Settings(
                        strict=True, forbid_dtd=True, forbid_entities=True, forbid_external=True
                    ),
                )
                binding = partner.binding or contract.binding_qname
                service = client.create_service(binding, partner.endpoint)
                self._clients[partner.id] = (contract, service)
            return self._clients[partner.id]

    def send(self, partner: PartnerConfig, message: Outbound) -> Sent:
        contract, service = self._service(partner)
        env = message.envelope
        header = contract.header_values(env)
        operation = getattr(service, contract.submit)
        try:
            reply = operation(**{contract.header: header, contract.document: message.payload})
        except requests.RequestException as exc:
            raise from_exception(exc) from None
        except Fault as fault:
            code = _fault_code(fault, contract)
            if fault.code is None:  # zeep read an error page, not a SOAP fault
                raise PartnerUnreachable(
                    f"error reply that is not a SOAP fault: {fault.message}",
                    failure_class=FailureClass.SERVER,
                    status=500,
                ) from None
            if (fault.code or "").endswith("Server"):
                raise PartnerUnreachable(
                    f"SOAP server fault: {fault.message}",
                    failure_class=FailureClass.SERVER,
                    status=500,
                    code=code,
                ) from None
            raise PartnerRejected(
                f"SOAP fault {code or fault.code}: {fault.message}",
                failure_class=class_of_refusal(code, FailureClass.FAULT),
                status=500,
                code=code,
            ) from None
        except TransportError as exc:
            content = exc.content or b""
            text = content.decode("utf-8", "replace") if isinstance(content, bytes) else content
            if 200 <= exc.status_code < 300:  # an answer zeep could not read as SOAP
                raise PartnerUnreachable(
                    f"malformed SOAP reply: {' '.join(text.split())[:200]}",
                    failure_class=FailureClass.SCHEMA,
                    status=exc.status_code,
                ) from None
            raise from_status(exc.status_code, text) from None
        except (XMLSyntaxError, XMLParseError) as exc:
            raise PartnerUnreachable(
                f"malformed SOAP reply: {exc}", failure_class=FailureClass.SCHEMA
            ) from None
        status = getattr(reply, contract.f("status"), None)
        if status not in ("accepted", "duplicate"):
            raise PartnerRejected(
                f"partner answered status {status!r}", failure_class=FailureClass.BUSINESS
            )
        return Sent(200, status)


def _fault_code(fault: Fault, contract: SoapContract) -> str | None:
    if fault.detail is None or isinstance(fault.detail, str | bytes):
        return None
    el = fault.detail.find(f".//{contract.q(contract.f('code'))}")
    return el.text if el is not None else None
