"""A whole exchange on loopback: test PKI, config, simulated KCS and AMS, the bridge.

Used by ``ak-bridge demo`` and by the end-to-end tests, so both run exactly the same set-up:
a generated test PKI (never committed), a config directory written like an operator would,
partner systems as real HTTP servers, and the bridge's real Flask app and worker.
"""

from __future__ import annotations

import hashlib
import secrets
import shutil
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from ak_bridge.bootstrap import build_exchange
from ak_bridge.config import load_settings
from ak_bridge.core.settings import Settings
from ak_bridge.formats import build_codecs, for_versions
from ak_bridge.security.signing import Signer, Verifier, load_identity, load_trusted
from ak_bridge.service.exchange import Exchange
from ak_bridge.sim.partners import AswGateway, PartnerSystem
from ak_bridge.sim.pki import PkiEntry, make_test_pki
from ak_bridge.sim.server import LiveServer, free_port
from ak_bridge.standard.contracts import AMS, KCS, SoapContract
from ak_bridge.templates import shipped_config

REPO_CONFIG = shipped_config()


@dataclass(frozen=True)
class PartnerSpec:
    partner_id: str
    country: str
    channel: str  # soap | rest
    format: str
    contract: SoapContract | None  # None for REST
    standard_versions: tuple[str, ...] = ("1.0",)  # e-Form AK versions it speaks


PILOT = (
    PartnerSpec("KR-KCS", "KR", "soap", "unipass", KCS),
    PartnerSpec("ID-SKA", "ID", "soap", "id_ska", AMS),
    PartnerSpec("VN-ECOSYS", "VN", "rest", "vn_ecosys", None),
)
THAILAND = PartnerSpec("TH-DFT", "TH", "soap", "th_dft", AMS)


@dataclass
class Topology:
    workdir: Path
    settings: Settings
    systems: dict[str, PartnerSystem]
    admin_token: str = ""
    asw: AswGateway | None = None
    bridge_server: LiveServer | None = None
    exchanges: list[Exchange] = field(default_factory=list)

    @property
    def bridge_url(self) -> str:
        assert self.bridge_server is not None
        return self.bridge_server.url

    def start_bridge(self) -> Exchange:
        """The bridge's real Flask app on a free loopback port."""
        from ak_bridge import create_app

        app = create_app(self.settings)
        self.bridge_server = LiveServer(app, port=self.settings.port).start()
        exchange: Exchange = app.extensions["ak_bridge"]
        self.exchanges.append(exchange)
        return exchange

    def worker_exchange(self, worker_id: str = "worker-1") -> Exchange:
        """A separate composition, as the worker process has its own."""
        ex = build_exchange(self.settings, worker_id=worker_id)
        self.exchanges.append(ex)
        return ex

    def stop(self) -> None:
        if self.bridge_server is not None:
            self.bridge_server.stop()
        for system in self.systems.values():
            system.stop()
        if self.asw is not None:
            self.asw.stop()
        for ex in self.exchanges:
            ex.store.close()


def _toml_str(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def build_topology(
    workdir: Path,
    specs: tuple[PartnerSpec, ...] = PILOT,
    *,
    retry: dict[str, float] | None = None,
    start_partners: tuple[str, ...] | None = None,
    timeout_seconds: float = 2.0,
    extra_partner_toml: str = "",
    asw: bool = False,
    database: str | None = None,
    partner_lines: Mapping[str, str] | None = None,
    uat: bool = False,
    identities: Mapping[str, tuple[Path, Path]] | None = None,
) -> Topology:
    """Write a config directory for ``specs`` and create (and start) the partner systems.

    Partners not in ``start_partners`` (default: all) are created with a reserved port but
    left down, so a test or the demo can bring them up later. ``database``: a PostgreSQL
    URL to share instead of the SQLite file in ``workdir``. ``partner_lines``: extra TOML
    lines for a partner's table (e.g. ``sign_receipts = true``). ``uat``: each partner also
    gets a ``uat_endpoint``, its simulator's ``/uat/…`` path. ``identities``: (key, cert)
    files a partner signs with instead of a fresh test PKI leaf (the sandbox's TEST-ONLY keys).
    """
    # Absolute: the config's relative paths are read from the config directory's parent,
    # so a relative workdir written into it would be doubled (var/demo/var/demo/pki/…).
    workdir = Path(workdir).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    pki_dir = workdir / "pki"
    names = ["bridge", *(s.partner_id for s in specs)]
    pki = make_test_pki(pki_dir, names)
    for pid, (key_file, cert_file) in (identities or {}).items():
        pki[pid] = PkiEntry(pid, key_file, cert_file, "rsa")
    config_dir = workdir / "config"
    (config_dir / "formats").mkdir(parents=True, exist_ok=True)
    for f in (REPO_CONFIG / "formats").glob("*.toml"):
        shutil.copy(f, config_dir / "formats" / f.name)
    shutil.copy(REPO_CONFIG / "refusal_reasons.toml", config_dir)  # the pilot's code list
    # the shipped working calendars: retroactive marking is checked as in production
    shutil.copy(REPO_CONFIG / "calendars.toml", config_dir / "calendars.toml")

    retry = retry or {
        "max_attempts": 6,
        "base_delay": 0.5,
        "factor": 2,
        "max_delay": 5,
        "jitter": 0.1,
    }
    retry_toml = "\n".join(f"{k} = {v}" for k, v in retry.items())
    bridge_port = free_port()
    tokens = {name: secrets.token_urlsafe(24) for name in ["admin", *(s.partner_id for s in specs)]}
    (config_dir / "ak_bridge.toml").write_text(
        f"""[service]
database = {_toml_str(database or str(workdir / "ak_bridge.db"))}
host = "127.0.0.1"
port = {bridge_port}
max_body_bytes = 1048576

[identity]
key_file = {_toml_str(str(pki["bridge"].key_file))}
cert_file = {_toml_str(str(pki["bridge"].cert_file))}

[worker]
interval_seconds = 0.2
batch_size = 50
claim_seconds = 30

[retry]
{retry_toml}

[auth]
admin_token_sha256 = ["{_sha256(tokens["admin"])}"]
"""
    )
    bridge_verifier = Verifier(load_trusted([pki["bridge"].cert_file]))
    ports: dict[str, int] = {}
    partner_toml = []
    for spec in specs:
        port = free_port()
        path = "/soap" if spec.contract else "/rest"
        wsdl = f'wsdl = "{spec.contract.wsdl}"\n' if spec.contract else ""
        if uat:
            wsdl += f'uat_endpoint = "http://127.0.0.1:{port}/uat{path}"\n'
        partner_toml.append(
            f"""[partners.{spec.partner_id}]
country = "{spec.country}"
channel = "{spec.channel}"
endpoint = "http://127.0.0.1:{port}{path}"
format = "{spec.format}"
{wsdl}certificates = [{_toml_str(str(pki[spec.partner_id].cert_file))}]
token_sha256 = ["{_sha256(tokens[spec.partner_id])}"]
timeout_seconds = {timeout_seconds}
standard_versions = [{", ".join(f'"{v}"' for v in spec.standard_versions)}]
{(partner_lines or {}).get(spec.partner_id, "")}"""
        )
        ports[spec.partner_id] = port
    asw_gateway = None
    if asw:  # the national ASW gateway a Form D is passed to, unchanged
        asw_port = free_port()
        asw_gateway = AswGateway().start(asw_port)
        partner_toml.append(
            f'[partners.ASW]\ncountry = "ASEAN"\nchannel = "asw"\n'
            f'endpoint = "http://127.0.0.1:{asw_port}/asw"\n' + (partner_lines or {}).get("ASW", "")
        )
    (config_dir / "partners.toml").write_text("\n".join(partner_toml) + extra_partner_toml)
    settings = load_settings(config_dir, environ={})
    codecs = build_codecs(settings.format_mappings)
    started = set(start_partners) if start_partners is not None else {s.partner_id for s in specs}
    systems: dict[str, PartnerSystem] = {}
    for spec in specs:
        identity = load_identity(
            pki[spec.partner_id].key_file, pki[spec.partner_id].cert_file, None
        )
        system = PartnerSystem(
            partner_id=spec.partner_id,
            country=spec.country,
            codec=for_versions(codecs[spec.format], spec.standard_versions),
            signer=Signer(identity),
            bridge_verifier=bridge_verifier,
            contract=spec.contract,
            token=tokens[spec.partner_id],
        )
        system.server = LiveServer(system.app(), port=ports[spec.partner_id])
        if spec.partner_id in started:
            system.start()
        systems[spec.partner_id] = system
    return Topology(
        workdir=workdir,
        settings=settings,
        systems=systems,
        admin_token=tokens["admin"],
        asw=asw_gateway,
    )


def _sha256(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
