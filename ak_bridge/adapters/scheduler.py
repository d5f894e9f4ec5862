"""APScheduler wiring for the worker process only (never inside web workers).

One interval job sweeps due deliveries; the durable retry state lives in our own
``deliveries`` table, not in APScheduler's memory job store, so a restarted worker simply
picks up where the table says. ``max_instances=1`` and ``coalesce`` keep sweeps from piling
up; ``misfire_grace_time`` equals the interval so a slow sweep is not silently skipped.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler

from ak_bridge.adapters.telemetry import DELIVERED_SECONDS, DELIVERIES
from ak_bridge.logs import DELIVERY
from ak_bridge.service.delivery import DeliveryReport
from ak_bridge.service.exchange import Exchange

log = logging.getLogger(__name__)
outcomes = logging.getLogger(DELIVERY)
JOB_ID = "deliver-due"


HEARTBEAT_SECONDS = 1.0  # within a sweep, the heartbeat is written at most this often
SWEEP_SECONDS = 30.0  # one sweep keeps going while there is work, up to this long
WOKEN = threading.Event()
"""Set by :func:`wake`. A wake-up that lands while a sweep runs cannot start another one
(``max_instances=1``: APScheduler skips it and waits a whole interval), so the running sweep
looks at this before it stops and makes one more pass."""


def sweep(
    exchange: Exchange, max_seconds: float = SWEEP_SECONDS, woken: threading.Event = WOKEN
) -> None:
    """Heartbeat, then deliver until nothing is due (or the time is up); never raise.

    One pass claims at most each partner's ``max_in_flight`` deliveries, so a sweep repeats
    passes while they find work: a backlog drains at the partners' pace, not at one batch
    per interval. The time bound keeps the heartbeat fresh and lets the schedule go on.
    A wake-up during a pass (``woken``) earns another pass: its work may be newer than the
    pass's claim.
    """
    deadline = time.monotonic() + max_seconds
    beat = 0.0
    try:
        while True:
            woken.clear()  # before the claim: a wake-up after this is seen below
            if time.monotonic() - beat >= HEARTBEAT_SECONDS:  # not a write per pass
                exchange.store.heartbeat(exchange.worker_id, exchange.clock())
                beat = time.monotonic()
            report = exchange.deliver_due()
            ids = record_outcomes(report)
            if report.attempted:
                outcomes.info(
                    "sweep: %d delivered, %d to retry, %d dead",
                    report.delivered,
                    report.retrying,
                    report.dead,
                    extra={"message_ids": ids},
                )
            if time.monotonic() >= deadline or not (report.attempted or woken.is_set()):
                return
    except Exception:
        log.exception("delivery sweep failed; next sweep will try again")


def record_outcomes(report: DeliveryReport) -> list[str]:
    """One log line and one count per delivery attempt of a pass; returns its message ids."""
    ids = []
    for o in report.details:
        failure = o.failure_class or "none"
        ids.append(o.message_id)
        DELIVERIES.labels(o.partner, o.outcome, failure).inc()
        if o.outcome == "delivered":
            DELIVERED_SECONDS.labels(o.partner).observe(
                max(0.0, (o.finished_at - o.received_at).total_seconds())
            )
        outcomes.log(
            logging.WARNING if o.outcome == "dead" else logging.INFO,
            "delivery %s to %s: %s",
            o.message_id,
            o.partner,
            o.outcome,
            extra={
                "message_id": o.message_id,
                "delivery_id": o.delivery_id,
                "partner": o.partner,
                "outcome": o.outcome,
                "failure_class": failure,
                "attempt": o.attempt,
                "duration_ms": o.duration_ms,
                "http_status": o.http_status,
            },
        )
    return ids


def build_scheduler(exchange: Exchange, interval: float, *, blocking: bool = True) -> BaseScheduler:
    scheduler: BaseScheduler = BlockingScheduler() if blocking else BackgroundScheduler()
    scheduler.add_job(
        sweep,
        "interval",
        args=[exchange],
        seconds=interval,
        id=JOB_ID,
        max_instances=1,
        coalesce=True,
        misfire_grace_time=max(1, int(interval)),
        next_run_time=exchange.clock(),
    )
    return scheduler


def add_periodic(
    scheduler: BaseScheduler, job_id: str, job: Callable[[], object], seconds: float
) -> None:
    """Another interval job beside the sweep (e.g. the alert checks); first run after one
    interval, so the sweep has written a heartbeat by then. Its own thread: never slows a sweep."""
    scheduler.add_job(
        job,
        "interval",
        seconds=seconds,
        id=job_id,
        max_instances=1,
        coalesce=True,
        misfire_grace_time=max(1, int(seconds)),
    )


def start_waker(scheduler: BaseScheduler, exchange: Exchange, interval: float) -> threading.Thread:
    """Sweep as soon as something is accepted anywhere: the store says so (PostgreSQL
    LISTEN/NOTIFY, or a pipe beside the SQLite file); the interval sweep stays the fallback."""

    def run() -> None:
        while True:
            try:
                if exchange.store.wait_for_work(interval):
                    wake(scheduler, exchange)
            except Exception:  # the store may be down: the interval sweep carries on
                log.warning("waiting for work failed; relying on the interval sweep")
                time.sleep(interval)

    thread = threading.Thread(target=run, name="waker", daemon=True)
    thread.start()
    return thread


def wake(scheduler: BaseScheduler, exchange: Exchange) -> None:
    """Run the sweep as soon as possible (e.g. right after a message was accepted); a sweep
    already running makes one more pass instead (see ``WOKEN``)."""
    WOKEN.set()
    job = scheduler.get_job(JOB_ID)
    if job is not None:
        job.modify(next_run_time=exchange.clock())
