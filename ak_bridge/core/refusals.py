"""Coded refusal reasons (Box 4, messages 1.1): codes from a bilateral list kept in config.

Pure. The list is configuration (``config/refusal_reasons.toml``): no public standard list
exists, so the Parties agree one per lane; the XSD fixes only a code's spelling. A code not on
the list is an error, so the issuing side never receives a reason it cannot look up. With no
list configured, codes are not checked.
"""

from __future__ import annotations

from collections.abc import Mapping

from ak_bridge.core.errors import Finding, Severity
from ak_bridge.core.model import CustomsResponse, Reconsideration

CODE = "refusal_reason_unknown"


def findings(
    msg: CustomsResponse | Reconsideration, reasons: Mapping[str, str]
) -> tuple[Finding, ...]:
    if not reasons:
        return ()
    return tuple(
        Finding(
            CODE,
            "4",
            f"item {d.item_no}: reason code {d.reason_code!r} is not on the agreed list "
            f"({', '.join(sorted(reasons))})",
            Severity.ERROR,
        )
        for d in msg.decisions
        if d.reason_code is not None and d.reason_code not in reasons
    )
