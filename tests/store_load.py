"""A separate process acting on a store, for the contract suite's races (run as a script).

    python tests/store_load.py DATABASE ACTION NAME N GO_FILE

Waits for GO_FILE to exist (so all processes start together), acts, prints JSON.
"""

from __future__ import annotations

import json
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from ak_bridge.adapters.store import open_database
from ak_bridge.service.ports import AuditEvent, DuplicateKey, StateChanged

sys.path.insert(0, str(Path(__file__).parent))
from store_rows import cert_row, delivery_row, message_row  # noqa: E402

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # the rows' own clock


def main() -> None:
    database, action, name, n, go = sys.argv[1:6]
    deadline = time.monotonic() + 30
    if action == "open":  # several instances starting at once on an empty database
        while not Path(go).exists() and time.monotonic() < deadline:
            time.sleep(0.005)
        print(json.dumps(open_database(database).schema_version()))
        return
    store = open_database(database)
    while not Path(go).exists() and time.monotonic() < deadline:
        time.sleep(0.005)
    out: object
    if action == "audit":
        for i in range(int(n)):
            store.audit(AuditEvent(T0, "load", None, name, detail=f"{name} {i}"))
        out = int(n)
    elif action == "claim":  # claim one at a time until nothing is left
        got: list[int] = []
        idle = 0
        while idle < 20:
            rows = store.claim_due(T0, T0 + timedelta(minutes=5), name, 1)
            got += [r["id"] for r in rows]
            idle = 0 if rows else idle + 1
        out = got
    elif action == "claim_limited":  # the partner's limit is 3, whoever asks
        rows = store.claim_due(T0, T0 + timedelta(minutes=5), name, 10, "ID-SKA", 3)
        out = [r["id"] for r in rows]
    elif action in ("accept_same", "replace_same"):
        key = "KR|KR-RACE|9" if action == "accept_same" else f"KR|KR-RACE-{name}|5"
        expect = {("KR", "", "KR-RACE"): "ISSUED"} if action == "replace_same" else None
        try:
            store.accept(
                message_row(f"M-{name}", key=key, ref="KR-RACE"),
                [delivery_row(f"M-{name}")],
                [AuditEvent(T0, "received", f"M-{name}", "KR-KCS")],
                [cert_row("KR-RACE", "REPLACED")] if expect else [],
                expect,
            )
            out = "won"
        except DuplicateKey:
            out = "duplicate"
        except StateChanged:
            out = "state_changed"
    else:
        raise SystemExit(f"unknown action {action}")
    print(json.dumps(out))


if __name__ == "__main__":
    main()
