"""The wheel carries what it needs: installed outside the checkout, it validates and
translates the samples (XSDs, WSDLs and format mappings are package data)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "wsdl" / "samples"
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel built from this checkout, installed into a directory of its own."""
    tmp = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "-q",
            "--no-deps",
            "-w",
            str(tmp / "dist"),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
    )
    (wheel,) = (tmp / "dist").glob("ak_bridge-*.whl")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "-q",
            "--no-deps",
            "--target",
            str(tmp / "site"),
            str(wheel),
        ],
        check=True,
        capture_output=True,
    )
    return tmp


def run(installed: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AK_BRIDGE_")}
    env["PYTHONPATH"] = str(installed / "site")  # ahead of the editable checkout
    return subprocess.run(
        [sys.executable, "-m", "ak_bridge", *args],
        cwd=installed,  # no config/ here: the shipped templates are used
        env=env,
        capture_output=True,
        text=True,
    )


def test_the_installed_package_is_not_the_checkout(installed: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(installed / "site")}
    where = subprocess.run(
        [sys.executable, "-c", "import ak_bridge; print(ak_bridge.__file__)"],
        cwd=installed,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert where.startswith(str(installed / "site"))
    assert (installed / "site" / "ak_bridge" / "templates" / "config" / "formats").is_dir()


@pytest.mark.parametrize(
    "sample",
    [
        "certificate-kr-vn.unipass.xml",
        "certificate-kr-vn.vn_ecosys.json",
        "certificate-id-kr.id_ska.xml",
        "certificate-th-kr.akstd.xml",
    ],
)
def test_the_installed_wheel_validates_the_samples(installed: Path, sample: str) -> None:
    result = run(installed, "validate", str(SAMPLES / sample))
    assert result.returncode == 0, result.stdout + result.stderr
    assert ": valid [" in result.stdout


def test_the_installed_wheel_translates_between_formats(installed: Path) -> None:
    result = run(
        installed, "translate", "--to", "vn_ecosys", str(SAMPLES / "certificate-kr-vn.unipass.xml")
    )
    assert result.returncode == 0, result.stderr
    assert '"formatId": "VN-ECOSYS-AK/1.0"' in result.stdout.replace("\n", "")


def test_the_wheel_carries_the_console_templates_and_assets(installed: Path) -> None:
    console = installed / "site" / "ak_bridge" / "adapters" / "web" / "console"
    for name in ("base.html", "dashboard.html", "messages.html", "message.html", "login.html"):
        assert (console / "templates" / name).is_file(), name
    assert (console / "static" / "console.css").is_file()
