"""The README's own `ak-bridge demo --workdir var/demo`: a relative work directory, run twice."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from ak_bridge.cli import cli


def test_demo_in_a_relative_workdir_runs_and_runs_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    first = CliRunner().invoke(cli, ["demo", "--workdir", "var/demo"])
    # before the fix: var/demo/var/demo/pki/… does not exist
    assert first.exit_code == 0, first.output
    assert "DEMO OK" in first.output
    assert not (tmp_path / "var" / "demo" / "var").exists()
    config = (tmp_path / "var" / "demo" / "config" / "ak_bridge.toml").read_text()
    assert str(tmp_path / "var" / "demo" / "pki") in config

    # before the fix: the same references again are only duplicates, nothing is delivered
    again = CliRunner().invoke(cli, ["demo", "--workdir", "var/demo"])
    assert again.exit_code == 0, again.output
    assert "DEMO OK" in again.output and "duplicate" not in again.output
    assert "KR-2026-AK-000201" in again.output

    # the admin commands read the kept work directory: both runs' deliveries are there
    listed = CliRunner().invoke(cli, ["--config", "var/demo/config", "messages"])
    assert listed.exit_code == 0, listed.output
    assert "8 delivery(ies)" in listed.output
