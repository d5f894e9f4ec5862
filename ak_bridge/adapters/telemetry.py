"""The counters and histograms every process adds to; /metrics (ak_bridge.ops.metrics) reads them.

Why prometheus_client's multiprocess mode: gunicorn runs several web processes and the
worker is a process of its own, so a counter kept in one process's memory would show only
the share of whichever process answered the scrape. With ``PROMETHEUS_MULTIPROC_DIR`` set
(``serve`` and ``worker`` set it to ``service.metrics_dir`` before this module is imported)
each process writes its values to files there and the scrape sums them. Without it (tests
running the app in-process, the demo) the values live in this process's default registry.

Gauges (backlog, dead letters, breakers, heartbeat, certificates) are not kept here: they
are computed from the store on each scrape, because the store is their source of truth and
a gauge left behind by a dead process would lie.
"""

from __future__ import annotations

import os
from pathlib import Path

from prometheus_client import Counter, Histogram

INBOUND = Counter(
    "ak_bridge_inbound_messages",
    "Inbound submissions by calling partner and result (accepted, or the error code refused with)",
    ["partner", "result", "code"],
)
ACCEPT_SECONDS = Histogram(
    "ak_bridge_accept_seconds",
    "Time to accept or refuse one inbound submission, by inbound channel",
    ["via"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
DELIVERIES = Counter(
    "ak_bridge_delivery_attempts",
    "Delivery attempts by destination partner, outcome and failure class",
    ["partner", "outcome", "failure_class"],
)
DELIVERED_SECONDS = Histogram(
    "ak_bridge_receipt_to_delivered_seconds",
    "From a message's receipt to its delivery to the partner",
    ["partner"],
    buckets=(0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 14400, 86400),
)


def multiprocess_dir() -> Path | None:
    value = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    return Path(value) if value else None


def forget_dead_processes(directory: Path) -> int:
    """Drop the value files of processes that are gone (their counters restart from zero).

    prometheus_client names each file ``<kind>_<pid>.db``; without this a directory kept
    across restarts grows by one file per gunicorn worker ever started.
    """
    removed = 0
    for f in directory.glob("*.db"):
        pid = f.stem.rsplit("_", 1)[-1]
        if pid.isdigit() and not _alive(int(pid)):
            f.unlink(missing_ok=True)
            removed += 1
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
