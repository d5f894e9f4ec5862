"""Guide section 3.1: check a signed receipt from the bridge (no ak_bridge code).

The receipt is base64 of XML in ``urn:ak-bridge:receipt:1.0``, enveloped-signed by the bridge
as in 2.1. The sender verifies it with xmlsec1 against the bridge's certificate and checks that
it names the message and the SHA-256 of the document it sent; then keeps the bytes as proof.
"""

from __future__ import annotations

import base64
from pathlib import Path

from integrator.client import verify_xml
from lxml import etree

RECEIPT = "urn:ak-bridge:receipt:1.0"


def check_receipt(answer: dict[str, str], bridge_cert: Path, partner_id: str) -> list[str]:
    """What is wrong with the signed receipt in a submit's answer (empty: it proves receipt)."""
    if not answer.get("signed_receipt"):
        return ["no signed receipt"]
    signed = base64.b64decode(answer["signed_receipt"], validate=True)
    problems = [] if verify_xml(signed, bridge_cert) else ["signature does not verify"]
    root = etree.fromstring(signed)

    def text(name: str) -> str | None:
        return root.findtext(f"{{{RECEIPT}}}{name}")

    if root.tag != f"{{{RECEIPT}}}SignedReceipt":
        problems.append(f"root is {root.tag}")
    if text("MessageId") != answer["message_id"]:
        problems.append("another message id")
    if text("ReceivedAt") != answer["received_at"]:
        problems.append("another time")
    if text("SenderId") != partner_id:
        problems.append("another sender")
    if text("Status") not in ("accepted", "forwarded_to_asw"):
        problems.append(f"status {text('Status')}")
    if answer.get("sent_sha256") and text("ContentSha256") != answer["sent_sha256"]:
        problems.append("names another document")
    return problems
