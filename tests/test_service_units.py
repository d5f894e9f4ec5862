"""Service units verify with systemd-analyze, keep their sandbox, and run commands that exist."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from ak_bridge.cli import cli

UNITS = Path(__file__).resolve().parent.parent / "deploy" / "systemd"
INSTALLED = "/opt/ak-bridge/venv/bin/ak-bridge"
SANDBOX = (
    "NoNewPrivileges=yes",
    "ProtectSystem=strict",
    "ReadWritePaths=/opt/ak-bridge/var",
    "ProtectHome=yes",
    "PrivateTmp=yes",
    "CapabilityBoundingSet=",
    "SystemCallFilter=@system-service",
    "UMask=0077",
)


@pytest.mark.parametrize("unit", ["ak-bridge-serve.service", "ak-bridge-worker.service"])
def test_unit_verifies_and_keeps_its_sandbox(unit: str, tmp_path: Path) -> None:
    text = (UNITS / unit).read_text()
    for option in SANDBOX:
        assert option in text.splitlines(), option
    # Every command the unit runs is a real ak-bridge command line.
    for line in text.splitlines():
        if line.startswith(("ExecStart=", "ExecStartPre=")) and INSTALLED in line:
            args = line.split(INSTALLED, 1)[1].split()
            help_run = CliRunner().invoke(cli, [*args, "--help"])
            assert help_run.exit_code == 0, (line, help_run.output)
    analyze = shutil.which("systemd-analyze")
    assert analyze, "systemd-analyze is needed (Debian package systemd)"
    # As installed, but pointing at this venv's ak-bridge (verify checks it is executable).
    here = Path(sys.executable).parent / "ak-bridge"
    (tmp_path / unit).write_text(text.replace(INSTALLED, str(here)))
    result = subprocess.run(
        [analyze, "verify", str(tmp_path / unit)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert not result.stderr.strip(), result.stderr  # no warning either
