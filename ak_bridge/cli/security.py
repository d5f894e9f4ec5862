"""``ak-bridge certs``: every pinned partner certificate and our own, with their expiry.

Why a command: certificate rollover is where gateways fail in practice (peers.md (c):
truststore mistakes and rollover downtime are the top support topics). ak-bridge pins
partner certificates and refuses a pinned certificate outside its validity window, so an
expired pin silently turns a partner's every message into ``signature_invalid``. This
command shows what is pinned, by fingerprint, and how long each has left; run it from cron
or a monitoring check: exit 1 means a problem, 2 a warning (``--warnings-ok``: 0).

Status: ``ok``; ``WARNING`` when it expires within ``--warn-days`` (60 by default, as
Domibus alerts); ``NOT-YET-VALID`` for a certificate pinned ahead of a rollover;
``EXPIRED``; and for our own certificate the checks ``serve`` makes at start:
``NO-DIGITAL-SIGNATURE`` (KeyUsage absent or without digitalSignature, as a plain
``openssl req -x509`` makes it: partners verifying with a chain refuse our signatures) and
``WEAK-KEY`` (RSA under 2048 bits). Reads only files: no database, no key, no passphrase.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import UTC, datetime

import click
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import Encoding

from ak_bridge.cli import Failed, _settings, cli
from ak_bridge.core.errors import ConfigError
from ak_bridge.core.settings import Settings
from ak_bridge.security.signing import TrustedCert, load_trusted
from ak_bridge.service.delivery import BRIDGE_ID

__all__ = ["CertRow", "certificate_report", "certs"]

WARN_DAYS = 60
PROBLEMS = ("EXPIRED", "NO-DIGITAL-SIGNATURE", "WEAK-KEY")
MIN_RSA_BITS = 2048
OWN = f"{BRIDGE_ID} (own)"


@dataclass(frozen=True)
class CertRow:
    """One certificate as the report shows it."""

    partner: str
    subject: str
    fingerprint: str  # SHA-256 of the DER, lower-case hex: what the bridge pins by
    not_before: datetime
    not_after: datetime
    days_left: int  # whole days until not_after, toward zero; negative once expired
    status: str  # ok | WARNING | NOT-YET-VALID | EXPIRED | NO-DIGITAL-SIGNATURE | WEAK-KEY
    enabled: bool = True

    def as_dict(self) -> dict[str, object]:
        return {
            "partner": self.partner,
            "subject": self.subject,
            "sha256": self.fingerprint,
            "not_before": self.not_before.isoformat(),
            "not_after": self.not_after.isoformat(),
            "days_left": self.days_left,
            "status": self.status,
            "enabled": self.enabled,
        }


def _row(partner: str, cert: TrustedCert, now: datetime, warn_days: int, enabled: bool) -> CertRow:
    # Whole days, toward zero: "30" a month ahead, "-1" the day after it expired.
    days_left = int((cert.not_after - now).total_seconds() / 86400)
    if now > cert.not_after:
        status = "EXPIRED"
    elif now < cert.not_before:
        status = "NOT-YET-VALID"
    elif days_left <= warn_days:
        status = "WARNING"
    else:
        status = "ok"
    return CertRow(
        partner=partner,
        subject=cert.subject,
        fingerprint=cert.fingerprint,
        not_before=cert.not_before,
        not_after=cert.not_after,
        days_left=days_left,
        status=status,
        enabled=enabled,
    )


def _own_problem(cert: x509.Certificate) -> str | None:
    """What ``serve`` would refuse in our own certificate (security.signing's start checks)."""
    try:
        usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
        signs = usage.digital_signature
    except x509.ExtensionNotFound:
        signs = False
    if not signs:
        return "NO-DIGITAL-SIGNATURE"
    key = cert.public_key()
    if isinstance(key, rsa.RSAPublicKey) and key.key_size < MIN_RSA_BITS:
        return "WEAK-KEY"
    return None


def _own_certificate(settings: Settings) -> TrustedCert:
    """The leaf of our own chain (the first certificate of ``identity.cert_file``)."""
    source = str(settings.identity_cert)
    try:
        chain = x509.load_pem_x509_certificates(settings.identity_cert.read_bytes())
    except OSError as exc:
        raise ConfigError(source, "identity.cert_file", f"cannot read: {exc.strerror}") from None
    except ValueError:
        raise ConfigError(source, "identity.cert_file", "no PEM certificate found") from None
    return TrustedCert(chain[0].public_bytes(Encoding.PEM))


def certificate_report(
    settings: Settings, now: datetime | None = None, warn_days: int = WARN_DAYS
) -> list[CertRow]:
    """Our own certificate first, then every partner's pinned ones, in config order."""
    now = now or datetime.now(UTC)
    own = _own_certificate(settings)
    rows = [_row(OWN, own, now, warn_days, True)]
    problem = _own_problem(x509.load_pem_x509_certificate(own.pem))
    if problem and rows[0].status != "EXPIRED":
        rows[0] = replace(rows[0], status=problem)
    for partner in settings.partners.values():
        for cert in load_trusted(partner.certificates):
            rows.append(_row(partner.id, cert, now, warn_days, partner.enabled))
    return rows


def _table(rows: list[CertRow]) -> str:
    header = ("PARTNER", "STATUS", "DAYS", "NOT AFTER (UTC)", "SHA-256", "SUBJECT")
    lines = [
        (
            r.partner + ("" if r.enabled else " (disabled)"),
            r.status,
            str(r.days_left),
            r.not_after.strftime("%Y-%m-%d %H:%M"),
            r.fingerprint,
            r.subject,
        )
        for r in rows
    ]
    widths = [max(len(x[i]) for x in [header, *lines]) for i in range(len(header) - 1)]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(line[:-1], widths, strict=True))
        + "  "
        + line[-1]
        for line in [header, *lines]
    )


@cli.command()
@click.option(
    "--warn-days",
    default=WARN_DAYS,
    show_default=True,
    type=click.IntRange(min=0),
    help="Mark certificates expiring within this many days as WARNING.",
)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per certificate.")
@click.option("--warnings-ok", is_flag=True, help="Exit 0, not 2, when there are only warnings.")
@click.pass_context
def certs(ctx: click.Context, warn_days: int, as_json: bool, warnings_ok: bool) -> None:
    """List pinned partner certificates and our own: fingerprint, expiry, status.

    Exit 1 on a problem: a certificate expired (a partner's expired pin refuses all of its
    messages; our own makes partners refuse ours) or our own fails serve's start checks
    (KeyUsage digitalSignature, key size). Exit 2 on a warning (expiring within
    --warn-days) unless --warnings-ok.
    """
    settings = _settings(ctx)
    try:
        rows = certificate_report(settings, warn_days=warn_days)
    except ConfigError as exc:
        raise Failed(f"configuration error: {exc}") from None
    if as_json:
        for row in rows:
            click.echo(json.dumps(row.as_dict(), sort_keys=True))
    else:
        click.echo(_table(rows))
    warnings = [r for r in rows if r.status == "WARNING"]
    if warnings and not as_json:
        click.echo(
            f"\n{len(warnings)} certificate(s) expire within {warn_days} days: "
            + ", ".join(f"{r.partner} in {r.days_left} d" for r in warnings)
        )
    problems = [
        f"{r.partner} {r.fingerprint[:16]}… expired"
        if r.status == "EXPIRED"
        else f"{r.partner}: {r.status} (serve refuses to start with it)"
        for r in rows
        if r.status in PROBLEMS
    ]
    if problems:
        raise Failed(f"{len(problems)} certificate problem(s): " + "; ".join(problems))
    if warnings and not warnings_ok:
        ctx.exit(2)
