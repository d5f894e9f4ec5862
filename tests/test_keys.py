"""`ak-bridge keys new`: a key and CSR, or a self-signed pair, that the bridge starts with."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from cryptography import x509

from ak_bridge.cli import cli
from ak_bridge.core.errors import ConfigError
from ak_bridge.security.signing import load_identity


def run(*args: str, env: dict[str, str] | None = None):
    return CliRunner().invoke(cli, ["keys", "new", *args], env=env)


def test_self_signed_pair_passes_the_start_checks_and_the_key_is_0600(tmp_path: Path) -> None:
    result = run("--out", str(tmp_path), "--self-signed", "--country", "KR", "--org", "KCS")
    assert result.exit_code == 0, result.output
    key, cert = tmp_path / "bridge-key.pem", tmp_path / "bridge-cert.pem"
    assert key.stat().st_mode & 0o777 == 0o600
    load_identity(key, cert, None)  # KeyUsage digitalSignature, key matches
    usage = x509.load_pem_x509_certificate(cert.read_bytes()).extensions.get_extension_for_class(
        x509.KeyUsage
    )
    assert usage.critical and usage.value.digital_signature
    again = run("--out", str(tmp_path), "--self-signed")
    assert again.exit_code == 1 and "refusing to overwrite" in again.output


def test_csr_asks_for_digital_signature_and_the_key_can_be_encrypted(tmp_path: Path) -> None:
    result = run(
        "--out",
        str(tmp_path),
        "--algorithm",
        "rsa",
        "--passphrase-env",
        "AKB_KEY_PASS",
        env={"AKB_KEY_PASS": "correct horse"},
    )
    assert result.exit_code == 0, result.output
    csr = x509.load_pem_x509_csr((tmp_path / "bridge.csr").read_bytes())
    assert csr.is_signature_valid
    assert csr.extensions.get_extension_for_class(x509.KeyUsage).value.digital_signature
    key = (tmp_path / "bridge-key.pem").read_bytes()
    assert b"ENCRYPTED" in key
    assert run("--out", str(tmp_path / "x"), "--passphrase-env", "AKB_UNSET").exit_code == 1


def test_a_plain_openssl_style_certificate_is_what_the_checks_refuse(tmp_path: Path) -> None:
    """The counterpart: without KeyUsage (openssl req -x509 as is) the identity is refused."""
    from test_operations import plain_certificate

    run("--out", str(tmp_path), "--self-signed")
    key, cert = tmp_path / "bridge-key.pem", tmp_path / "bridge-cert.pem"
    cert.write_bytes(plain_certificate(key))
    with pytest.raises(ConfigError, match="digitalSignature"):
        load_identity(key, cert, None)
