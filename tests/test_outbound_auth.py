"""Issue 10 part 4: the bridge authenticates itself to partners and checks who they are.

Each test is a real delivery by the worker to a simulated partner serving HTTPS on loopback
with a TLS CA made for this run: a bearer token or HTTP basic from the environment, a client
certificate the partner demands, the partner's CA or a pin of its server certificate. A
wrong server certificate is refused before anything is sent, as failure class ``tls``.
"""

from __future__ import annotations

import base64
import dataclasses
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ak_bridge.bootstrap import build_exchange
from ak_bridge.config import load_settings
from ak_bridge.core.errors import ConfigError
from ak_bridge.core.settings import OutboundAuth
from ak_bridge.service.exchange import Exchange
from ak_bridge.sim.certificates import sample_form_ak
from ak_bridge.sim.partners import PartnerSystem
from ak_bridge.sim.tls_pki import TlsPki, make_tls_pki
from ak_bridge.sim.topology import Topology

TODAY = datetime.now(UTC).date()


@pytest.fixture
def tls(tmp_path: Path) -> TlsPki:
    return make_tls_pki(tmp_path / "tls", "partner")


def _https(system: PartnerSystem, tls: TlsPki, client_cert: bool = False) -> None:
    """The partner's receiver moves to HTTPS (a new port), optionally demanding our cert."""
    system.stop()
    system.server = None
    system.start(ssl_context=tls.server_context(require_client_cert=client_cert))


def _deliver(topology: Topology, pid: str, auth: OutboundAuth, n: int) -> dict:
    """KCS sends a CO to ``pid``; a worker configured with ``auth`` delivers it once."""
    system = topology.systems[pid]
    ref = f"KR-TLS-{pid}-{n}"
    topology.systems["KR-KCS"].submit(
        topology.bridge_url, sample_form_ak(ref, "KR", system.country, TODAY), f"KCS-TLS-{n}"
    )
    settings = topology.settings
    partner = dataclasses.replace(settings.partners[pid], endpoint=system.endpoint, outbound=auth)
    worker: Exchange = build_exchange(
        dataclasses.replace(settings, partners={**settings.partners, pid: partner}),
        worker_id=f"tls-{n}",
    )
    topology.exchanges.append(worker)
    worker.deliver_due()
    [message] = [m for m in worker.store.messages_for_certificate("KR", ref) if m.direction == "in"]
    [delivery] = worker.store.deliveries_for(message.id)
    return {"status": delivery.status, "class": delivery.last_failure_class}


@pytest.mark.parametrize("pid", ["VN-ECOSYS", "ID-SKA"])  # REST, then SOAP (zeep)
def test_bearer_token_and_ca_bundle_deliver(
    topology: Topology, bridge: Exchange, tls: TlsPki, pid: str
) -> None:
    system = topology.systems[pid]
    system.expect_authorization = "Bearer s3cret-outbound"
    _https(system, tls)
    auth = OutboundAuth(bearer_token="s3cret-outbound", ca_file=tls.ca_cert)
    assert _deliver(topology, pid, auth, 1) == {"status": "delivered", "class": None}
    assert len(system.received) == 1 and not system.errors


def test_http_basic_and_pinned_server_certificate_deliver(
    topology: Topology, bridge: Exchange, tls: TlsPki
) -> None:
    system = topology.systems["VN-ECOSYS"]
    system.expect_authorization = "Basic " + base64.b64encode(b"akb:pw").decode()
    _https(system, tls)
    auth = OutboundAuth(basic_user="akb", basic_password="pw", server_cert_sha256=tls.server_sha256)
    assert _deliver(topology, "VN-ECOSYS", auth, 1)["status"] == "delivered"


@pytest.mark.parametrize("token", [None, "wrong"])
def test_a_missing_or_wrong_token_gets_401_class_auth_and_is_retried(
    topology: Topology, bridge: Exchange, tls: TlsPki, token: str | None
) -> None:
    system = topology.systems["VN-ECOSYS"]
    system.expect_authorization = "Bearer right"
    _https(system, tls)
    auth = OutboundAuth(bearer_token=token, ca_file=tls.ca_cert)
    outcome = _deliver(topology, "VN-ECOSYS", auth, 1)
    assert outcome == {"status": "waiting_retry", "class": "auth"}
    assert system.received == [] and system.errors == ["unauthenticated request refused (401)"]


@pytest.mark.parametrize("trust", ["other_ca", "pin_mismatch", "no_trust_configured"])
def test_a_wrong_server_certificate_is_refused_as_tls(
    topology: Topology, bridge: Exchange, tls: TlsPki, tmp_path: Path, trust: str
) -> None:
    system = topology.systems["VN-ECOSYS"]
    _https(system, tls)
    other = make_tls_pki(tmp_path / "other", "impostor")
    auth = {
        "other_ca": OutboundAuth(ca_file=other.ca_cert),
        "pin_mismatch": OutboundAuth(server_cert_sha256=other.server_sha256),
        "no_trust_configured": OutboundAuth(),  # the system store does not know a test CA
    }[trust]
    assert _deliver(topology, "VN-ECOSYS", auth, 1) == {"status": "waiting_retry", "class": "tls"}
    assert system.hits == 0  # refused at the handshake: not a byte of the message was sent


@pytest.mark.parametrize("pid", ["VN-ECOSYS", "ID-SKA"])
def test_a_partner_that_requires_a_client_certificate_gets_ours(
    topology: Topology, bridge: Exchange, tls: TlsPki, pid: str
) -> None:
    system = topology.systems[pid]
    _https(system, tls, client_cert=True)
    without = OutboundAuth(ca_file=tls.ca_cert)
    refused = _deliver(topology, pid, without, 1)
    assert refused["status"] == "waiting_retry" and refused["class"] == "tls"
    assert system.hits == 0  # the partner's TLS layer refused us: its app saw nothing
    mine = dataclasses.replace(
        without, client_cert_file=tls.client_cert, client_key_file=tls.client_key
    )
    assert _deliver(topology, pid, mine, 2) == {"status": "delivered", "class": None}
    assert len(system.received) == 1


def _config(tmp_path: Path, outbound: str) -> Path:
    """The demo's configuration with an ``[partners.VN-ECOSYS.outbound]`` table added."""
    from ak_bridge.sim.topology import build_topology

    build_topology(tmp_path / "cfg", start_partners=())
    cfg = tmp_path / "cfg" / "config"
    with (cfg / "partners.toml").open("a") as f:
        f.write("\n[partners.VN-ECOSYS.outbound]\n" + outbound)
    return cfg


def test_secrets_come_from_the_environment_never_the_file(tmp_path: Path, tls: TlsPki) -> None:
    cfg = _config(
        tmp_path,
        f'bearer_token_env = "VN_OUT_TOKEN"\nca_file = "{tls.ca_cert}"\n'
        f'server_cert_sha256 = "{tls.server_sha256.upper()}"\n',
    )
    settings = load_settings(cfg, environ={"VN_OUT_TOKEN": "tok-from-env"})
    auth = settings.partners["VN-ECOSYS"].outbound
    assert auth.bearer_token == "tok-from-env" and auth.ca_file == tls.ca_cert
    assert auth.server_cert_sha256 == tls.server_sha256
    assert "tok-from-env" not in repr(settings)
    with pytest.raises(ConfigError, match="VN_OUT_TOKEN is not set"):
        load_settings(cfg, environ={})


def test_an_inline_secret_is_refused(tmp_path: Path) -> None:
    cfg = _config(tmp_path, 'bearer_token = "inline-secret"\n')
    with pytest.raises(ConfigError, match="unknown key"):
        load_settings(cfg, environ={})


def test_a_token_is_never_configured_for_a_plain_http_endpoint(tmp_path: Path) -> None:
    cfg = _config(tmp_path, 'bearer_token_env = "VN_OUT_TOKEN"\n')
    partners = cfg / "partners.toml"
    text = partners.read_text()
    start = text.index("[partners.VN-ECOSYS]")
    line_start = text.index("endpoint = ", start)
    line_end = text.index("\n", line_start)
    partners.write_text(
        text[:line_start] + 'endpoint = "http://ecosys.example.vn/rest"' + text[line_end:]
    )
    with pytest.raises(ConfigError, match="credentials would go in clear"):
        load_settings(cfg, environ={"VN_OUT_TOKEN": "t"})
    partners.write_text(
        text[:line_start] + 'endpoint = "https://ecosys.example.vn/rest"' + text[line_end:]
    )
    assert load_settings(cfg, environ={"VN_OUT_TOKEN": "t"}).partners["VN-ECOSYS"].outbound
