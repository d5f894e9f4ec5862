"""What a delivery's status allows, and what keeps a CO's documents: rules the store enforces.

The store applies these inside its transactions (so two workers or an admin and a worker
never see them half-true); they are decided here, once.
"""

from __future__ import annotations

from ak_bridge.core.model import CertificateState, DeliveryStatus

FINAL_STATES = frozenset(
    {
        DeliveryStatus.DELIVERED,
        DeliveryStatus.DEAD,
        DeliveryStatus.CANCELLED,
        DeliveryStatus.HELD,
    }
)
"""A delivery in one of these is finished: a later one of the same CO may go."""

REQUEUABLE = frozenset(
    {
        DeliveryStatus.PENDING,
        DeliveryStatus.WAITING_RETRY,
        DeliveryStatus.DEAD,
        DeliveryStatus.HELD,
    }
)
"""What an admin may retry or cancel: not delivered, not being sent, not already cancelled."""

OVERTAKING = frozenset({DeliveryStatus.DELIVERED, DeliveryStatus.IN_FLIGHT})
"""A later delivery of the same CO to the same partner in one of these has gone past an
earlier one: the earlier one is never sent again (a delivered cancel or replacement must not
be overtaken by the CO it retired)."""

LEGAL_HOLD = frozenset({CertificateState.VERIFICATION_REQUESTED})
"""A CO in one of these keeps its documents whatever their age: they are evidence until the
verification is answered."""


def sql_list(values: frozenset[str]) -> str:
    """The values as an SQL list of literals (they are our own enum values, never input)."""
    return ", ".join(f"'{v}'" for v in sorted(values))
