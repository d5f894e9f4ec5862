"""Signed receipts: the sender's proof that the bridge had its document, and when.

For a partner with ``sign_receipts = true`` every receipt carries a ``SignedReceipt``
(namespace ``urn:ak-bridge:receipt:1.0``) signed by the bridge exactly as its deliveries are
(enveloped XMLDSig, exclusive C14N, RSA-SHA256 or ECDSA-SHA256, SHA-256 digest, the
certificate in KeyInfo). It names the bridge's message id, the time received and the SHA-256
of the document as received, so the sender can show which bytes the bridge had.

The signed bytes are kept (``Store.keep_receipt``): a resend, on any instance, gets the
original receipt back byte for byte, even after a key rollover.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime

from lxml import etree

from ak_bridge.core.model import Receipt
from ak_bridge.core.settings import PartnerConfig
from ak_bridge.security.signing import Signer
from ak_bridge.service.ports import Store, from_iso
from ak_bridge.service.records import MessageRecord

NS_RECEIPT = "urn:ak-bridge:receipt:1.0"


def receipt_element(record: MessageRecord) -> etree._Element:
    """The receipt of a stored message, before it is signed (only what the store holds)."""
    root = etree.Element(f"{{{NS_RECEIPT}}}SignedReceipt", nsmap={None: NS_RECEIPT})

    def add(name: str, text: str | None) -> None:
        if text is not None:
            etree.SubElement(root, f"{{{NS_RECEIPT}}}{name}").text = text

    add("MessageId", record.id)
    add("Status", _status(record.document_type))
    add("ReceivedAt", from_iso(record.created_at).isoformat())
    add("SenderId", record.sender)
    add("PartnerMessageId", record.partner_message_id)
    add("DocumentType", record.document_type)
    add("MessageFunction", record.function)
    add("IssuingCountry", record.issuing_country)
    add("ReferenceNo", record.reference_no)
    if record.raw is not None:
        add("ContentSha256", hashlib.sha256(bytes(record.raw)).hexdigest())
    return root


class ReceiptSigner:
    """Attaches the kept (or a newly signed and kept) receipt for partners that want one."""

    def __init__(self, store: Store, signer: Signer, clock: Callable[[], datetime]) -> None:
        self.store = store
        self.signer = signer
        self.clock = clock

    def attach(self, receipt: Receipt, partner: PartnerConfig) -> Receipt:
        if not partner.sign_receipts:
            return receipt
        kept = self.store.signed_receipt(receipt.message_id)
        if kept is None:
            record = self.store.message(receipt.message_id)
            if record is None:  # cannot happen: a receipt names a stored message
                raise LookupError(f"no message {receipt.message_id} for its receipt")
            signed = self.signer.sign(receipt_element(record))
            kept = self.store.keep_receipt(receipt.message_id, signed, self.clock())
        return replace(receipt, signed=kept)


def _status(document_type: str) -> str:
    """Form D went to the ASW; ``<agreement>:<type>`` (another FTA) to that FTA's gateway."""
    if document_type == "FORM_D":
        return "forwarded_to_asw"
    return "forwarded_to_gateway" if ":" in document_type else "accepted"
