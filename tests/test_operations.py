"""Operating the real thing: `serve` under gunicorn and a `worker`, as separate processes.

What a customs IT department sees: where serve listens, one JSON access line per request
with the partner and message id, one line per delivery attempt, no APScheduler noise,
/metrics summed over gunicorn's processes and the worker (parsed with prometheus_client's
own parser), the alert rules' metrics all present, and a certificate without KeyUsage
digitalSignature refused in one line before gunicorn forks.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests
import yaml
from click.testing import CliRunner
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import NameOID
from prometheus_client.parser import text_string_to_metric_families
from test_crash import wait_ready

from ak_bridge.cli import cli
from ak_bridge.sim.certificates import sample_form_ak
from ak_bridge.sim.topology import Topology, build_topology

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parent.parent
ALERTS = REPO / "deploy" / "prometheus" / "alerts.yml"
CLI = [sys.executable, "-m", "ak_bridge"]
TODAY = datetime.now(UTC).date()


def start(topo: Topology, *args: str) -> subprocess.Popen:
    """The command as a process; its log goes to a file (a full pipe would block it)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AK_BRIDGE_", "PROMETHEUS"))}
    log = topo.settings.root / f"{args[-1]}-{time.monotonic_ns()}.log"
    proc = subprocess.Popen(
        [*CLI, "--config", str(topo.settings.root / "config"), "--log-format", "json", *args],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=log.open("wb"),
        start_new_session=True,  # its own process group: gunicorn's workers go with it
    )
    proc.log = log  # type: ignore[attr-defined]
    return proc


def stop(proc: subprocess.Popen) -> list[dict]:
    """SIGTERM the process group; its log as JSON records (every line must be one)."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
    proc.wait(timeout=20)
    lines = [line for line in proc.log.read_text().splitlines() if line.strip()]  # type: ignore[attr-defined]
    return [json.loads(line) for line in lines]


def scrape(url: str, token: str) -> dict[tuple[str, tuple], float]:
    resp = requests.get(url + "/metrics", headers={"Authorization": f"Bearer {token}"}, timeout=5)
    assert resp.status_code == 200, resp.text
    assert resp.headers["Content-Type"].startswith("text/plain")
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(resp.text)
        for s in family.samples
    }


def value(samples: dict, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


@pytest.fixture
def topo(tmp_path: Path):
    t = build_topology(tmp_path / "ops")
    yield t
    t.stop()


def test_serve_and_worker_log_json_and_metrics_sum_every_process(topo: Topology) -> None:
    url = f"http://127.0.0.1:{topo.settings.port}"
    serve = start(topo, "-v", "serve", "--workers", "2")
    worker = None
    try:
        wait_ready(url, serve)
        assert requests.get(url + "/metrics", timeout=5).status_code == 401  # admin token
        kcs = topo.systems["KR-KCS"]
        ids = []
        for n in range(3):
            co = sample_form_ak(f"KR-2026-OPS-{n:04d}", "KR", "ID", TODAY)
            xml, _, _ = kcs.document_for(co)
            ids.append(
                kcs.submit_soap(url, kcs.contract, kcs.envelope_for(co, f"K-{n}"), xml).MsgId
            )
        vn = topo.systems["VN-ECOSYS"]
        refused = requests.post(
            url + "/rest/v1/documents", json={"x": 1}, headers=vn.auth_headers(), timeout=5
        )
        assert refused.status_code == 400
        code = refused.json()["error"]["code"]

        worker = start(topo, "worker")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and len(topo.systems["ID-SKA"].unique_message_ids()) < 3:
            time.sleep(0.1)
        time.sleep(0.5)  # the worker counts after the partner's answer
        m = scrape(url, topo.admin_token)
    finally:
        worker_log = stop(worker) if worker else []
        serve_log = stop(serve)

    # Counters from both gunicorn workers and from the worker process, summed.
    assert (
        value(
            m,
            "ak_bridge_inbound_messages_total",
            partner="KR-KCS",
            result="accepted",
            code="accepted",
        )
        == 3
    )
    assert (
        value(
            m, "ak_bridge_inbound_messages_total", partner="VN-ECOSYS", result="refused", code=code
        )
        == 1
    )
    assert value(m, "ak_bridge_accept_seconds_count", via="soap/kcs") == 3
    assert (
        value(
            m,
            "ak_bridge_delivery_attempts_total",
            partner="ID-SKA",
            outcome="delivered",
            failure_class="none",
        )
        == 3
    )
    assert value(m, "ak_bridge_receipt_to_delivered_seconds_count", partner="ID-SKA") == 3
    # Gauges from the store.
    assert value(m, "ak_bridge_worker_up") == 1
    assert 0 <= value(m, "ak_bridge_worker_heartbeat_age_seconds") < 60
    assert value(m, "ak_bridge_backlog", partner="ID-SKA") == 0
    assert value(m, "ak_bridge_dead_letters") == 0
    assert value(m, "ak_bridge_breaker_state", partner="ID-SKA") == 0
    assert value(m, "ak_bridge_store_writable") == 1
    assert value(m, "ak_bridge_verification_replies_overdue") == 0
    own = [
        v
        for (name, labels), v in m.items()
        if name == "ak_bridge_certificate_expiry_days" and ("partner", "own") in labels
    ]
    assert len(own) == 1 and own[0] > 30

    # Every metric an alert rule uses exists in the scrape.
    names = {name for name, _ in m}
    rules = [r for g in yaml.safe_load(ALERTS.read_text())["groups"] for r in g["rules"]]
    assert {r["alert"] for r in rules} >= {
        "AkBridgeDeadLetters",
        "AkBridgeBreakerOpen",
        "AkBridgeCertificateExpiring",
        "AkBridgeVerificationRepliesOverdue",
        "AkBridgeWorkerDown",
    }
    for rule in rules:
        for metric in re.findall(r"ak_bridge_\w+", rule["expr"]):
            assert metric in names, (rule["alert"], metric)

    # serve: where it listens first, gunicorn's own lines at -v, one access line per request.
    start_line = next(r for r in serve_log if r["logger"] == "ak_bridge.lifecycle")
    assert start_line["message"].startswith(f"serving on http://127.0.0.1:{topo.settings.port}")
    assert any(
        r["logger"] == "gunicorn.error" and "Booting worker" in r["message"] for r in serve_log
    )
    stopped = [r for r in serve_log if r["message"].startswith("stopped serving")]
    assert len(stopped) == 1  # the master's, not one per forked worker
    access = [r for r in serve_log if r["logger"] == "ak_bridge.access"]
    submits = [r for r in access if r["operation"] == "submit"]
    assert {r["message_id"] for r in submits if r["code"] == "accepted"} == set(ids)
    assert {r["partner"] for r in submits} == {"KR-KCS", "VN-ECOSYS"}
    assert all(r["duration_ms"] >= 0 and r["status"] in (200, 400) for r in submits)
    # worker: a line per attempt with its message id and outcome; no APScheduler noise.
    attempts = [r for r in worker_log if r.get("outcome")]
    assert {r["message_id"] for r in attempts} == set(ids)
    assert {(r["partner"], r["outcome"]) for r in attempts} == {("ID-SKA", "delivered")}
    sweeps = [r for r in worker_log if r["message"].startswith("sweep:")]
    assert sweeps and set().union(*(r["message_ids"] for r in sweeps)) == set(ids)
    assert not [r for r in worker_log if r["logger"].startswith("apscheduler")]


def plain_certificate(key_file: Path) -> bytes:
    """What a plain `openssl req -x509` makes for this key: no KeyUsage at all."""
    key = serialization.load_pem_private_key(key_file.read_bytes(), None)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "AK-BRIDGE")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=365))
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM)


def test_a_certificate_without_digital_signature_stops_serve_in_one_line(topo: Topology) -> None:
    topo.settings.identity_cert.write_bytes(plain_certificate(topo.settings.identity_key))
    serve = start(topo, "serve")
    serve.wait(timeout=30)
    assert serve.returncode == 1
    text = serve.log.read_text()  # type: ignore[attr-defined]
    assert "KeyUsage must include digitalSignature" in text
    assert "Traceback" not in text and "Booting worker" not in text  # before gunicorn forks
    problem = [line for line in text.splitlines() if "KeyUsage" in line]
    assert len(problem) == 1

    certs = CliRunner().invoke(cli, ["--config", str(topo.settings.root / "config"), "certs"])
    assert certs.exit_code == 1
    assert "NO-DIGITAL-SIGNATURE" in certs.output


def test_the_alerting_metrics_move_when_things_go_wrong(tmp_path: Path, caplog) -> None:
    """A dead letter, an open breaker, no worker: each alert's metric shows it (in-process)."""
    from ak_bridge.adapters.scheduler import sweep

    topo = build_topology(
        tmp_path / "alerts",
        retry={
            "max_attempts": 1,
            "base_delay": 0.1,
            "breaker_threshold": 1,
            "breaker_cooldown": 600,
        },
    )
    try:
        topo.start_bridge()
        m = scrape(topo.bridge_url, topo.admin_token)
        assert value(m, "ak_bridge_worker_up") == 0  # no worker has ever run
        assert value(m, "ak_bridge_worker_heartbeat_age_seconds") == float("inf")
        before = value(
            m,
            "ak_bridge_delivery_attempts_total",
            partner="VN-ECOSYS",
            outcome="dead",
            failure_class="transport",
        )

        topo.systems["VN-ECOSYS"].stop()
        kcs = topo.systems["KR-KCS"]
        co = sample_form_ak("KR-2026-OPS-DEAD", "KR", "VN", TODAY)
        xml, _, _ = kcs.document_for(co)
        mid = kcs.submit_soap(
            topo.bridge_url, kcs.contract, kcs.envelope_for(co, "K-dead"), xml
        ).MsgId
        with caplog.at_level("INFO", logger="ak_bridge.delivery"):
            sweep(topo.worker_exchange())

        m = scrape(topo.bridge_url, topo.admin_token)
        assert value(m, "ak_bridge_dead_letters") == 1
        assert value(m, "ak_bridge_breaker_state", partner="VN-ECOSYS") == 2  # open
        assert value(m, "ak_bridge_worker_up") == 1
        after = value(
            m,
            "ak_bridge_delivery_attempts_total",
            partner="VN-ECOSYS",
            outcome="dead",
            failure_class="transport",
        )
        assert after == before + 1
        (line,) = [
            r
            for r in caplog.records
            if r.name == "ak_bridge.delivery" and getattr(r, "message_id", None) == mid
        ]
        assert (line.levelname, line.partner, line.outcome) == ("WARNING", "VN-ECOSYS", "dead")
        assert line.failure_class == "transport" and line.duration_ms is not None
    finally:
        topo.stop()


def test_config_check_shows_the_effective_config_masked_and_every_problem(
    topo: Topology, monkeypatch
) -> None:
    config = topo.settings.root / "config"

    def check(*args: str):
        return CliRunner().invoke(cli, ["--config", str(config), "config", "check", *args])

    ok = check()
    assert ok.exit_code == 0, ok.output
    shown = json.loads(ok.stdout)
    assert shown["partners"]["KR-KCS"]["token_hashes"] == "1 digest(s)"
    assert "configuration ok" in ok.stderr

    main = config / "ak_bridge.toml"
    original = main.read_text()
    main.write_text(original.replace("[identity]\n", '[identity]\nkey_passphrase_env = "AKB_PP"\n'))
    monkeypatch.setenv("AKB_PP", "secret-passphrase-123")
    masked = check()
    assert masked.exit_code == 1  # the test key is not encrypted: serve would not start
    assert "secret-passphrase-123" not in masked.output
    assert json.loads(masked.stdout)["identity_passphrase"] == "***"
    assert "private key" in masked.stderr

    main.write_text(original.replace("[worker]", "[wroker]"))
    typo = check()
    assert typo.exit_code == 1 and "did you mean 'worker'?" in typo.stderr


def test_apscheduler_noise_is_dropped_unless_asked_for(tmp_path: Path) -> None:
    """Its per-sweep INFO and 'maximum number of running instances' WARNING lines are noise."""
    import logging

    from ak_bridge import logs

    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    names = ("apscheduler", *logs.OPERATIONAL)
    levels = {n: logging.getLogger(n).level for n in names}
    try:
        logs.configure(0, "json")
        scheduler = logging.getLogger("apscheduler.scheduler")
        assert not scheduler.isEnabledFor(logging.WARNING)  # max instances reached
        assert not logging.getLogger("apscheduler.executors.default").isEnabledFor(logging.INFO)
        assert logging.getLogger("ak_bridge.delivery").isEnabledFor(logging.INFO)
        assert scheduler.isEnabledFor(logging.ERROR)  # a job that crashed is still said
        logs.configure(2, "json")
        assert scheduler.isEnabledFor(logging.INFO)
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)


def test_a_partner_pin_rolls_over_with_sighup_without_a_restart(topo: Topology) -> None:
    """Append the partner's next certificate to its pinned file, HUP serve: accepted, no gap."""
    from zeep.exceptions import Fault

    from ak_bridge.security.signing import Signer, load_identity
    from ak_bridge.sim.pki import make_test_pki

    url = f"http://127.0.0.1:{topo.settings.port}"
    serve = start(topo, "serve", "--workers", "2")
    try:
        wait_ready(url, serve)
        kcs = topo.systems["KR-KCS"]

        def submit(n: int) -> str:
            co = sample_form_ak(f"KR-2026-HUP-{n:04d}", "KR", "ID", TODAY)
            xml, _, _ = kcs.document_for(co)
            return kcs.submit_soap(url, kcs.contract, kcs.envelope_for(co, f"K-hup-{n}"), xml).MsgId

        submit(0)
        nxt = make_test_pki(topo.settings.root / "next-pki", ["KR-KCS"])["KR-KCS"]
        kcs.signer = Signer(load_identity(nxt.key_file, nxt.cert_file, None))
        with pytest.raises(Fault):
            submit(1)  # not pinned yet
        pinned = topo.settings.partners["KR-KCS"].certificates[0]
        pinned.write_bytes(pinned.read_bytes() + nxt.cert_file.read_bytes())
        os.kill(serve.pid, signal.SIGHUP)
        deadline, n, accepted = time.monotonic() + 20, 2, None
        while accepted is None and time.monotonic() < deadline:
            try:
                accepted = submit(n)
            except Fault:
                n += 1
                time.sleep(0.2)
        assert accepted, "the new pin was not taken up after SIGHUP"
        assert serve.poll() is None  # the same service, never stopped
    finally:
        stop(serve)
