"""``ak-bridge keys new``: the authority's own signing key, with a CSR or a self-signed pair.

Why: the bridge refuses at start a certificate whose KeyUsage lacks digitalSignature
(partners verifying with a chain refuse such signatures), and a plain ``openssl req -x509``
makes exactly that. This command makes what passes: an EC P-256 (or RSA 3072) key written
0600, optionally encrypted with a passphrase read from an environment variable, and either
a CSR asking the authority's CA for KeyUsage digitalSignature + nonRepudiation, or a
self-signed certificate with them, for testing. The openssl equivalent is in README.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import click

from ak_bridge.cli import Failed, cli
from ak_bridge.security.x509_build import (
    build_certificate,
    new_key,
    pem,
    private_pem,
    signing_request,
    subject_name,
)


def _write_private(path: Path, data: bytes) -> None:
    """Created 0600 from the start: never readable by others, not even for a moment."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)


@cli.group()
def keys() -> None:
    """The bridge's own signing key and certificate."""


@keys.command("new")
@click.option("--out", "out", type=click.Path(file_okay=False, path_type=Path), required=True)
@click.option("--name", default="AK-BRIDGE", show_default=True, help="Subject common name.")
@click.option("--org", default=None, help="Subject organisation (the customs authority).")
@click.option("--country", default=None, help="Subject country (ISO 3166 alpha-2).")
@click.option("--algorithm", type=click.Choice(["ec", "rsa"]), default="ec", show_default=True)
@click.option("--self-signed", is_flag=True, help="A self-signed certificate, for testing.")
@click.option("--days", default=365, show_default=True, type=click.IntRange(min=1))
@click.option(
    "--passphrase-env",
    default=None,
    help="Encrypt the key with the passphrase in this environment variable.",
)
def keys_new(
    out: Path,
    name: str,
    org: str | None,
    country: str | None,
    algorithm: str,
    self_signed: bool,
    days: int,
    passphrase_env: str | None,
) -> None:
    """Make a signing key and a CSR for the authority's CA (or a self-signed pair)."""
    passphrase = None
    if passphrase_env:
        secret = os.environ.get(passphrase_env)
        if not secret:
            raise Failed(f"variable {passphrase_env} is not set")
        passphrase = secret.encode()
    out.mkdir(parents=True, exist_ok=True)
    key_file, other = (
        out / "bridge-key.pem",
        out / ("bridge-cert.pem" if self_signed else "bridge.csr"),
    )
    for f in (key_file, other):
        if f.exists():
            raise Failed(f"{f} exists; refusing to overwrite a key or certificate")
    key = new_key("ec" if algorithm == "ec" else "rsa", rsa_bits=3072)
    subject = subject_name(name, org, country)
    if self_signed:
        now = datetime.now(UTC)
        cert = build_certificate(
            subject, key, now - timedelta(minutes=5), now + timedelta(days=days)
        )
        other_pem = pem(cert)
    else:
        other_pem = pem(signing_request(key, subject))
    _write_private(key_file, private_pem(key, passphrase))
    other.write_bytes(other_pem)
    click.echo(f"key: {key_file} (0600)")
    if self_signed:
        click.echo(f"self-signed certificate: {other} (for testing; partners must pin it)")
    else:
        click.echo(
            f"CSR: {other}: have the authority's CA sign it with KeyUsage digitalSignature, "
            "then set identity.cert_file to the certificate (chain after it) and run "
            "`ak-bridge certs`"
        )
