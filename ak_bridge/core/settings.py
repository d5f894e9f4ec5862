"""The bridge's settings as typed, checked values: what ``ak_bridge.config`` reads into.

Pure data, so the core (routing) can take decisions over partners without touching files or
the environment; reading, defaults and checks live in ``ak_bridge.config``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from ak_bridge.core.calendars import Calendars
from ak_bridge.core.retry import RetryPolicy


class Channel(StrEnum):
    SOAP = "soap"
    REST = "rest"
    ASW = "asw"


@dataclass(frozen=True)
class OutboundAuth:
    """How the bridge proves who it is to a partner, and checks that it is the partner.

    Secrets are read from the environment variables the configuration names (config.py);
    ``repr`` never shows them. A pin alone trusts exactly that server certificate (self-signed
    is fine); with ``ca_file`` as well, the chain must verify too.
    """

    bearer_token: str | None = field(default=None, repr=False)
    basic_user: str | None = None
    basic_password: str | None = field(default=None, repr=False)
    client_cert_file: Path | None = None
    client_key_file: Path | None = None
    ca_file: Path | None = None
    server_cert_sha256: str | None = None  # hex SHA-256 of the DER server certificate


ISSUING_AUTHORITY = "issuing_authority"  # issues COs, answers verification requests
IMPORT_CUSTOMS = "import_customs"  # receives COs, decides preference, asks for verification
ROLES = (ISSUING_AUTHORITY, IMPORT_CUSTOMS)


@dataclass(frozen=True)
class PartnerConfig:
    """One partner system (KCS, an AMS national CO system, or the ASW gateway)."""

    id: str
    country: str
    channel: Channel
    endpoint: str
    format: str
    certificates: tuple[Path, ...]
    retry: RetryPolicy
    name: str = ""
    wsdl: Path | None = None
    binding: str | None = None
    enabled: bool = True
    timeout_seconds: float = 10.0
    max_in_flight: int = 4
    rules: Mapping[str, Any] = field(default_factory=dict)
    shadow: bool = False  # build, sign and store its deliveries, but do not send them yet
    token_hashes: tuple[str, ...] = ()  # SHA-256 hex of the partner's bearer tokens
    client_cert_hashes: tuple[str, ...] = ()  # SHA-256 of client certs seen by a TLS proxy
    sign_receipts: bool = False  # its receipts carry our signed receipt (proof of receipt)
    uat_endpoint: str | None = None  # its test system: what ``conformance`` sends to
    outbound: OutboundAuth = field(default_factory=OutboundAuth)
    # Agreements other than AKFTA (e.g. IKCEPA) whose messages are passed to this partner raw.
    gateway_for_agreements: tuple[str, ...] = ()
    # What it is in the exchange (issue 11). Default both: a national system that issues its
    # COs and receives the other Parties' ones, as every partner did before roles existed.
    roles: tuple[str, ...] = ROLES
    standard_versions: tuple[str, ...] = ("1.0",)  # e-Form AK versions it speaks (issue 11)


@dataclass(frozen=True)
class AuthSettings:
    """Who may call: partners by token or client certificate, admins by their own token."""

    required: bool = True
    admin_token_hashes: tuple[str, ...] = ()
    client_cert_header: str | None = None  # set by the TLS-terminating proxy
    trusted_proxies: tuple[str, ...] = ()  # only their client_cert_header is believed
    metrics_public: bool = False  # /metrics without the admin token (a private bind only)


@dataclass(frozen=True)
class ConsoleSettings:
    """The web console at /admin, from the environment (config.py reads it).

    ``secret`` (AK_BRIDGE_CONSOLE_SECRET) signs the sessions and must be the same on every
    instance; without it /admin answers 503. ``secure_cookies`` is False only with
    AK_BRIDGE_CONSOLE_HTTP=1, for a plain-HTTP loopback test.
    """

    secret: str | None = field(default=None, repr=False)  # never in a log line
    secure_cookies: bool = True


@dataclass(frozen=True)
class EdgeSettings:
    """How ``serve`` treats connections: read deadlines and caps against slow clients."""

    header_timeout_seconds: float = 10.0  # first byte awaited to the end of the headers
    body_timeout_seconds: float = 60.0  # end of the headers to the end of the body
    max_connections: int = 1000  # open connections per web process, slow ones included
    threads: int = 4  # per web process; they only ever see whole requests
    keepalive_seconds: int = 5  # an idle kept-alive connection is closed after this


@dataclass(frozen=True)
class AlertSettings:
    """Where the worker sends alerts (``[alerts]``); no sink configured: alerts are only logged."""

    webhook_url: str | None = None
    smtp_host: str | None = None
    smtp_port: int = 25
    smtp_from: str | None = None
    smtp_to: tuple[str, ...] = ()
    smtp_starttls: bool = False
    smtp_user: str | None = None
    smtp_password: str | None = field(default=None, repr=False)  # from smtp_password_env
    expiry_days: int = 30  # a certificate expiring within this many days alerts
    interval_seconds: float = 60.0  # how often the worker checks the conditions
    audit_interval_seconds: float = 3600.0  # the audit chain walk (~14 µs a row) runs less often
    timeout_seconds: float = 5.0  # per webhook POST / SMTP conversation
    queue_size: int = 100  # alerts waiting for a sink; beyond it they are dropped (logged)

    @property
    def smtp(self) -> bool:
        return bool(self.smtp_host and self.smtp_from and self.smtp_to)


@dataclass(frozen=True)
class Settings:
    """Everything the bridge needs to run, resolved and checked."""

    root: Path
    database: Path | str  # a SQLite file, or a postgresql:// URL (no password in it)
    host: str
    port: int
    max_body_bytes: int
    identity_key: Path
    identity_cert: Path
    identity_passphrase: bytes | None = field(repr=False)  # never in a log line
    partners: Mapping[str, PartnerConfig]
    format_mappings: Mapping[str, Mapping[str, Any]]
    worker_interval_seconds: float = 2.0
    worker_batch_size: int = 50
    claim_seconds: int = 120
    default_retry: RetryPolicy = field(default_factory=RetryPolicy)
    asw_partner: str | None = None
    workers: int = 2  # web processes (gunicorn); about one per core
    auth: AuthSettings = field(default_factory=AuthSettings)
    edge: EdgeSettings = field(default_factory=EdgeSettings)
    console: ConsoleSettings = field(default_factory=ConsoleSettings)
    database_password: str | None = field(default=None, repr=False)  # PostgreSQL only
    calendars: Calendars = field(default_factory=Calendars)  # config/calendars.toml
    # The passphrase variable named by identity.key_passphrase_env when it is not set: only
    # what signs (serve, worker, anchors, evidence) fails on it; read-only commands go on.
    identity_passphrase_unset: str | None = None
    metrics_dir: Path | None = None  # shared by serve and worker for /metrics' counters
    alerts: AlertSettings = field(default_factory=AlertSettings)
    # config/refusal_reasons.toml: code -> meaning; empty = reason codes are not checked
    refusal_reasons: Mapping[str, str] = field(default_factory=dict)

    def partner(self, partner_id: str) -> PartnerConfig | None:
        return self.partners.get(partner_id)

    def partner_for_country(self, country: str) -> PartnerConfig | None:
        """The enabled Form AK partner of a country (the ASW is never one)."""
        for p in self.partners.values():
            if p.country == country and p.channel is not Channel.ASW and p.enabled:
                return p
        return None
