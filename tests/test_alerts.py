"""Alerts from the worker to a real webhook receiver and a real SMTP server, on loopback.

Each condition fires once while it holds and clears once when it goes (ak_bridge/ops/alerts.py);
a sink that never answers costs the checks nothing: alerts wait in a bounded queue for the
sender thread, and beyond it are dropped with a log line.
"""

from __future__ import annotations

import dataclasses
import socket
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import closing
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from cryptography import x509
from flask import Flask, request

from ak_bridge.adapters.alert_sinks import Dispatcher, sinks_for
from ak_bridge.adapters.scheduler import sweep
from ak_bridge.config import load_settings
from ak_bridge.core.errors import ConfigError
from ak_bridge.core.settings import AlertSettings
from ak_bridge.ops.alerts import Condition, Monitor, messages, transitions
from ak_bridge.service.ports import iso
from ak_bridge.sim.certificates import sample_form_ak
from ak_bridge.sim.server import LiveServer, free_port
from ak_bridge.sim.topology import Topology, build_topology

TODAY = datetime.now(UTC).date()
FAILING = {"max_attempts": 1, "base_delay": 0.1, "breaker_threshold": 1, "breaker_cooldown": 600}


class Receiver:
    """A webhook endpoint that keeps what was POSTed to it."""

    def __init__(self) -> None:
        self.received: list[dict] = []
        app = Flask("hook")

        @app.post("/hook")
        def hook() -> tuple[str, int]:
            self.received.append(request.get_json())
            return "", 204

        self.server = LiveServer(app).start()
        self.url = self.server.url + "/hook"

    def of(self, kind: str) -> list[tuple[str, str]]:
        return [(a["state"], a["key"]) for a in self.received if a["kind"] == kind]


class Mailbox:
    """aiosmtpd's handler: every mail it takes, parsed."""

    def __init__(self) -> None:
        self.mails: list = []

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802 (aiosmtpd's name)
        self.mails.append(message_from_bytes(envelope.original_content))
        return "250 OK"


@pytest.fixture
def hook() -> Iterator[Receiver]:
    receiver = Receiver()
    yield receiver
    receiver.server.stop()


@pytest.fixture
def smtp() -> Iterator[tuple[Mailbox, int]]:
    box, port = Mailbox(), free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    yield box, port
    controller.stop()


def monitor(topo: Topology, cfg: AlertSettings, clock=None) -> Monitor:
    ex = topo.worker_exchange("alerts")
    settings = dataclasses.replace(topo.settings, alerts=cfg)
    return Monitor(
        ex.store, settings, clock or ex.clock, Dispatcher(sinks_for(cfg), cfg.queue_size)
    )


def dead_letter_to_vietnam(tmp_path: Path, database: str | None = None) -> Topology:
    """A certificate for a partner that is down, swept once: a dead letter, an open breaker."""
    topo = build_topology(tmp_path / "alerts", retry=FAILING, database=database)
    topo.start_bridge()
    topo.systems["VN-ECOSYS"].stop()
    kcs = topo.systems["KR-KCS"]
    co = sample_form_ak("KR-2026-ALERT-1", "KR", "VN", TODAY)
    xml, _, _ = kcs.document_for(co)
    kcs.submit_soap(topo.bridge_url, kcs.contract, kcs.envelope_for(co, "K-alert"), xml)
    sweep(topo.worker_exchange())
    return topo


def test_transitions_fire_new_conditions_and_clear_gone_ones() -> None:
    a, b = (Condition(k, k, "warning", k) for k in ("a", "b"))
    assert transitions({}, {"a": a}) == transitions({}, {"a": a})
    first = transitions({}, {"a": a})
    assert (first.fired, first.cleared) == ([a], [])
    same = transitions({"a": a}, {"a": a})
    assert (same.fired, same.cleared) == ([], [])
    moved = transitions({"a": a}, {"b": b})
    assert (moved.fired, moved.cleared) == ([b], [a])


def test_many_alerts_of_one_kind_at_once_are_sent_as_ten_and_a_count() -> None:
    dead = [Condition(f"dead_letter:{n}", "dead_letter", "critical", f"d{n}") for n in range(25)]
    other = Condition("breaker_open:VN", "breaker_open", "warning", "open")
    sent = messages("firing", [*dead, other], "T")
    assert [m["key"] for m in sent] == [
        *(f"dead_letter:{n}" for n in range(10)),
        "dead_letter:+15",
        "breaker_open:VN",
    ]
    assert sent[10]["summary"] == "and 15 more dead_letter alert(s) firing: see the log"
    assert all(m["state"] == "firing" and m["at"] == "T" for m in sent)


def test_a_dead_letter_alerts_once_by_webhook_and_mail_then_clears(
    tmp_path: Path, hook: Receiver, smtp: tuple[Mailbox, int], caplog, database: str
) -> None:
    box, port = smtp
    cfg = AlertSettings(
        webhook_url=hook.url,
        smtp_host="127.0.0.1",
        smtp_port=port,
        smtp_from="bridge@example.test",
        smtp_to=("ops@example.test",),
    )
    topo = dead_letter_to_vietnam(tmp_path, database)
    try:
        mon = monitor(topo, cfg)
        with caplog.at_level("INFO", logger="ak_bridge.alerts"):
            for _ in range(3):  # every check sees the dead letter; only the first tells
                mon.check()
            assert mon.out.drain(10)
            (fired,) = hook.of("dead_letter")
            assert fired[0] == "firing"
            subjects = [m["Subject"] for m in box.mails]
            assert sum("FIRING: delivery" in s for s in subjects) == 1, subjects
            assert box.mails[0]["To"] == "ops@example.test"

            dead = mon.store.find_deliveries(status=["dead"])
            mon.store.requeue([d.delivery_id for d in dead], mon.clock(), "admin", "retry")
            mon.check()
            mon.check()
            assert mon.out.drain(10)
        assert hook.of("dead_letter") == [("firing", fired[1]), ("cleared", fired[1])]
        assert sum("CLEARED: delivery" in m["Subject"] for m in box.mails) == 1
        logged = [(r.state, r.kind) for r in caplog.records if r.name == "ak_bridge.alerts"]
        assert logged.count(("firing", "dead_letter")) == 1
        assert logged.count(("cleared", "dead_letter")) == 1
    finally:
        topo.stop()


def test_a_breaker_opening_then_closing_gives_two_alerts(
    tmp_path: Path, hook: Receiver, database: str
) -> None:
    """On both stores: the checks read through the Store port only."""
    topo = dead_letter_to_vietnam(tmp_path, database)
    try:
        mon = monitor(topo, AlertSettings(webhook_url=hook.url))
        mon.check()
        mon.check()
        mon.store.update_breaker("VN-ECOSYS", lambda b: b.after_success(), mon.clock())
        mon.check()
        mon.check()
        assert mon.out.drain(10)
        key = "breaker_open:VN-ECOSYS"
        assert hook.of("breaker_open") == [("firing", key), ("cleared", key)]
    finally:
        topo.stop()


def test_a_certificate_expiring_within_the_days_configured_alerts(
    tmp_path: Path, hook: Receiver
) -> None:
    topo = build_topology(tmp_path / "certs")
    try:
        own = x509.load_pem_x509_certificate(topo.settings.identity_cert.read_bytes())
        ten_days_before = own.not_valid_after_utc - timedelta(days=10)
        far = monitor(
            topo, AlertSettings(webhook_url=hook.url, expiry_days=5), lambda: ten_days_before
        )
        assert not [c for c in far.check().fired if c.key.startswith("certificate_expiring:own:")]
        near = monitor(
            topo, AlertSettings(webhook_url=hook.url, expiry_days=30), lambda: ten_days_before
        )
        fired = [c for c in near.check().fired if c.key.startswith("certificate_expiring:own:")]
        assert len(fired) == 1 and "expires in 10.0 days" in fired[0].summary
        assert near.out.drain(10)
        assert [
            s
            for s, k in hook.of("certificate_expiring")
            if k.startswith("certificate_expiring:own:")
        ] == ["firing"]
    finally:
        topo.stop()


def test_an_audit_chain_edited_by_hand_alerts_at_the_next_audit_check(
    tmp_path: Path, hook: Receiver
) -> None:
    topo = dead_letter_to_vietnam(tmp_path)  # something in the audit trail
    now = [datetime.now(UTC)]
    try:
        cfg = AlertSettings(webhook_url=hook.url, audit_interval_seconds=600)
        mon = monitor(topo, cfg, lambda: now[0])
        assert "audit_chain_broken" not in {c.kind for c in mon.check().fired}
        with closing(sqlite3.connect(topo.settings.database)) as raw, raw:
            raw.execute("UPDATE audit SET detail = 'nothing happened' WHERE seq = 2")
        now[0] += timedelta(seconds=60)
        mon.check()  # the chain is walked every 10 minutes here, not every check
        now[0] += timedelta(seconds=600)
        mon.check()
        mon.check()
        assert mon.out.drain(10)
        assert hook.of("audit_chain_broken") == [("firing", "audit_chain_broken")]
        (first,) = [a for a in hook.received if a["kind"] == "audit_chain_broken"]
        assert first["at"] == iso(now[0])  # at the 10-minute check, not the 1-minute one
    finally:
        topo.stop()


def test_a_webhook_that_never_answers_stops_neither_checks_nor_deliveries(
    tmp_path: Path, caplog
) -> None:
    black_hole = socket.socket()  # takes connections (the kernel's backlog), never answers
    black_hole.bind(("127.0.0.1", 0))
    black_hole.listen(16)
    url = f"http://127.0.0.1:{black_hole.getsockname()[1]}/hook"
    topo = dead_letter_to_vietnam(tmp_path)
    try:
        cfg = AlertSettings(webhook_url=url, timeout_seconds=120, queue_size=1)
        mon = monitor(
            topo, cfg, lambda: datetime.now(UTC) + timedelta(hours=1)
        )  # + a lost heartbeat
        with caplog.at_level("INFO", logger="ak_bridge.alerts"):
            checker = threading.Thread(target=mon.check)
            checker.start()
            checker.join(30)  # bounded: with a sink called inline it would hang for minutes
            assert not checker.is_alive()
        kinds = {c.kind for c in mon.alerted.values()}
        assert {"dead_letter", "breaker_open", "worker_heartbeat_lost"} <= kinds
        dropped = [r for r in caplog.records if "alert dropped" in r.getMessage()]
        assert len(dropped) >= 1  # one in the sender's hands, one queued, the rest dropped

        kcs = topo.systems["KR-KCS"]  # the exchange goes on meanwhile
        co = sample_form_ak("KR-2026-ALERT-2", "KR", "ID", TODAY)
        xml, _, _ = kcs.document_for(co)
        kcs.submit_soap(topo.bridge_url, kcs.contract, kcs.envelope_for(co, "K-alert-2"), xml)
        sweep(topo.worker_exchange("worker-2"))
        assert not mon.out.drain(0.1)  # the sender is still waiting on the black hole
        assert topo.worker_exchange("w3").store.counts_by_status().get("delivered") == 1
    finally:
        topo.stop()
        black_hole.close()


def test_the_alerts_table_is_checked(tmp_path: Path) -> None:
    topo = build_topology(tmp_path / "cfg")
    config = topo.settings.root / "config"
    main = config / "ak_bridge.toml"
    base = main.read_text()
    try:
        main.write_text(
            base + '\n[alerts]\nwebhook_url = "http://127.0.0.1:9/h"\nsmtp_host = "mx"\n'
            'smtp_from = "a@b"\nsmtp_to = "c@d"\nsmtp_password_env = "ALERT_PW"\nexpiry_days = 14\n'
        )
        alerts = load_settings(config, environ={"ALERT_PW": "s3cret"}).alerts
        assert (alerts.expiry_days, alerts.smtp_to, alerts.smtp_password) == (
            14,
            ("c@d",),
            "s3cret",
        )
        assert "s3cret" not in repr(alerts)
        main.write_text(base + '\n[alerts]\nwebhok_url = "http://x"\n')
        with pytest.raises(ConfigError, match="did you mean 'webhook_url'"):
            load_settings(config, environ={})
    finally:
        topo.stop()


def test_the_worker_process_sends_alerts_it_is_configured_for(
    tmp_path: Path, hook: Receiver
) -> None:
    """``ak-bridge worker`` runs the checks on its schedule: the wiring, end to end."""
    from test_operations import start, stop

    topo = build_topology(tmp_path / "worker", retry=FAILING)
    main = topo.settings.root / "config" / "ak_bridge.toml"
    main.write_text(
        main.read_text() + f'\n[alerts]\nwebhook_url = "{hook.url}"\ninterval_seconds = 0.5\n'
    )
    worker = None
    try:
        topo.start_bridge()
        topo.systems["VN-ECOSYS"].stop()
        kcs = topo.systems["KR-KCS"]
        co = sample_form_ak("KR-2026-ALERT-3", "KR", "VN", TODAY)
        xml, _, _ = kcs.document_for(co)
        kcs.submit_soap(topo.bridge_url, kcs.contract, kcs.envelope_for(co, "K-alert-3"), xml)
        worker = start(topo, "worker")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not hook.of("dead_letter"):
            time.sleep(0.1)
    finally:
        log = stop(worker) if worker else []
        topo.stop()
    assert [s for s, _ in hook.of("dead_letter")] == ["firing"]
    lines = [r for r in log if r["logger"] == "ak_bridge.alerts"]
    assert any(r["kind"] == "dead_letter" and r["state"] == "firing" for r in lines), lines


def test_an_overdue_verification_reply_alerts_and_clears_when_answered(
    topology: Topology, bridge, worker, hook: Receiver
) -> None:
    """Viet Nam asks Korea to verify a CO; past the due date it alerts; Korea's reply clears it."""
    from flows import kcs_sends, settle, vn_sends

    from ak_bridge.core.model import VerificationReply, VerificationRequest, VerificationResult
    from ak_bridge.core.rules import default_reply_due

    co = sample_form_ak("KR-2026-ALERT-4", "KR", "VN", TODAY - timedelta(days=2))
    assert kcs_sends(topology, co, "K-alert-4").PrcsRsltCd == "accepted"
    settle(worker)
    ref, request_no = co.reference_no, "VN-VR-ALERT-4"
    request = VerificationRequest(
        ref, "KR", "VN", request_no, "RVC doubtful", TODAY, default_reply_due(TODAY)
    )
    assert vn_sends(topology, request, "VN-vr-alert").status_code == 200
    settle(worker)
    now = [datetime.now(UTC)]
    mon = monitor(topology, AlertSettings(webhook_url=hook.url), lambda: now[0])
    mon.check()  # not due yet
    now[0] += timedelta(days=92)
    mon.check()
    mon.check()
    reply = VerificationReply(
        ref, "KR", "VN", request_no, VerificationResult.ORIGINATING, TODAY, "checked"
    )
    assert kcs_sends(topology, reply, "K-vreply-alert").PrcsRsltCd == "accepted"
    settle(worker)
    mon.check()
    assert mon.out.drain(10)
    key = f"verification_overdue:KR:{ref}"
    assert hook.of("verification_overdue") == [("firing", key), ("cleared", key)]


def test_mail_logs_in_with_the_password_from_the_variable_the_config_names(
    tmp_path: Path,
) -> None:
    """SMTP AUTH against aiosmtpd: the password comes from smtp_password_env, never the file."""
    from aiosmtpd.smtp import AuthResult

    logins: list[tuple[bytes, bytes]] = []

    def authenticator(server, session, envelope, mechanism, auth_data) -> AuthResult:
        logins.append((auth_data.login, auth_data.password))
        return AuthResult(success=auth_data.password == b"s3cret")

    box, port = Mailbox(), free_port()
    controller = Controller(
        box,
        hostname="127.0.0.1",
        port=port,
        authenticator=authenticator,
        auth_require_tls=False,  # loopback test server without a certificate
    )
    controller.start()
    topo = build_topology(tmp_path / "mail")
    try:
        main = topo.settings.root / "config" / "ak_bridge.toml"
        main.write_text(
            main.read_text() + f'\n[alerts]\nsmtp_host = "127.0.0.1"\nsmtp_port = {port}\n'
            'smtp_from = "bridge@example.test"\nsmtp_to = ["ops@example.test"]\n'
            'smtp_user = "bridge"\nsmtp_password_env = "ALERT_SMTP_PW"\n'
        )
        cfg = load_settings(main.parent, environ={"ALERT_SMTP_PW": "s3cret"}).alerts
        out = Dispatcher(sinks_for(cfg), cfg.queue_size)
        out.submit({"key": "k", "kind": "test", "state": "firing", "summary": "hello"})
        assert out.drain(10)
        assert logins == [(b"bridge", b"s3cret")]
        assert [m["Subject"] for m in box.mails] == ["[ak-bridge] FIRING: hello"]
    finally:
        topo.stop()
        controller.stop()
