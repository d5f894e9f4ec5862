"""``ak-bridge certs``: what is pinned, how long it has left, and exit 1 once one expired."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

import ak_bridge.cli.security  # noqa: F401  (registers the command on ``cli``)
from ak_bridge.cli import cli
from ak_bridge.config import load_settings
from ak_bridge.security.signing import load_trusted
from ak_bridge.sim.pki import make_test_pki

NOW = datetime.now(UTC).replace(microsecond=0)


def write_config(
    root: Path,
    validity: dict[str, tuple[datetime, datetime]],
    extra_pins: dict[str, str] | None = None,
) -> Path:
    """A minimal deployment: our identity and three REST partners with their pins."""
    extra_pins = extra_pins or {}
    pki = make_test_pki(
        root / "pki",
        ["bridge", "KR-KCS", "ID-SKA", "VN-ECOSYS", *extra_pins.values()],
        validity=validity,
    )
    config = root / "config"
    config.mkdir(parents=True)
    (config / "ak_bridge.toml").write_text(
        f"""[service]
database = "{root / "ak.db"}"

[identity]
key_file = "{pki["bridge"].key_file}"
cert_file = "{pki["bridge"].cert_file}"
"""
    )
    tables = []
    for n, pid in enumerate(("KR-KCS", "ID-SKA", "VN-ECOSYS")):
        pins = [str(pki[pid].cert_file)]
        if pid in extra_pins:
            pins.append(str(pki[extra_pins[pid]].cert_file))
        tables.append(
            f"""[partners.{pid}]
country = "{pid[:2]}"
channel = "rest"
endpoint = "http://127.0.0.1:{9100 + n}/rest"
certificates = {json.dumps(pins)}
"""
        )
    (config / "partners.toml").write_text("\n".join(tables))
    return config


def run(config: Path, *args: str) -> Result:
    return CliRunner().invoke(cli, ["--config", str(config), "certs", *args], obj={})


def rows(result: Result) -> dict[str, list[str]]:
    """Table lines by partner (the first column); the last cell (subject) may hold spaces."""
    out: dict[str, list[str]] = {}
    for line in result.stdout.splitlines()[1:]:
        if not line.strip():
            break
        cells = line.split()
        partner = cells[0] if cells[1] != "(own)" else " ".join(cells[:2])
        out.setdefault(partner, []).append(line)
    return out


@pytest.fixture
def mixed(tmp_path: Path) -> Path:
    """KR-KCS expires in 30 days, VN-ECOSYS expired yesterday, ID-SKA is fine."""
    return write_config(
        tmp_path,
        {
            "KR-KCS": (NOW - timedelta(days=335), NOW + timedelta(days=30, hours=1)),
            "VN-ECOSYS": (NOW - timedelta(days=400), NOW - timedelta(days=1)),
        },
    )


def test_lists_every_certificate_with_status_and_exits_1_on_an_expired_pin(mixed: Path) -> None:
    result = run(mixed)
    assert result.exit_code == 1, result.output
    table = rows(result)
    assert set(table) == {"AK-BRIDGE (own)", "KR-KCS", "ID-SKA", "VN-ECOSYS"}
    assert " WARNING " in table["KR-KCS"][0] and " 30 " in table["KR-KCS"][0]
    assert " ok " in table["ID-SKA"][0]
    assert " EXPIRED " in table["VN-ECOSYS"][0]
    assert " ok " in table["AK-BRIDGE (own)"][0]
    settings = load_settings(mixed, environ={})
    for pid, partner in settings.partners.items():
        (pinned,) = load_trusted(partner.certificates)
        assert pinned.fingerprint in table[pid][0]  # what the bridge pins by
        assert f"CN={pid}" in table[pid][0]
        assert pinned.not_after.strftime("%Y-%m-%d") in table[pid][0]
    assert "1 certificate(s) expire within 60 days: KR-KCS in 30 d" in result.stdout
    assert "1 certificate problem(s): VN-ECOSYS" in result.stderr and "expired" in result.stderr


def test_warnings_alone_exit_2_and_the_threshold_is_an_option(tmp_path: Path) -> None:
    """A monitoring check sees a warning (exit 2) before the certificate expires (exit 1)."""
    config = write_config(
        tmp_path, {"KR-KCS": (NOW - timedelta(days=335), NOW + timedelta(days=30, hours=1))}
    )
    result = run(config)
    assert result.exit_code == 2, result.output
    assert " WARNING " in rows(result)["KR-KCS"][0]
    assert run(config, "--warnings-ok").exit_code == 0
    quiet = run(config, "--warn-days", "10")
    assert quiet.exit_code == 0
    assert " ok " in rows(quiet)["KR-KCS"][0]
    assert "expire within" not in quiet.stdout


def test_rollover_pins_are_each_listed_and_a_future_one_is_not_an_error(tmp_path: Path) -> None:
    config = write_config(
        tmp_path,
        {"ID-SKA-next": (NOW + timedelta(days=20), NOW + timedelta(days=400))},
        extra_pins={"ID-SKA": "ID-SKA-next"},
    )
    result = run(config)
    assert result.exit_code == 0, result.output
    current, upcoming = rows(result)["ID-SKA"]
    assert " ok " in current
    assert " NOT-YET-VALID " in upcoming and "CN=ID-SKA-next" in upcoming


def test_our_own_expired_certificate_fails_too(tmp_path: Path) -> None:
    config = write_config(
        tmp_path, {"bridge": (NOW - timedelta(days=400), NOW - timedelta(days=3))}
    )
    result = run(config)
    assert result.exit_code == 1
    assert " EXPIRED " in rows(result)["AK-BRIDGE (own)"][0]
    assert "AK-BRIDGE (own)" in result.stderr


def test_json_output_for_monitoring(mixed: Path) -> None:
    result = run(mixed, "--json")
    assert result.exit_code == 1
    records = [json.loads(line) for line in result.stdout.splitlines()]
    by_partner = {r["partner"]: r for r in records}
    assert by_partner["KR-KCS"]["status"] == "WARNING"
    assert by_partner["KR-KCS"]["days_left"] == 30
    assert by_partner["VN-ECOSYS"]["status"] == "EXPIRED"
    assert by_partner["VN-ECOSYS"]["days_left"] < 0
    assert len(by_partner["ID-SKA"]["sha256"]) == 64


def test_a_missing_certificate_file_is_a_configuration_error(mixed: Path) -> None:
    cert = load_settings(mixed, environ={}).partners["ID-SKA"].certificates[0]
    cert.unlink()
    result = run(mixed)
    assert result.exit_code == 1
    assert "configuration error" in result.stderr
    assert "Traceback" not in result.output
