"""``ak-bridge validate`` and ``ak-bridge translate``: the e-Form AK standard at a desk.

Why here, apart from the admin commands: these need no running bridge, no database, no keys
and no partner certificates, only the codecs and the rules, so a partner's developer can
check a document (or see it in another format) before ever connecting. The format mappings
and the importing Parties' rule tables are read from the ``--config`` directory through
:mod:`ak_bridge.config`; when that directory does not exist, from the ``config/`` shipped
with ak-bridge.

Exit codes as for every command: 0 all valid (warnings allowed), 1 a document is invalid or
cannot be translated, 2 usage error.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import click
from lxml import etree

from ak_bridge.cli import Failed, cli
from ak_bridge.config import load_calendars, load_format_mappings, load_partner_rules
from ak_bridge.core import rules
from ak_bridge.core.calendars import Calendars
from ak_bridge.core.errors import ConfigError, Finding, Rejected, Severity
from ak_bridge.core.model import FormAK
from ak_bridge.formats import (
    Codec,
    build_codecs,
    detect_format,
    encode_for,
    for_versions,
    parse_document,
)
from ak_bridge.formats.lifecycle import LifecycleCodec, function_of
from ak_bridge.templates import shipped_config

__all__ = ["render", "validate", "translate"]

SHIPPED_CONFIG = shipped_config()
MESSAGES = "messages"  # the name under which lifecycle messages (agreed XML) are known


def render(document: etree._Element | dict[str, Any]) -> bytes:
    """A document as a partner's developer would save it: indented, UTF-8, final newline.

    One spelling for ``translate`` and ``scripts/make-samples``, so a translated sample is
    byte-for-byte the committed one.
    """
    if isinstance(document, dict):
        return (json.dumps(document, ensure_ascii=False, indent=2) + "\n").encode("utf-8")
    return etree.tostring(document, pretty_print=True, xml_declaration=True, encoding="UTF-8")


def bridge_today(now: datetime | None = None) -> date:
    """Today as the bridge sees it: in the earliest time zone (UTC+14), as exchange.py does."""
    return ((now or datetime.now(UTC)) + timedelta(hours=14)).date()


@dataclass(frozen=True)
class _Standard:
    """Everything validate/translate need, built from one config directory."""

    codecs: Mapping[str, Codec]
    lifecycle: LifecycleCodec
    country_rules: Mapping[str, Mapping[str, Any]]
    calendars: Calendars = Calendars()

    @property
    def names(self) -> list[str]:
        return [*self.codecs, MESSAGES]


def _standard(ctx: click.Context) -> _Standard:
    given = Path((ctx.find_root().obj or {}).get("config", "config"))
    config_dir = given if given.is_dir() else SHIPPED_CONFIG
    try:
        codecs = build_codecs(load_format_mappings(config_dir))
        # "akstd" reads both versions and writes 1.0; "akstd-1.1" writes 1.1 (translate --to)
        codecs = {**codecs, "akstd-1.1": for_versions(codecs["akstd"], ["1.1"])}
        country_rules = load_partner_rules(config_dir)
        calendars = load_calendars(config_dir)
    except ConfigError as exc:
        raise Failed(f"configuration error: {exc}") from None
    return _Standard(codecs, LifecycleCodec(), country_rules, calendars)


def _check_name(std: _Standard, name: str | None, option: str) -> None:
    if name is not None and name not in std.names:
        raise click.BadParameter(
            f"{name!r} is not one of {', '.join(std.names)}", param_hint=option
        )


@dataclass(frozen=True)
class _Outcome:
    format: str
    findings: tuple[Finding, ...]

    @property
    def errors(self) -> tuple[Finding, ...]:
        return rules.errors_in(self.findings)


def _validate_one(std: _Standard, payload: bytes, name: str | None, today: date) -> _Outcome:
    """Parse, detect, decode (XSD or mapping + canonical schema), then the business rules."""
    shown = name or "?"
    try:
        document = parse_document(payload)
        if name is None and std.lifecycle.is_header(document):
            std.lifecycle.decode_header(document)  # an envelope: schema only, no rules
            return _Outcome("exchange header", ())
        every: dict[str, Any] = {**std.codecs, MESSAGES: std.lifecycle}
        shown = name or detect_format(document, every)
        if shown == MESSAGES:
            msg = std.lifecycle.decode(document)
            ctx = rules.RuleContext(
                today,
                function_of(msg),
                std.country_rules.get(msg.importing_country, {}),
                std.calendars,
            )
            return _Outcome(shown, rules.check_message(msg, ctx))
        co: FormAK = std.codecs[shown].decode(document)
    except Rejected as exc:
        return _Outcome(shown, exc.findings)
    ctx = rules.RuleContext(
        today,
        rules.implied_function(co),
        std.country_rules.get(co.importing_country, {}),
        std.calendars,
    )
    return _Outcome(shown, rules.check(co, ctx))


def _line(f: Finding) -> str:
    return f"  {f.box or '-'}, {f.code}, {f.severity}: {f.message}"


@cli.command()
@click.argument(
    "files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@click.option(
    "--format",
    "format_name",
    default=None,
    help="Format of every FILE (akstd, unipass, a config/formats name, or messages); "
    "default: detected from each file's root element or JSON marker.",
)
@click.option(
    "--today",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="The date the date rules (future dates, expiry) count from, YYYY-MM-DD; "
    "default: today in the earliest time zone (UTC+14), as the bridge counts.",
)
@click.pass_context
def validate(
    ctx: click.Context, files: tuple[Path, ...], format_name: str | None, today: datetime | None
) -> None:
    """Validate documents as the bridge would: schema, then every business rule.

    Prints, per FILE, its verdict and every finding as "box, code, severity: message".
    The importing Party's rules (e.g. HS digits) come from the config's partners.toml.
    Exit 0 if every FILE is valid (warnings allowed), 1 if any is invalid.
    """
    std = _standard(ctx)
    _check_name(std, format_name, "--format")
    day = today.date() if today else bridge_today()
    invalid = 0
    for path in files:
        outcome = _validate_one(std, path.read_bytes(), format_name, day)
        warnings = len(outcome.findings) - len(outcome.errors)
        invalid += bool(outcome.errors)
        verdict = [f"invalid, {len(outcome.errors)} error(s)" if outcome.errors else "valid"]
        verdict += [f"{warnings} warning(s)"] if warnings else []
        click.echo(f"{path}: {', '.join(verdict)} [{outcome.format}]")
        for f in sorted(outcome.findings, key=lambda f: f.severity is not Severity.ERROR):
            click.echo(_line(f))
    if invalid:
        raise Failed(f"{invalid} of {len(files)} file(s) invalid")


@cli.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--to", "to_format", required=True, help="Target format name.")
@click.option("--from", "from_format", default=None, help="Source format name (default: detected).")
@click.pass_context
def translate(ctx: click.Context, file: Path, to_format: str, from_format: str | None) -> None:
    """Print FILE translated to another format, unsigned (signing belongs to the transport).

    Translation is lossless or refused: a box the target cannot carry is an error, never a
    silent drop. Business rules are not applied; use validate for them. Lifecycle messages
    exist only in the agreed XML (--to messages).
    """
    std = _standard(ctx)
    _check_name(std, to_format, "--to")
    _check_name(std, from_format, "--from")
    try:
        document = parse_document(file.read_bytes())
        every: dict[str, Any] = {**std.codecs, MESSAGES: std.lifecycle}
        source = from_format or detect_format(document, every)
        if MESSAGES in (source, to_format) and source != to_format:
            raise Failed(
                "lifecycle messages travel only in the agreed XML (messages); national formats "
                "carry the certificate itself"
            )
        if source == MESSAGES:
            out = std.lifecycle.encode(std.lifecycle.decode(document))
        else:
            out = encode_for(std.codecs[to_format], std.codecs[source].decode(document))
    except Rejected as exc:
        raise Failed(f"{exc.code} (box {exc.box or '-'}): {exc.detail}") from None
    click.echo(render(out), nl=False)
