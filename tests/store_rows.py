"""Records as the services build them, for the store tests and their helper processes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ak_bridge.service.records import CertificateRecord, DeliveryRecord, MessageRecord

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
CLAIM = timedelta(minutes=2)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def message_row(mid: str, *, key: str | None = "", ref: str = "KR-2026-000001") -> MessageRecord:
    return MessageRecord(
        id=mid,
        direction="in",
        sender="KR-KCS",
        receiver="ID-SKA",
        via="soap",
        document_type="FORM_AK",
        function="9",
        partner_message_id=f"kcs-{mid}",
        issuing_country="KR",
        reference_no=ref,
        business_key=f"KR|{ref}|9|{mid}" if key == "" else key,
        content_hash="0" * 64,
        raw=b"<CO/>",
        canonical="{}",
        created_at=T0,
    )


def delivery_row(
    mid: str,
    *,
    destination: str = "ID-SKA",
    order_key: str | None = None,
    next_at: datetime = T0,
    status: str = "pending",
) -> DeliveryRecord:
    return DeliveryRecord(
        message_id=mid,
        destination=destination,
        channel="soap",
        status=status,
        order_key=order_key or f"KR|{mid}",
        payload=b"<payload/>",
        content_type="text/xml",
        next_attempt_at=next_at,
        created_at=T0,
        updated_at=T0,
    )


def cert_row(ref: str, state: str = "ISSUED", **fields: object) -> CertificateRecord:
    return CertificateRecord(
        issuing_country="KR", reference_no=ref, state=state, updated_at=T0, **fields
    )
