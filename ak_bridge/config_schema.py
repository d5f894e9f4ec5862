"""What each table of ``config/*.toml`` may hold, as marshmallow schemas with ``unknown=RAISE``.

Why: a misspelled key used to be ignored in silence (``shadw = true`` left a partner getting
live certificates in what its operator believed was shadow mode), and a value of the wrong
type loaded, then failed on every message. Here every key is declared with its type; anything
else stops the start with a :class:`ConfigError` that names the file, the key and the closest
known key. ``ak_bridge.config`` reads the checked tables into :class:`Settings`.

TOML already types its values, so the fields are strict: ``"40"`` is not a number and ``1``
is not a boolean.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, validate

from ak_bridge.core.errors import ConfigError


class _Strict(fields.Field):
    """A TOML value of exactly these Python types (bool is never a number here)."""

    kinds: tuple[type, ...] = ()
    label = ""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        if isinstance(value, bool) and bool not in self.kinds:
            raise ValidationError(f"must be {self.label}, not {value!r}")
        if not isinstance(value, self.kinds):
            raise ValidationError(f"must be {self.label}, not {value!r}")
        return value


class Int(_Strict):
    kinds, label = (int,), "an integer"


class Number(_Strict):
    kinds, label = (int, float), "a number"


class Bool(_Strict):
    kinds, label = (bool,), "true or false"


class Str(_Strict):
    kinds, label = (str,), "a string"


class StrList(_Strict):
    kinds, label = (list,), "a list of strings"

    def __init__(self, *, single_ok: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.single_ok = single_ok  # one string where a list is expected is fine

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        if isinstance(value, str) and self.single_ok:
            value = [value]
        value = super()._deserialize(value, attr, data, **kwargs)
        if not all(isinstance(v, str) for v in value):
            raise ValidationError("must be a list of strings")
        return value


class _Table(Schema):
    class Meta:
        unknown = RAISE


class ServiceSchema(_Table):
    database = Str()  # AK_BRIDGE_DATABASE may stand in for it
    database_password_env = Str()
    host = Str()
    port = Int()
    max_body_bytes = Int()
    workers = Int()
    metrics_dir = Str()  # prometheus_client's multiprocess files (serve and worker share it)
    # slow clients (adapters/web/buffering.py): read deadlines, connections, threads
    header_timeout_seconds = Number()
    body_timeout_seconds = Number()
    max_connections = Int()
    threads = Int()
    keepalive_seconds = Int()


class IdentitySchema(_Table):
    key_file = Str(required=True)
    cert_file = Str(required=True)
    key_passphrase_env = Str()


class WorkerSchema(_Table):
    interval_seconds = Number()
    batch_size = Int()
    claim_seconds = Int()


class RetrySchema(_Table):
    max_attempts = Int()
    base_delay = Number()
    factor = Number()
    max_delay = Number()
    jitter = Number()
    max_age = Number()
    breaker_threshold = Int()
    breaker_cooldown = Number()


class AuthSchema(_Table):
    required = Bool()
    admin_token_sha256 = StrList(single_ok=True)
    client_cert_header = Str()
    trusted_proxies = StrList()
    metrics_public = Bool()  # /metrics without the admin token (a separate, private bind)


class AlertsSchema(_Table):
    webhook_url = Str()
    smtp_host = Str()
    smtp_port = Int()
    smtp_from = Str()
    smtp_to = StrList(single_ok=True)
    smtp_starttls = Bool()
    smtp_user = Str()
    smtp_password_env = Str()  # the variable holding the SMTP password, never the password
    expiry_days = Int()
    interval_seconds = Number()
    audit_interval_seconds = Number()
    timeout_seconds = Number()
    queue_size = Int()


class MainSchema(_Table):
    service = fields.Nested(ServiceSchema, required=True)
    identity = fields.Nested(IdentitySchema, required=True)
    worker = fields.Nested(WorkerSchema)
    retry = fields.Nested(RetrySchema)
    auth = fields.Nested(AuthSchema)
    alerts = fields.Nested(AlertsSchema)


class RulesSchema(_Table):
    """The importing Party's rule settings (read by ``ak_bridge.core.rules``)."""

    hs_min_digits = Int()
    rvc_min_percent = Number()  # removed (issue 11): known here so config.py can say why
    verification_reply_months = Int()
    calendars = fields.Raw()  # its shape is checked where the calendars are read


class OutboundSchema(_Table):
    """How the bridge authenticates to the partner: secrets by variable name, never inline."""

    bearer_token_env = Str()
    basic_user = Str()
    basic_password_env = Str()
    client_cert_file = Str()
    client_key_file = Str()
    ca_file = Str()
    server_cert_sha256 = Str()


class PartnerSchema(_Table):
    name = Str()
    country = Str(required=True)
    channel = Str(required=True)
    endpoint = Str(required=True)
    format = Str()
    certificates = StrList()
    wsdl = Str()
    binding = Str()
    enabled = Bool()
    shadow = Bool()
    timeout_seconds = Number()
    max_in_flight = Int()
    retry = fields.Nested(RetrySchema)
    rules = fields.Nested(RulesSchema)
    token_sha256 = StrList(single_ok=True)
    client_cert_sha256 = StrList(single_ok=True)
    sign_receipts = Bool()
    uat_endpoint = Str()
    outbound = fields.Nested(OutboundSchema)
    gateway_for_agreements = StrList()  # other FTAs passed to it raw (issue 11)
    roles = StrList()  # issuing_authority, import_customs (default both)
    standard_versions = StrList()  # e-Form AK versions spoken; values checked in config.py


class RefusalReasonsSchema(_Table):
    """``config/refusal_reasons.toml``: the bilaterally agreed codes for refusing preference."""

    reasons = fields.Dict(
        keys=fields.String(validate=validate.Regexp(r"\A[A-Z0-9][A-Z0-9_\-]{1,15}\Z")),
        values=fields.String(validate=validate.Length(1, 500)),
    )


class PartnersFileSchema(_Table):
    partners = fields.Dict(keys=fields.String(), values=fields.Raw())


def _first_error(messages: Any, schema: Schema, path: tuple[str, ...]) -> tuple[tuple, str, Schema]:
    """The first (path, message, schema owning the key) in marshmallow's nested error dict."""
    if isinstance(messages, Mapping):
        key = sorted(messages, key=str)[0]
        field = schema.fields.get(key) if isinstance(key, str) else None
        inner = field.schema if isinstance(field, fields.Nested) else schema
        # "_schema" is marshmallow's name for the table itself (e.g. not a table at all)
        here = path if key == "_schema" else (*path, str(key))
        return _first_error(messages[key], inner, here)
    if isinstance(messages, list) and messages and isinstance(messages[0], Mapping):
        return _first_error(messages[0], schema, path)
    text = messages[0] if isinstance(messages, list) and messages else str(messages)
    return path, str(text), schema


def check(
    schema: type[Schema], table: Mapping[str, Any], source: str, prefix: str = ""
) -> dict[str, Any]:
    """``table`` checked against ``schema``; the first problem as a :class:`ConfigError`."""
    instance = schema()
    try:
        return instance.load(dict(table))
    except ValidationError as exc:
        path, text, owner = _first_error(exc.messages, instance, ())
        key = prefix + ".".join(path)
        if text == "Unknown field.":
            known = sorted(owner.fields)
            close = difflib.get_close_matches(path[-1], known, n=1, cutoff=0.6)
            hint = f"did you mean {close[0]!r}?" if close else f"known keys: {', '.join(known)}"
            raise ConfigError(source, key, f"unknown key; {hint}") from None
        if text == "Missing data for required field.":
            text = "missing"
        elif text.startswith("Invalid input type"):
            text = "must be a table"
        raise ConfigError(source, key, text) from None
