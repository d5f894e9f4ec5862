"""How much of a CO import customs has used: one CO across several declarations (1.1).

Pure. A utilisation notice says, per goods item, the quantity one import declaration used.
Using more than Box 9 shows, summed over every declaration, is a WARNING, not a refusal:
the notice reports what import customs already did, and the issuing authority must see it
(a refusal would hide the over-use from exactly the side that has to act on it, e.g. with a
verification request). Quantities in another unit than Box 9's cannot be summed and are
said so, also as a warning.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

from ak_bridge.core.errors import Finding, Severity
from ak_bridge.core.model import FormAK, GoodsItem, Quantity, UtilisationNotice

CODE = "over_utilisation"


def _box9(item: GoodsItem, unit: str) -> Quantity | None:
    """The Box 9 quantity in ``unit``: the other quantity if given, else the gross weight."""
    for q in (item.quantity, item.gross_weight):
        if q is not None and q.unit == unit:
            return q
    return None


def findings(
    co: FormAK | None, earlier: Iterable[UtilisationNotice], notice: UtilisationNotice
) -> tuple[Finding, ...]:
    """Warnings for items of ``notice`` whose total use exceeds the CO's Box 9."""
    if co is None:  # purged: nothing to compare with
        return ()
    items = {i.item_no: i for i in co.items}
    used: dict[tuple[int, str], Decimal] = {}
    for n in (*earlier, notice):
        for u in n.items:
            used[(u.item_no, u.unit)] = used.get((u.item_no, u.unit), Decimal(0)) + u.quantity
    out = []
    for u in notice.items:
        item = items.get(u.item_no)
        if item is None:
            out.append(Finding(CODE, "9", f"item {u.item_no} is not on the CO", Severity.WARNING))
            continue
        limit = _box9(item, u.unit)
        if limit is None:
            out.append(
                Finding(
                    CODE,
                    "9",
                    f"item {u.item_no}: used in {u.unit}, Box 9 gives no quantity in that unit",
                    Severity.WARNING,
                )
            )
        elif used[(u.item_no, u.unit)] > limit.value:
            out.append(
                Finding(
                    CODE,
                    "9",
                    f"item {u.item_no}: {used[(u.item_no, u.unit)]} {u.unit} used over all "
                    f"declarations, Box 9 shows {limit.value} {u.unit}",
                    Severity.WARNING,
                )
            )
    return tuple(out)
