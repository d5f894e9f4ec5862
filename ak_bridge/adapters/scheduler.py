"""APScheduler wiring for the worker process only (never inside web workers).

One interval job sweeps due deliveries; the durable retry state lives in our own
``deliveries`` table, not in APScheduler's memory job store, so a restarted worker simply
picks up where the table says. ``max_instances=1`` and ``coalesce`` keep sweeps from piling
up; ``misfire_grace_time`` equals the interval so a slow sweep is not silently skipped.
"""

from __future__ import annotations

import logging
import time

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler

from ak_bridge.adapters.telemetry import DELIVERED_SECONDS, DELIVERIES
from ak_bridge.logs import DELIVERY
from ak_bridge.service.delivery import DeliveryReport
from ak_bridge.service.exchange import Exchange
from ak_bridge.service.ports import from_iso

log = logging.getLogger(__name__)
outcomes = logging.getLogger(DELIVERY)
JOB_ID = "deliver-due"


SWEEP_SECONDS = 30.0  # one sweep keeps going while there is work, up to this long


def sweep(exchange: Exchange, max_seconds: float = SWEEP_SECONDS) -> None:
    """Heartbeat, then deliver until nothing is due (or the time is up); never raise.

    One pass claims at most each partner's ``max_in_flight`` deliveries, so a sweep repeats
    passes while they find work: a backlog drains at the partners' pace, not at one batch
    per interval. The time bound keeps the heartbeat fresh and lets the schedule go on.
    """
    deadline = time.monotonic() + max_seconds
    try:
        while True:
            exchange.store.heartbeat(exchange.worker_id, exchange.clock())
            report = exchange.deliver_due()
            ids = record_outcomes(exchange, report)
            if report.attempted:
                outcomes.info(
                    "sweep: %d delivered, %d to retry, %d dead",
                    report.delivered,
                    report.retrying,
                    report.dead,
                    extra={"message_ids": ids},
                )
            if not report.attempted or time.monotonic() >= deadline:
                return
    except Exception:
        log.exception("delivery sweep failed; next sweep will try again")


def record_outcomes(exchange: Exchange, report: DeliveryReport) -> list[str]:
    """One log line and one count per delivery attempt of a pass; returns its message ids.

    The report names deliveries by id only, so each is read back once (its row and its
    last attempt) for the message id, partner, failure class and duration.
    """
    ids = []
    for delivery_id, outcome in report.details:
        row = exchange.store.delivery(delivery_id)
        if row is None:
            continue
        attempts = exchange.store.attempts_for(delivery_id)
        last = attempts[-1] if attempts and outcome != "held" else {}
        failure = last.get("failure_class") or "none"
        partner = row["destination"]
        ids.append(row["message_id"])
        DELIVERIES.labels(partner, outcome, failure).inc()
        if outcome == "delivered" and row.get("delivered_at"):
            received = from_iso(row["created_at"])
            DELIVERED_SECONDS.labels(partner).observe(
                max(0.0, (from_iso(row["delivered_at"]) - received).total_seconds())
            )
        outcomes.log(
            logging.WARNING if outcome == "dead" else logging.INFO,
            "delivery %s to %s: %s",
            row["message_id"],
            partner,
            outcome,
            extra={
                "message_id": row["message_id"],
                "delivery_id": delivery_id,
                "partner": partner,
                "outcome": outcome,
                "failure_class": failure,
                "attempt": row["attempts"],
                "duration_ms": last.get("duration_ms"),
                "http_status": last.get("http_status"),
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


def wake(scheduler: BaseScheduler, exchange: Exchange) -> None:
    """Run the sweep as soon as possible (e.g. right after a message was accepted)."""
    job = scheduler.get_job(JOB_ID)
    if job is not None:
        job.modify(next_run_time=exchange.clock())
