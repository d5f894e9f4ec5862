"""Who gets in, and what each partner may do once in.

Authentication (web/auth.py): bearer tokens stored as SHA-256, an admin token, a client
certificate fingerprint believed only from a trusted TLS proxy. Every failure is the same
bare 401 that names nothing. Authorization (exchange.py): a partner submits only its own
country's certificates, only as itself, and reads the status only of certificates it issued
or imports; the admin reads everything. The matrix below is the whole policy as a table.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import secrets
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
import requests
from bridge_client import Answer, rest_json, rest_status, rest_submit, soap_query, soap_submit
from flask.testing import FlaskClient

from ak_bridge import create_app
from ak_bridge.adapters.web import soap
from ak_bridge.config import load_settings
from ak_bridge.core.errors import ConfigError
from ak_bridge.core.model import Envelope, FormAK
from ak_bridge.security.signing import load_trusted
from ak_bridge.service.exchange import Exchange
from ak_bridge.sim.certificates import sample_form_ak
from ak_bridge.sim.topology import Topology, build_topology
from ak_bridge.standard.contracts import AMS, KCS, SoapContract

TODAY = datetime.now(UTC).date()
PARTNERS = ("KR-KCS", "ID-SKA", "VN-ECOSYS")
COUNTRY = {"KR-KCS": "KR", "ID-SKA": "ID", "VN-ECOSYS": "VN"}
SOAP: dict[str, SoapContract] = {"KR-KCS": KCS, "ID-SKA": AMS}  # VN-ECOSYS speaks REST
_refs = itertools.count(100)


def reference(country: str) -> str:
    n = next(_refs)
    return {
        "KR": f"KR-2026-AK-{n:06d}",
        "ID": f"{n:04d}/SKA-AK/JKT/2026",
        "VN": f"VN-KR 26/01/{n:05d}",
    }[country]


@dataclass
class Bridge:
    topology: Topology
    exchange: Exchange
    seeded: dict[str, FormAK]  # issuing partner -> the CO it issued

    @property
    def url(self) -> str:
        return self.topology.bridge_url

    def headers(self, who: str) -> dict[str, str]:
        if who == "admin":
            return {"Authorization": f"Bearer {self.topology.admin_token}"}
        return self.topology.systems[who].auth_headers()

    def submit(
        self, caller: str, co: FormAK, *, sender: str | None = None, via: str | None = None
    ) -> Answer:
        """``caller``'s credentials on ``via``'s channel; the document is ``sender``'s own.

        The document is encoded and signed by the sender's system, so only the bridge's
        authorization (not a signature or format problem) can refuse it.
        """
        sender = sender or caller
        via = via or caller
        system = self.topology.systems[sender]
        envelope = system.envelope_for(co, f"MSG-{next(_refs)}")
        xml, doc, sig = system.document_for(co)
        if via in SOAP:
            assert xml is not None, "a SOAP channel carries an XML document"
            return soap_submit(self.url, SOAP[via], self.headers(caller), envelope, xml)
        body = (
            rest_json(envelope, doc, sig)
            if doc is not None
            else rest_json(envelope, None, None, xml)
        )
        return rest_submit(self.url, self.headers(caller), body)

    def status(self, caller: str, co: FormAK, *, via: str | None = None) -> Answer:
        via = via or caller
        if via in SOAP:
            return soap_query(
                self.url, SOAP[via], self.headers(caller), co.issuing_country, co.reference_no
            )
        return rest_status(self.url, self.headers(caller), co.issuing_country, co.reference_no)

    def counts(self) -> tuple[int, int, int]:
        db = self.exchange.store.db
        return tuple(  # type: ignore[return-value]
            db.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
            for t in ("messages", "deliveries", "audit")
        )


@pytest.fixture(scope="module")
def bridge(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bridge]:
    """A running bridge with one CO issued by each pilot partner: KR→ID, ID→VN, VN→KR."""
    topology = build_topology(tmp_path_factory.mktemp("auth") / "exchange", start_partners=())
    exchange = topology.start_bridge()
    b = Bridge(topology, exchange, {})
    for partner, importer in (("KR-KCS", "ID"), ("ID-SKA", "VN"), ("VN-ECOSYS", "KR")):
        co = sample_form_ak(reference(COUNTRY[partner]), COUNTRY[partner], importer, TODAY)
        answer = b.submit(partner, co)
        assert (answer.status, answer.outcome) == (200, "accepted"), answer.content[:300]
        b.seeded[partner] = co
    yield b
    topology.stop()


# --------------------------------------------------------------------------- authentication


def _credentials(b: Bridge) -> dict[str, dict[str, str | bytes]]:
    """Every way of not being authenticated; each must get the same bare 401."""
    kcs_token = b.topology.systems["KR-KCS"].token or ""
    return {
        "no header": {},
        "wrong token": {"Authorization": f"Bearer {secrets.token_urlsafe(24)}"},
        "stored hash used as token": {
            "Authorization": f"Bearer {hashlib.sha256(kcs_token.encode()).hexdigest()}"
        },
        "admin hash used as token": {
            "Authorization": f"Bearer {b.topology.settings.auth.admin_token_hashes[0]}"
        },
        "scheme only": {"Authorization": "Bearer"},
        "empty token": {"Authorization": "Bearer "},
        "token without scheme": {"Authorization": kcs_token},
        "basic auth with the token": {
            "Authorization": "Basic " + base64.b64encode(f"KR-KCS:{kcs_token}".encode()).decode()
        },
        "two tokens": {"Authorization": f"Bearer {kcs_token} {kcs_token}"},
        "overlong header": {"Authorization": f"Bearer {kcs_token}{'A' * 600}"},
        "binary garbage": {"Authorization": b"Bearer \xff\xfe\x00\x01"},
        "client-cert header from an untrusted address": {"X-SSL-Client-SHA256": "00" * 32},
    }


def _unauthenticated_call(b: Bridge, endpoint: str, headers: dict) -> requests.Response:
    co = b.seeded["KR-KCS"]
    if endpoint == "rest status":
        url = f"{b.url}/rest/v1/certificates/{co.issuing_country}/{co.reference_no}"
        return requests.get(url, headers=headers, timeout=10)
    if endpoint == "rest submit":
        body = rest_json(b.topology.systems["VN-ECOSYS"].envelope_for(co, "X"), {}, b"x")
        return requests.post(f"{b.url}/rest/v1/documents", json=body, headers=headers, timeout=10)
    contract = KCS if endpoint == "soap/kcs" else AMS
    sender = "KR-KCS" if contract is KCS else "ID-SKA"
    system = b.topology.systems[sender]
    fresh = sample_form_ak(reference(COUNTRY[sender]), COUNTRY[sender], "VN", TODAY)
    xml, _, _ = system.document_for(fresh)
    data = soap.submit_request(contract, system.envelope_for(fresh, "X"), xml or b"")
    return requests.post(
        b.url + contract.path,
        data=data,
        headers={**headers, "Content-Type": soap.CONTENT_TYPE},
        timeout=10,
    )


@pytest.mark.parametrize("endpoint", ["soap/kcs", "soap/ams", "rest submit", "rest status"])
def test_every_failed_authentication_is_the_same_bare_401(bridge: Bridge, endpoint: str) -> None:
    b = bridge
    forbidden = [*PARTNERS, "admin", "token", "sha256"]
    forbidden += [p.name for p in b.topology.settings.partners.values()]
    for partner in b.topology.settings.partners.values():
        forbidden += list(partner.token_hashes)
    forbidden += list(b.topology.settings.auth.admin_token_hashes)
    forbidden += [s.token or "" for s in b.topology.systems.values()]
    bodies = set()
    for name, headers in _credentials(b).items():
        messages, deliveries, audit = b.counts()
        resp = _unauthenticated_call(b, endpoint, headers)
        assert resp.status_code == 401, (name, resp.content[:300])
        assert b"unauthenticated" in resp.content, name
        for word in forbidden:
            assert word.encode() not in resp.content, f"{name}: the 401 names {word[:20]!r}"
        bodies.add(resp.content)
        # No client_cert_header is configured: that header is ignored, so this failure is
        # identical to "no header" and only counted in its series (no row of its own).
        repeat = name == "client-cert header from an untrusted address"
        assert b.counts() == (messages, deliveries, audit + (0 if repeat else 1)), name
        (row,) = b.exchange.store.audit_events("rejected", limit=1)
        assert (row["code"], row["partner"], row["message_id"]) == ("unauthenticated", None, None)
    assert len(bodies) == 1, "a caller can tell failures apart"


def test_health_endpoints_need_no_authentication(bridge: Bridge) -> None:
    assert requests.get(bridge.url + "/healthz", timeout=5).status_code == 200
    ready = requests.get(bridge.url + "/readyz", timeout=5)
    assert ready.status_code in (200, 503)  # no worker runs here; either way, not 401
    assert ready.json()["status"] in ("ready", "not_ready")


def _variant(
    b: Bridge, tmp_path: Path, *, partners_extra: dict[str, str], auth_extra: str = ""
) -> FlaskClient:
    """The topology's config with extra lines, served by a fresh app (own database)."""
    config = tmp_path / "config"
    shutil.copytree(b.topology.settings.root / "config", config)
    text = (config / "partners.toml").read_text()
    for pid, lines in partners_extra.items():
        text = text.replace(f"[partners.{pid}]\n", f"[partners.{pid}]\n{lines}\n")
    (config / "partners.toml").write_text(text)
    main = (config / "ak_bridge.toml").read_text()
    assert main.rstrip().splitlines()[-1].startswith("admin_token_sha256"), "[auth] must be last"
    (config / "ak_bridge.toml").write_text(main + auth_extra)
    settings = load_settings(config, environ={"AK_BRIDGE_DATABASE": str(tmp_path / "v.db")})
    app = create_app(settings)
    return app.test_client()


def test_a_disabled_partners_token_is_refused(bridge: Bridge, tmp_path: Path) -> None:
    client = _variant(bridge, tmp_path, partners_extra={"VN-ECOSYS": "enabled = false"})
    vn = bridge.topology.systems["VN-ECOSYS"]
    co = sample_form_ak(reference("VN"), "VN", "KR", TODAY)
    _, doc, sig = vn.document_for(co)
    body = rest_json(vn.envelope_for(co, "VN-DISABLED"), doc, sig)
    resp = client.post("/rest/v1/documents", json=body, headers=vn.auth_headers())
    assert resp.status_code == 401
    assert b"VN-ECOSYS" not in resp.data
    resp = client.get("/rest/v1/certificates/VN/nothing", headers=vn.auth_headers())
    assert resp.status_code == 401
    # The other partners are unaffected (404: authenticated, and nothing there).
    resp = client.get("/rest/v1/certificates/VN/nothing", headers=bridge.headers("KR-KCS"))
    assert resp.status_code == 404


def test_client_certificate_header_is_believed_only_from_a_trusted_proxy(
    bridge: Bridge, tmp_path: Path
) -> None:
    vn_cert = bridge.topology.settings.partners["VN-ECOSYS"].certificates[0]
    (pinned,) = load_trusted([vn_cert])
    client = _variant(
        bridge,
        tmp_path,
        partners_extra={"VN-ECOSYS": f'client_cert_sha256 = ["{pinned.fingerprint}"]'},
        auth_extra='client_cert_header = "X-SSL-Client-SHA256"\ntrusted_proxies = ["10.0.0.5"]\n',
    )
    proxy = {"REMOTE_ADDR": "10.0.0.5"}
    direct = {"REMOTE_ADDR": "127.0.0.1"}
    colons = ":".join(pinned.fingerprint[i : i + 2] for i in range(0, 64, 2)).upper()
    path = "/rest/v1/certificates/VN/nothing"

    def status(environ: dict[str, str], headers: dict[str, str]) -> int:
        return client.get(path, headers=headers, environ_base=environ).status_code

    assert status(proxy, {"X-SSL-Client-SHA256": pinned.fingerprint}) == 404  # in, nothing there
    assert status(proxy, {"X-SSL-Client-SHA256": colons}) == 404  # proxies' usual spelling
    assert status(proxy, {"X-SSL-Client-SHA256": "ab" * 32}) == 401
    assert status(proxy, {}) == 401
    assert status(direct, {"X-SSL-Client-SHA256": pinned.fingerprint}) == 401
    spoofed = {"X-SSL-Client-SHA256": pinned.fingerprint, "X-Forwarded-For": "10.0.0.5"}
    assert status(direct, spoofed) == 401

    # Through the proxy, the certificate is a full identity: VN submits its own CO.
    vn = bridge.topology.systems["VN-ECOSYS"]
    co = sample_form_ak(reference("VN"), "VN", "KR", TODAY)
    _, doc, sig = vn.document_for(co)
    resp = client.post(
        "/rest/v1/documents",
        json=rest_json(vn.envelope_for(co, "VN-CERT"), doc, sig),
        headers={"X-SSL-Client-SHA256": pinned.fingerprint},
        environ_base=proxy,
    )
    assert resp.status_code == 200, resp.data
    assert resp.get_json()["status"] == "accepted"


def test_client_cert_header_without_trusted_proxies_is_a_config_error(
    bridge: Bridge, tmp_path: Path
) -> None:
    with pytest.raises(ConfigError, match="trusted_proxies"):
        _variant(bridge, tmp_path, partners_extra={}, auth_extra='client_cert_header = "X-C"\n')


# --------------------------------------------------------------------------- authorization

_IMPORTS = {"KR-KCS": "VN-ECOSYS", "ID-SKA": "KR-KCS", "VN-ECOSYS": "ID-SKA"}  # CO it imports
_NEITHER = {"KR-KCS": "ID-SKA", "ID-SKA": "VN-ECOSYS", "VN-ECOSYS": "KR-KCS"}
_OTHER_COUNTRY = {"KR-KCS": ("VN", "ID"), "ID-SKA": ("KR", "VN"), "VN-ECOSYS": ("ID", "KR")}
# Whose genuine document a partner tries to pass off; XML on a SOAP channel.
_IMPERSONATES = {"KR-KCS": "ID-SKA", "ID-SKA": "KR-KCS", "VN-ECOSYS": "KR-KCS"}

MATRIX = [
    *(
        (partner, operation, expected)
        for partner in PARTNERS
        for operation, expected in (
            ("submit a CO issued in its own country", "accepted"),
            ("submit a CO issued in another country", "not_authorized"),
            ("send as another sender id", "not_authorized"),
            ("query status of a CO it issued", "ISSUED"),
            ("query status of a CO it imports", "ISSUED"),
            ("query status of a CO it neither issued nor imports", "not_found"),
        )
    ),
    *(
        ("admin", f"query status of {p}'s CO over {via}", "ISSUED")
        for p in PARTNERS
        for via in ("rest", "soap/ams")
    ),
    ("admin", "submit as a partner", "not_authorized"),
]


@pytest.mark.parametrize(
    ("who", "operation", "expected"), MATRIX, ids=[f"{w}: {o}" for w, o, _ in MATRIX]
)
def test_authorization_matrix(bridge: Bridge, who: str, operation: str, expected: str) -> None:
    b = bridge
    before = b.counts()
    if operation == "submit a CO issued in its own country":
        country = COUNTRY[who]
        answer = b.submit(who, sample_form_ak(reference(country), country, _other(country), TODAY))
    elif operation == "submit a CO issued in another country":
        issuing, importing = _OTHER_COUNTRY[who]
        answer = b.submit(who, sample_form_ak(reference(issuing), issuing, importing, TODAY))
    elif operation == "send as another sender id":
        victim = _IMPERSONATES[who]
        country = COUNTRY[victim]
        co = sample_form_ak(reference(country), country, _other(country), TODAY)
        answer = b.submit(who, co, sender=victim)
    elif operation == "submit as a partner":
        co = sample_form_ak(reference("KR"), "KR", "ID", TODAY)
        answer = b.submit("admin", co, sender="KR-KCS", via="KR-KCS")
    elif operation == "query status of a CO it issued":
        answer = b.status(who, b.seeded[who])
    elif operation == "query status of a CO it imports":
        answer = b.status(who, b.seeded[_IMPORTS[who]])
    elif operation == "query status of a CO it neither issued nor imports":
        answer = b.status(who, b.seeded[_NEITHER[who]])
    else:  # admin queries
        issuer = operation.split("'")[0].removeprefix("query status of ")
        via = "VN-ECOSYS" if operation.endswith("rest") else "ID-SKA"  # REST or the AMS contract
        answer = b.status("admin", b.seeded[issuer], via=via)

    messages, deliveries, audit = b.counts()
    if expected == "accepted":
        assert (answer.status, answer.outcome) == (200, "accepted"), answer.content[:300]
        assert (messages, deliveries) == (before[0] + 1, before[1] + 1)
    elif expected == "ISSUED":
        assert (answer.status, answer.code, answer.outcome) == (200, None, "ISSUED")
        assert (messages, deliveries) == before[:2]
    else:
        assert answer.code == expected, answer.content[:300]
        assert (messages, deliveries, audit) == (before[0], before[1], before[2] + 1)
        (row,) = b.exchange.store.audit_events("rejected", limit=1)
        assert row["code"] == expected


def _other(country: str) -> str:
    """An importing country with a configured partner, other than ``country``."""
    return {"KR": "ID", "ID": "VN", "VN": "KR"}[country]


def test_not_yours_is_indistinguishable_from_not_there(bridge: Bridge) -> None:
    """A partner cannot probe which COs exist between two other countries."""
    b = bridge
    for who in PARTNERS:
        theirs = b.seeded[_NEITHER[who]]
        ghost = replace(theirs, reference_no=reference(theirs.issuing_country))
        a, g = b.status(who, theirs), b.status(who, ghost)
        assert (a.status, a.code) == (g.status, g.code) == (a.status, "not_found")
        assert a.content.replace(theirs.reference_no.encode(), b"REF") == g.content.replace(
            ghost.reference_no.encode(), b"REF"
        )
        assert b"ISSUED" not in a.content and b"received" not in a.content


def test_an_envelope_is_not_a_credential(bridge: Bridge) -> None:
    """A valid sender id and a valid signature, but no token: refused before anything else."""
    b = bridge
    kcs = b.topology.systems["KR-KCS"]
    co = sample_form_ak(reference("KR"), "KR", "ID", TODAY)
    xml, _, _ = kcs.document_for(co)
    envelope: Envelope = kcs.envelope_for(co, "NO-TOKEN")
    before = b.counts()
    answer = soap_submit(b.url, KCS, {}, envelope, xml or b"")
    assert (answer.status, answer.code) == (401, "unauthenticated")
    assert b.counts()[:2] == before[:2]
