"""The one error tree of ak-bridge; its codes are what partners see.

    AkBridgeError                      catch only at process edges
    ├── ConfigError                    bad config/ or environment, raised at start-up
    ├── Rejected                       an inbound message was refused (audited; 4xx or SOAP fault)
    │   ├── Unauthenticated            no or wrong credentials: a bare 401, nothing leaked
    │   ├── PayloadTooLarge            body over the configured limit (413)
    │   ├── MalformedXml               not well-formed XML, wrong encoding, not XML at all
    │   ├── ForbiddenXml               DOCTYPE, entities, processing tricks: hostile XML
    │   ├── BadEnvelope                not a SOAP 1.1 envelope, no/double Body, unknown operation
    │   ├── VersionMismatch            a SOAP envelope of another version (SOAP 1.2)
    │   ├── MustUnderstand             a mustUnderstand="1" header block we do not process
    │   ├── UnknownEndpoint            no such path (404)
    │   ├── MethodNotAllowed           the path exists, the method does not (405 + Allow)
    │   ├── SchemaViolation            XSD or JSON-schema failure; box taken from the path
    │   ├── ValidationFailed           business rules; carries every Finding at once
    │   ├── SignatureInvalid           missing, wrong, untrusted or tampered signature
    │   │   └── SignatureUnsupported   a signature shape we refuse (SHA-1, HMAC, XPath, ...)
    │   ├── UnknownPartner             sender or receiver not configured
    │   ├── NotAuthorized              partner may not do this
    │   ├── DuplicateConflict          same business key, other content
    │   ├── CertificateStateConflict   the CO's state does not allow this message
    │   ├── FormDNotAccepted           ATIGA Form D belongs on the ASW
    │   ├── AgreementNotHandled        the header names another FTA (IK-CEPA, VKFTA, ...)
    │   ├── TranslationFailed          a box cannot be carried in the target format
    │   ├── VersionNotLossless         a 1.1 value the destination's version cannot carry
    │   └── NotFound                   a queried certificate or message is unknown
    ├── InternalError                  our own failure: answered without detail, audited
    └── DeliveryFailed                 outbound; ``retryable`` decides retry versus dead letter
        ├── PartnerUnreachable         connect error, timeout, TLS, 5xx: retried
        └── PartnerRejected            SOAP fault, 4xx, malformed reply: not retried

Every ``Rejected`` has a stable ``code`` and the Form AK ``box`` it concerns (None when the
error is about the message, not a box). The same object becomes the SOAP fault detail,
the JSON error body and the audit row, so the three can never disagree.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

MESSAGE_MAX = 300  # an answer never echoes more of a caller's input than this
PARTNER_TEXT_MAX = 500  # a partner's fault text kept on an attempt or a dead letter
FINDINGS_MAX = 100  # findings listed in one answer; the count says how many there were


def clip(text: str, limit: int = MESSAGE_MAX) -> str:
    """``text`` cut to ``limit`` characters, marked when cut.

    Messages quote what the caller sent (a reference number, an unknown key): a 500 kB
    field must not come back twice in a 1 MB answer, nor fill an audit row.
    """
    return text if len(text) <= limit else f"{text[: limit - 24]}… [{len(text)} chars]"


class AkBridgeError(Exception):
    """Base of every error ak-bridge raises on purpose."""


class ConfigError(AkBridgeError):
    """Configuration is wrong; the message names the file and the key."""

    def __init__(self, source: str, key: str, problem: str) -> None:
        self.source, self.key, self.problem = source, key, problem
        super().__init__(f"{source}: {key}: {problem}")


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True)
class Finding:
    """One problem with a document: a stable code, the box it concerns, and why."""

    code: str
    box: str | None
    message: str
    severity: Severity = Severity.ERROR

    def as_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "box": self.box,
            "message": self.message,
            "severity": str(self.severity),
        }

    def bounded(self) -> Finding:
        """The finding as it may go on the wire: its message clipped."""
        return Finding(self.code, self.box, clip(self.message), self.severity)


class Rejected(AkBridgeError, ValueError):
    """An inbound message was refused. Subclasses fix ``code`` and the HTTP status."""

    code = "rejected"
    http_status = 400
    soap_faultcode = "Client"

    def __init__(
        self,
        detail: str,
        *,
        box: str | None = None,
        findings: tuple[Finding, ...] = (),
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.box = box
        self.findings = findings or (Finding(self.code, box, detail),)
        self.audited = False  # set once the rejection is in the audit trail

    def bounded_findings(self) -> tuple[Finding, ...]:
        """The first :data:`FINDINGS_MAX` findings, each clipped: what an answer carries."""
        return tuple(f.bounded() for f in self.findings[:FINDINGS_MAX])

    def as_dict(self) -> dict[str, Any]:
        """The JSON error body: every text bounded, whatever the caller sent."""
        return {
            "code": self.code,
            "box": self.box,
            "message": clip(self.detail),
            "findings": [f.as_dict() for f in self.bounded_findings()],
        }


class Unauthenticated(Rejected):
    code = "unauthenticated"
    http_status = 401


class PayloadTooLarge(Rejected):
    code = "payload_too_large"
    http_status = 413


class MalformedXml(Rejected):
    code = "malformed_xml"


class ForbiddenXml(Rejected):
    code = "forbidden_xml"


class BadEnvelope(Rejected):
    code = "bad_envelope"


class VersionMismatch(Rejected):
    """SOAP 1.1 section 4.4.1: the envelope's namespace is not SOAP 1.1's."""

    code = "version_mismatch"
    soap_faultcode = "VersionMismatch"


class MustUnderstand(Rejected):
    """SOAP 1.1 section 4.2.3: a header block we must process but do not (WS-Security...).

    Silently ignoring it would let a partner believe the header is enforced.
    """

    code = "must_understand"
    soap_faultcode = "MustUnderstand"


class UnknownEndpoint(Rejected):
    code = "unknown_endpoint"
    http_status = 404


class MethodNotAllowed(Rejected):
    code = "method_not_allowed"
    http_status = 405

    def __init__(self, detail: str, *, allowed: tuple[str, ...] = (), **kwargs: Any) -> None:
        super().__init__(detail, **kwargs)
        self.allowed = allowed  # for the Allow header (RFC 9110 section 15.5.6)


class SchemaViolation(Rejected):
    code = "schema_violation"


class ValidationFailed(Rejected):
    code = "validation_failed"
    http_status = 422

    def __init__(self, findings: tuple[Finding, ...]) -> None:
        errors = [f for f in findings if f.severity is Severity.ERROR]
        first = errors[0] if errors else findings[0]
        summary = "; ".join(f"{f.code} (box {f.box}): {f.message}" for f in errors)
        super().__init__(summary or first.message, box=first.box, findings=findings)


class SignatureInvalid(Rejected):
    code = "signature_invalid"
    http_status = 403


class SignatureUnsupported(SignatureInvalid):
    """The signature's shape is refused by policy, whatever the key: says which part, so a
    partner changes its toolkit settings instead of looking at its keys."""

    code = "signature_unsupported"


class UnknownPartner(Rejected):
    code = "unknown_partner"
    http_status = 403


class NotAuthorized(Rejected):
    code = "not_authorized"
    http_status = 403


class DuplicateConflict(Rejected):
    code = "duplicate_conflict"
    http_status = 409


class CertificateStateConflict(Rejected):
    code = "certificate_state_conflict"
    http_status = 409


class PreferenceGranted(CertificateStateConflict):
    """Replace or cancel of a CO whose preference was granted: it can only be revoked."""

    code = "certificate_preference_granted"


class FormDNotAccepted(Rejected):
    code = "form_d_not_accepted"
    http_status = 422


class AgreementNotHandled(Rejected):
    """The header names an agreement other than AKFTA and no gateway is configured for it.

    Indonesia's channel also carries IK-CEPA certificates and Viet Nam's VKFTA ones; the
    bridge processes AKFTA only, so the detail names the agreement received.
    """

    code = "agreement_not_handled"
    http_status = 422


class TranslationFailed(Rejected):
    code = "translation_failed"
    http_status = 422


class VersionNotLossless(Rejected):
    """The destination speaks a standard version (or a format) that cannot carry a value
    this certificate has: refused at intake rather than delivered with the value dropped."""

    code = "version_not_lossless"
    http_status = 422


class NotFound(Rejected):
    code = "not_found"
    http_status = 404


class InternalError(AkBridgeError):
    """An unexpected failure while handling a request: ours, never the partner's.

    Not a ``Rejected``: the caller did nothing wrong. It is answered with this code and no
    detail (no exception text, no path), and audited like a refusal so that it is seen.
    """

    code = "internal_error"
    http_status = 500
    soap_faultcode = "Server"
    box = None
    findings: tuple[Finding, ...] = ()
    detail = "internal error; the message was not stored"

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "box": None, "message": self.detail, "findings": []}

    def bounded_findings(self) -> tuple[Finding, ...]:
        return ()


class FailureClass(StrEnum):
    """Why a delivery attempt failed; kept on the dead letter for the admin.

    Retried (with backoff, counted by the partner's breaker): transport, timeout, tls (the
    partner's server certificate failed our CA bundle or pin, or the handshake failed: an
    operator fixes the trust, the queue waits), auth (the partner answered 401/403 to our
    credentials), server. Not retried: fault, schema, signature, business.
    """

    TRANSPORT = "transport"
    TIMEOUT = "timeout"
    TLS = "tls"
    AUTH = "auth"
    SERVER = "server"
    FAULT = "fault"
    SCHEMA = "schema"
    SIGNATURE = "signature"
    BUSINESS = "business"


class DeliveryFailed(AkBridgeError):
    """An outbound attempt failed."""

    retryable = False

    def __init__(
        self,
        detail: str,
        *,
        failure_class: FailureClass,
        status: int | None = None,
        code: str | None = None,
    ) -> None:
        detail = clip(detail, PARTNER_TEXT_MAX)  # a partner's fault text can be any length
        super().__init__(detail)
        self.detail = detail
        self.failure_class = failure_class
        self.status = status
        self.code = clip(code, 64) if code is not None else None


class PartnerUnreachable(DeliveryFailed):
    retryable = True


class PartnerRejected(DeliveryFailed):
    retryable = False


def rejection_classes() -> list[type[Rejected]]:
    """Every concrete rejection, for the README's error table and its test."""
    out: list[type[Rejected]] = []
    todo: list[type[Rejected]] = [Rejected]
    while todo:
        cls = todo.pop()
        out.append(cls)
        todo.extend(cls.__subclasses__())
    return sorted(out, key=lambda c: c.code)
