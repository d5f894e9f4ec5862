"""Rows as the services build them, for the store tests and their helper processes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ak_bridge.service.ports import iso

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
CLAIM = timedelta(minutes=2)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def message_row(mid: str, *, key: str | None = "", ref: str = "KR-2026-000001") -> dict:
    return {
        "id": mid,
        "direction": "in",
        "sender": "KR-KCS",
        "receiver": "ID-SKA",
        "via": "soap",
        "document_type": "FORM_AK",
        "function": "9",
        "partner_message_id": f"kcs-{mid}",
        "issuing_country": "KR",
        "reference_no": ref,
        "business_key": f"KR|{ref}|9|{mid}" if key == "" else key,
        "content_hash": "0" * 64,
        "raw": b"<CO/>",
        "canonical": "{}",
        "created_at": iso(T0),
    }


def delivery_row(
    mid: str,
    *,
    destination: str = "ID-SKA",
    order_key: str | None = None,
    next_at: datetime = T0,
    status: str = "pending",
) -> dict:
    return {
        "message_id": mid,
        "destination": destination,
        "channel": "soap",
        "status": status,
        "attempts": 0,
        "order_key": order_key or f"KR|{mid}",
        "payload": b"<payload/>",
        "content_type": "text/xml",
        "next_attempt_at": iso(next_at),
        "created_at": iso(T0),
        "updated_at": iso(T0),
    }
