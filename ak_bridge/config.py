"""The one reader of ``config/`` and of ``AK_BRIDGE_*`` environment variables.

Everything else receives a frozen :class:`Settings`. Secrets never sit in the TOML: it names
the environment variable that holds a key passphrase, and the variable is read here once.
A bad file or key raises :class:`ConfigError` naming the file and the key, at start-up.

Layout of a config directory::

    ak_bridge.toml          [service] [identity] [worker] [retry] [auth]
    partners.toml           [partners.<ID>] one table per partner
    formats/<name>.toml     declarative mapping of a national format (see formats/mapped.py)

Relative paths in the TOML are relative to the config directory's parent (the deployment
root), so ``var/pki/bridge.pem`` means ``<root>/var/pki/bridge.pem``.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import fields, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ak_bridge.config_schema import (
    MainSchema,
    PartnerSchema,
    PartnersFileSchema,
    RefusalReasonsSchema,
    RulesSchema,
    check,
)
from ak_bridge.core.calendars import Calendars, calendar_from_table
from ak_bridge.core.errors import ConfigError
from ak_bridge.core.retry import RetryPolicy
from ak_bridge.core.settings import (
    ROLES,
    AlertSettings,
    AuthSettings,
    Channel,
    ConsoleSettings,
    EdgeSettings,
    OutboundAuth,
    PartnerConfig,
    Settings,
)
from ak_bridge.core.versions import STANDARD_VERSIONS
from ak_bridge.standard import WSDL_DIR


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(str(path), "-", "file not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(str(path), "-", f"not valid TOML: {exc}") from None


def _get(table: Mapping[str, Any], key: str, kind: type, source: str, prefix: str) -> Any:
    if key not in table:
        raise ConfigError(source, f"{prefix}{key}", "missing")
    value = table[key]
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ConfigError(source, f"{prefix}{key}", f"must be {kind.__name__}")
    return value


def _opt(
    table: Mapping[str, Any], key: str, kind: type, default: Any, source: str, prefix: str
) -> Any:
    """An optional key: its default when absent, else checked like :func:`_get`."""
    return _get(table, key, kind, source, prefix) if key in table else default


def _retry(table: Mapping[str, Any], base: RetryPolicy, source: str, prefix: str) -> RetryPolicy:
    known = {f.name for f in fields(RetryPolicy)}
    for key in table:
        if key not in known:
            raise ConfigError(
                source, f"{prefix}{key}", f"unknown retry setting; use {sorted(known)}"
            )
    values = {}
    for key, value in table.items():
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(source, f"{prefix}{key}", "must be a number")
        values[key] = value
    try:
        return replace(base, **values)
    except ValueError as exc:
        raise ConfigError(source, prefix.rstrip("."), str(exc)) from None


def _wsdl(root: Path, name: str) -> Path:
    """A deployment's own wsdl/ wins; otherwise the contracts shipped with ak-bridge."""
    local = root / "wsdl" / name
    return local if local.exists() else WSDL_DIR / name


def _standard_versions(table: Mapping[str, Any], source: str, prefix: str) -> tuple[str, ...]:
    """The e-Form AK standard versions a partner speaks (default 1.0 only, issue 11)."""
    values = table.get("standard_versions", ["1.0"])
    if not values or any(v not in STANDARD_VERSIONS for v in values):
        raise ConfigError(
            source,
            f"{prefix}standard_versions",
            f"must be a non-empty list of {', '.join(STANDARD_VERSIONS)}",
        )
    return tuple(values)


def _hashes(table: Mapping[str, Any], key: str, source: str, prefix: str) -> tuple[str, ...]:
    """A list of SHA-256 hex digests (never the secrets themselves)."""
    values = table.get(key, [])
    if isinstance(values, str):
        values = [values]
    out = []
    for v in values:
        if not isinstance(v, str) or len(v) != 64 or any(c not in "0123456789abcdef" for c in v):
            raise ConfigError(source, f"{prefix}{key}", "must be SHA-256 hex digests (64 chars)")
        out.append(v)
    return tuple(out)


def _auth(table: Mapping[str, Any], source: str) -> AuthSettings:
    header = table.get("client_cert_header")
    proxies = table.get("trusted_proxies", [])
    if header and not proxies:
        raise ConfigError(
            source, "auth.trusted_proxies", "client_cert_header needs trusted proxies"
        )
    return AuthSettings(
        required=bool(table.get("required", True)),
        admin_token_hashes=_hashes(table, "admin_token_sha256", source, "auth."),
        client_cert_header=header,
        trusted_proxies=tuple(proxies),
        metrics_public=bool(table.get("metrics_public", False)),
    )


def _edge(service: Mapping[str, Any], source: str) -> EdgeSettings:
    """``[service]`` keys for slow clients; each must be positive."""
    base = EdgeSettings()
    values = {
        "header_timeout_seconds": _opt(
            service,
            "header_timeout_seconds",
            float,
            base.header_timeout_seconds,
            source,
            "service.",
        ),
        "body_timeout_seconds": _opt(
            service, "body_timeout_seconds", float, base.body_timeout_seconds, source, "service."
        ),
        "max_connections": _opt(
            service, "max_connections", int, base.max_connections, source, "service."
        ),
        "threads": _opt(service, "threads", int, base.threads, source, "service."),
        "keepalive_seconds": _opt(
            service, "keepalive_seconds", int, base.keepalive_seconds, source, "service."
        ),
    }
    for key, value in values.items():
        if value <= 0:
            raise ConfigError(source, f"service.{key}", "must be positive")
    if values["max_connections"] <= values["threads"]:
        raise ConfigError(source, "service.max_connections", "must be more than service.threads")
    return EdgeSettings(**values)


def _alerts(table: Mapping[str, Any], environ: Mapping[str, str], source: str) -> AlertSettings:
    """``[alerts]``: the sinks, the expiry horizon, the check interval (already type-checked)."""
    base = AlertSettings()
    values = {k: v for k, v in table.items() if k != "smtp_password_env"}
    if "smtp_to" in values:
        values["smtp_to"] = tuple(values["smtp_to"])
    positive = ("smtp_port", "expiry_days", "interval_seconds", "audit_interval_seconds")
    for key in (*positive, "timeout_seconds", "queue_size"):
        if values.get(key, 1) <= 0:
            raise ConfigError(source, f"alerts.{key}", "must be positive")
    url = values.get("webhook_url")
    if url is not None and not url.startswith(("http://", "https://")):
        raise ConfigError(source, "alerts.webhook_url", "must be an http:// or https:// URL")
    if values.get("smtp_host") and not (values.get("smtp_from") and values.get("smtp_to")):
        raise ConfigError(source, "alerts.smtp_to", "smtp_host needs smtp_from and smtp_to")
    env = table.get("smtp_password_env")
    password = environ.get(env) if env else None
    return AlertSettings(**{**vars(base), **values, "smtp_password": password})


def _outbound(
    table: Mapping[str, Any],
    environ: Mapping[str, str],
    src: str,
    pre: str,
    path: Any,
    endpoints: tuple[str | None, ...] = (),
) -> OutboundAuth:
    """``[partners.X.outbound]``: secrets come from the variables it names, read here once.

    A named variable that is unset stops the start: a partner would otherwise get
    unauthenticated requests and answer 401 to every delivery. A token or password is never
    sent in clear: with one, every endpoint but a loopback one must be ``https://``.
    """
    if "bearer_token_env" in table or "basic_password_env" in table:
        for url in endpoints:
            host = urlsplit(url or "").hostname or ""
            loopback = host == "localhost" or host.startswith("127.") or host == "::1"
            if url and not url.startswith("https://") and not loopback:
                raise ConfigError(src, pre.rstrip("."), f"credentials would go in clear to {url}")

    def secret(key: str) -> str | None:
        name = table.get(key)
        if name is None:
            return None
        if not environ.get(name):
            raise ConfigError(src, f"{pre}{key}", f"environment variable {name} is not set")
        return environ[name]

    if "basic_user" in table and "basic_password_env" not in table:
        raise ConfigError(src, f"{pre}basic_user", "needs basic_password_env")
    if "bearer_token_env" in table and "basic_user" in table:
        raise ConfigError(src, f"{pre}bearer_token_env", "a bearer token or basic, not both")
    if ("client_cert_file" in table) != ("client_key_file" in table):
        raise ConfigError(src, f"{pre}client_cert_file", "needs both client_cert_file and key")
    files = {}
    for key in ("client_cert_file", "client_key_file", "ca_file"):
        if key in table:
            files[key] = path(table[key])
            if not files[key].exists():
                raise ConfigError(src, f"{pre}{key}", f"{files[key]} does not exist")
    pin = table.get("server_cert_sha256")
    if pin is not None:
        pin = pin.replace(":", "").lower()
        if len(pin) != 64 or any(c not in "0123456789abcdef" for c in pin):
            raise ConfigError(src, f"{pre}server_cert_sha256", "must be a SHA-256 hex digest")
    return OutboundAuth(
        bearer_token=secret("bearer_token_env"),
        basic_user=table.get("basic_user"),
        basic_password=secret("basic_password_env"),
        server_cert_sha256=pin,
        **files,
    )


def _passphrase(env_name: str | None, environ: Mapping[str, str]) -> bytes | None:
    """The key's passphrase, or None; an unset variable fails later, where the key is used."""
    value = environ.get(env_name) if env_name else None
    return None if value is None else value.encode()


def _database(
    service: Mapping[str, Any], environ: Mapping[str, str], src: str, path: Any
) -> tuple[Path | str, str | None]:
    """A path is the embedded SQLite file; a ``postgresql://`` URL a shared PostgreSQL.

    ``AK_BRIDGE_DATABASE`` overrides the file. A password never comes from the config file:
    libpq's own ``PGPASSWORD`` or ``~/.pgpass`` work as they are, or ``database_password_env``
    names the environment variable that holds it.
    """
    value = environ.get("AK_BRIDGE_DATABASE") or _get(service, "database", str, src, "service.")
    env_name = _opt(service, "database_password_env", str, None, src, "service.")
    if not value.startswith(("postgresql://", "postgres://")):
        if env_name:
            raise ConfigError(src, "service.database_password_env", "only for a PostgreSQL URL")
        return path(value), None

    if urlsplit(value).password is not None:
        raise ConfigError(
            src,
            "service.database",
            "the URL carries a password; use PGPASSWORD, ~/.pgpass or database_password_env",
        )
    password = None
    if env_name:
        password = environ.get(env_name)
        if not password:
            raise ConfigError(src, "service.database_password_env", f"{env_name} is not set")
    return value, password


def load_format_mappings(config_dir: Path | str) -> dict[str, Mapping[str, Any]]:
    """The national format mappings, ``formats/<name>.toml`` -> name: parsed TOML.

    Alone, without the rest of a bridge config, for tools that only translate or validate
    documents (``ak-bridge validate`` / ``translate``). No ``formats/`` directory: none.
    """
    formats_dir = Path(config_dir) / "formats"
    if not formats_dir.is_dir():
        return {}
    return {f.stem: _read_toml(f) for f in sorted(formats_dir.glob("*.toml"))}


REMOVED_RULE_SETTINGS = {
    "rvc_min_percent": "removed: Box 8 shows the threshold of the rule relied on (40% or the "
    "product-specific rule), which the Agreement sets, not the importing Party; delete the key",
}


def _rule_settings(rules: dict[str, Any], source: str, key: str) -> dict[str, Any]:
    """A partner's ``rules`` table, refusing settings the Agreement does not leave to a Party."""
    for name, why in REMOVED_RULE_SETTINGS.items():
        if name in rules:
            raise ConfigError(source, f"{key}.{name}", why)
    digits = rules.get("hs_min_digits")
    if digits is not None and (not isinstance(digits, int) or not 6 <= digits <= 12):
        raise ConfigError(source, f"{key}.hs_min_digits", "must be an integer from 6 to 12")
    return rules


def load_calendars(config_dir: Path | str) -> Calendars:
    """``config/calendars.toml`` (working calendars per Party); absent: default rest days."""
    path = Path(config_dir) / "calendars.toml"
    if not path.is_file():
        return Calendars()
    out = {}
    for country, table in _read_toml(path).get("calendars", {}).items():
        try:
            out[country] = calendar_from_table(country, table)
        except (ValueError, AttributeError) as exc:
            raise ConfigError(str(path), f"calendars.{country}", str(exc)) from exc
    return Calendars(out)


def load_refusal_reasons(config_dir: Path | str) -> dict[str, str]:
    """``config/refusal_reasons.toml`` (the bilateral code list); absent: none checked."""
    path = Path(config_dir) / "refusal_reasons.toml"
    if not path.is_file():
        return {}
    return dict(check(RefusalReasonsSchema, _read_toml(path), str(path)).get("reasons", {}))


def load_partner_rules(config_dir: Path | str) -> dict[str, Mapping[str, Any]]:
    """Each partner country's ``rules`` table (country -> rules), from ``partners.toml`` only.

    Lenient on purpose: it checks nothing but the rules themselves, so a developer can
    validate documents against the importing Party's rules without certificates or keys.
    No ``partners.toml``: no country-specific rules (the AKFTA defaults apply).
    """
    partners_file = Path(config_dir) / "partners.toml"
    if not partners_file.is_file():
        return {}
    out: dict[str, Mapping[str, Any]] = {}
    for pid, table in _read_toml(partners_file).get("partners", {}).items():
        rules = table.get("rules", {})
        if not isinstance(rules, dict):
            raise ConfigError(str(partners_file), f"partners.{pid}.rules", "must be a table")
        _rule_settings(rules, str(partners_file), f"partners.{pid}.rules")
        rules = check(RulesSchema, rules, str(partners_file), f"partners.{pid}.rules.")
        if isinstance(table.get("country"), str) and table.get("channel") != Channel.ASW:
            out[table["country"]] = {**out.get(table["country"], {}), **rules}
    return out


def load_settings(
    config_dir: Path | str | None = None, environ: Mapping[str, str] | None = None
) -> Settings:
    """Read and check a config directory; ``AK_BRIDGE_CONFIG`` names it by default.

    Environment overrides (all optional): ``AK_BRIDGE_DATABASE``, ``AK_BRIDGE_HOST``,
    ``AK_BRIDGE_PORT``; the console's ``AK_BRIDGE_CONSOLE_SECRET`` and
    ``AK_BRIDGE_CONSOLE_HTTP`` (``ConsoleSettings``).
    """
    environ = os.environ if environ is None else environ
    config_dir = Path(config_dir or environ.get("AK_BRIDGE_CONFIG", "config")).resolve()
    root = config_dir.parent
    main_file = config_dir / "ak_bridge.toml"
    src = str(main_file)
    main = check(MainSchema, _read_toml(main_file), src)

    def path(value: str) -> Path:
        p = Path(value)
        return p if p.is_absolute() else root / p

    service = main.get("service", {})
    identity = main.get("identity", {})
    worker = main.get("worker", {})
    default_retry = _retry(main.get("retry", {}), RetryPolicy(), src, "retry.")

    database, database_password = _database(service, environ, src, path)
    host = environ.get("AK_BRIDGE_HOST") or _opt(service, "host", str, "127.0.0.1", src, "service.")
    if environ.get("AK_BRIDGE_PORT"):
        try:
            port = int(environ["AK_BRIDGE_PORT"])
        except ValueError:
            raise ConfigError("AK_BRIDGE_PORT", "-", "must be an integer") from None
    else:
        port = _opt(service, "port", int, 8080, src, "service.")

    partners_file = config_dir / "partners.toml"
    partners_src = str(partners_file)
    partner_tables = check(PartnersFileSchema, _read_toml(partners_file), partners_src)
    partner_tables = partner_tables.get("partners", {})
    if not partner_tables:
        raise ConfigError(partners_src, "partners", "no partner configured")
    partners: dict[str, PartnerConfig] = {}
    asw_partner = None
    for pid, table in partner_tables.items():
        pre = f"partners.{pid}."
        table = check(PartnerSchema, table, partners_src, pre)
        try:
            channel = Channel(_get(table, "channel", str, partners_src, pre))
        except ValueError:
            raise ConfigError(partners_src, pre + "channel", "must be soap, rest or asw") from None
        certs = _opt(table, "certificates", list, [], partners_src, pre)
        if channel is not Channel.ASW and not certs:
            raise ConfigError(partners_src, pre + "certificates", "at least one certificate")
        cert_paths = tuple(path(c) for c in certs)
        for c in cert_paths:
            if not c.exists():
                raise ConfigError(partners_src, pre + "certificates", f"{c} does not exist")
        wsdl = _opt(table, "wsdl", str, None, partners_src, pre)
        if channel is Channel.SOAP and not wsdl:
            raise ConfigError(partners_src, pre + "wsdl", "a SOAP partner needs its WSDL")
        partner = PartnerConfig(
            id=pid,
            name=_opt(table, "name", str, pid, partners_src, pre),
            country=_get(table, "country", str, partners_src, pre),
            channel=channel,
            endpoint=_get(table, "endpoint", str, partners_src, pre),
            format=_opt(
                table,
                "format",
                str,
                "raw" if channel is Channel.ASW else "akstd",
                partners_src,
                pre,
            ),
            certificates=cert_paths,
            wsdl=_wsdl(root, wsdl) if wsdl else None,
            binding=_opt(table, "binding", str, None, partners_src, pre),
            enabled=_opt(table, "enabled", bool, True, partners_src, pre),
            shadow=_opt(table, "shadow", bool, False, partners_src, pre),
            timeout_seconds=_opt(table, "timeout_seconds", float, 10.0, partners_src, pre),
            max_in_flight=_opt(table, "max_in_flight", int, 4, partners_src, pre),
            retry=_retry(table.get("retry", {}), default_retry, partners_src, pre + "retry."),
            rules=_rule_settings(
                dict(_opt(table, "rules", dict, {}, partners_src, pre)), partners_src, pre + "rules"
            ),
            token_hashes=_hashes(table, "token_sha256", partners_src, pre),
            client_cert_hashes=_hashes(table, "client_cert_sha256", partners_src, pre),
            sign_receipts=_opt(table, "sign_receipts", bool, False, partners_src, pre),
            roles=_roles(table, partners_src, pre),
            gateway_for_agreements=tuple(
                str(a).upper()
                for a in _opt(table, "gateway_for_agreements", list, [], partners_src, pre)
            ),
            uat_endpoint=_opt(table, "uat_endpoint", str, None, partners_src, pre),
            outbound=_outbound(
                table.get("outbound", {}),
                environ,
                partners_src,
                pre + "outbound.",
                path,
                (table["endpoint"], table.get("uat_endpoint")),
            ),
            standard_versions=_standard_versions(table, partners_src, pre),
        )
        if channel is Channel.ASW:
            asw_partner = pid
        partners[pid] = partner

    mappings: dict[str, Mapping[str, Any]] = {}
    formats_dir = config_dir / "formats"
    if formats_dir.is_dir():
        for f in sorted(formats_dir.glob("*.toml")):
            mappings[f.stem] = _read_toml(f)
    for p in partners.values():
        if p.channel is not Channel.ASW and p.format not in {*mappings, "akstd", "unipass"}:
            raise ConfigError(
                partners_src, f"partners.{p.id}.format", f"unknown format {p.format!r}"
            )

    passphrase_env = _opt(identity, "key_passphrase_env", str, None, src, "identity.")
    return Settings(
        root=root,
        database=database,
        database_password=database_password,
        calendars=load_calendars(config_dir),
        refusal_reasons=load_refusal_reasons(config_dir),
        host=host,
        port=port,
        max_body_bytes=_opt(service, "max_body_bytes", int, 2 * 1024 * 1024, src, "service."),
        workers=_opt(service, "workers", int, 2, src, "service."),
        identity_key=path(_get(identity, "key_file", str, src, "identity.")),
        identity_cert=path(_get(identity, "cert_file", str, src, "identity.")),
        identity_passphrase=_passphrase(passphrase_env, environ),
        identity_passphrase_unset=(
            passphrase_env if passphrase_env and passphrase_env not in environ else None
        ),
        partners=partners,
        format_mappings=mappings,
        worker_interval_seconds=_opt(worker, "interval_seconds", float, 2.0, src, "worker."),
        worker_batch_size=_opt(worker, "batch_size", int, 50, src, "worker."),
        claim_seconds=_opt(worker, "claim_seconds", int, 120, src, "worker."),
        default_retry=default_retry,
        asw_partner=asw_partner,
        auth=_auth(main.get("auth", {}), src),
        edge=_edge(service, src),
        console=ConsoleSettings(
            secret=environ.get("AK_BRIDGE_CONSOLE_SECRET") or None,
            secure_cookies=environ.get("AK_BRIDGE_CONSOLE_HTTP") != "1",
        ),
        metrics_dir=path(_opt(service, "metrics_dir", str, "var/metrics", src, "service.")),
        alerts=_alerts(main.get("alerts", {}), environ, src),
    )


def warnings_for(settings: Settings) -> list[str]:
    """What loads but will not work as the operator probably means: said loudly at start."""
    out = []
    if settings.auth.required:
        bare = [
            p.id
            for p in settings.partners.values()
            if p.enabled
            and p.channel is not Channel.ASW
            and not (p.token_hashes or (p.client_cert_hashes and settings.auth.client_cert_header))
        ]
        if bare:
            out.append(
                f"no credentials for partner(s) {', '.join(bare)}: every call from them will be "
                "answered 401; set token_sha256 (or client_cert_sha256 behind a TLS proxy) in "
                "partners.toml"
            )
        if not settings.auth.admin_token_hashes:
            out.append("no admin token (auth.admin_token_sha256): admin endpoints answer 401")
    if settings.alerts.smtp_user and settings.alerts.smtp_password is None:
        out.append(
            "alerts.smtp_user is set but the variable named by alerts.smtp_password_env is not: "
            "the SMTP login will fail and alert mails will not go out"
        )
    return out


def _roles(table: Mapping[str, Any], src: str, pre: str) -> tuple[str, ...]:
    """A partner's roles; unset means both (what every partner was before roles existed)."""
    roles = tuple(_opt(table, "roles", list, list(ROLES), src, pre))
    unknown = [r for r in roles if r not in ROLES]
    if unknown or not roles:
        raise ConfigError(src, pre + "roles", f"each must be one of {', '.join(ROLES)}")
    return roles
