"""The wheel carries what it needs: installed outside the checkout, it validates and
translates the samples (XSDs, WSDLs and format mappings are package data).

The wheel is built as a release would be: from a clean copy of the files git tracks, with
the build tools already installed (``--no-build-isolation --no-index``: nothing downloaded).
Built in the checkout itself, setuptools also took the files listed by the stale
``ak_bridge.egg-info/SOURCES.txt`` of the editable install, so a ``package_data`` line could
go missing unnoticed; ``test_a_missing_package_data_line_is_noticed`` proves it no longer can.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "wsdl" / "samples"
CONSOLE_LINE = "ak_bridge.adapters.web.console = "
pytestmark = pytest.mark.slow


def clean_copy(dest: Path) -> Path:
    """The files git tracks, nothing else (no egg-info, build/ or .venv of the checkout)."""
    tracked = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, check=True, capture_output=True
    ).stdout.decode()
    for name in filter(None, tracked.split("\0")):
        if (ROOT / name).is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, dest / name)
    return dest


def build_wheel(source: Path, out: Path) -> Path:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "-q",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            "-w",
            str(out),
            str(source),
        ],
        check=True,
        capture_output=True,
    )
    (wheel,) = out.glob("ak_bridge-*.whl")
    return wheel


def package_data() -> set[str]:
    """What the package needs besides code: console templates and stylesheet, XSDs, WSDLs,
    the OpenAPI document; taken from the checkout, so a new template is covered too."""
    pkg = ROOT / "ak_bridge"
    found = [
        *(pkg / "adapters" / "web" / "console" / "templates").glob("*.html"),
        *(pkg / "adapters" / "web" / "console" / "static").glob("*"),
        *(pkg / "standard").rglob("*.xsd"),
        *(pkg / "standard").rglob("*.wsdl"),
        *(pkg / "standard").glob("*.json"),
    ]
    return {p.relative_to(ROOT).as_posix() for p in found}


def missing_from(wheel: Path) -> set[str]:
    with zipfile.ZipFile(wheel) as zf:
        return package_data() - set(zf.namelist())


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("build")
    return build_wheel(clean_copy(tmp / "src"), tmp / "dist")


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel built from a clean copy of this checkout, installed into a directory of its own."""
    tmp = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "-q",
            "--no-deps",
            "--no-index",
            "--target",
            str(tmp / "site"),
            str(wheel),
        ],
        check=True,
        capture_output=True,
    )
    return tmp


def test_the_wheel_holds_every_template_stylesheet_xsd_and_wsdl(wheel: Path) -> None:
    expected = package_data()
    assert "ak_bridge/adapters/web/console/static/console.css" in expected
    assert "ak_bridge/adapters/web/console/templates/login.html" in expected
    assert {".xsd", ".wsdl", ".html", ".css", ".json"} <= {Path(n).suffix for n in expected}
    assert missing_from(wheel) == set()


def test_a_missing_package_data_line_is_noticed(tmp_path: Path) -> None:
    """The check above against a setup.cfg without the console's line: it must fail."""
    source = clean_copy(tmp_path / "src")
    cfg = source / "setup.cfg"
    lines = cfg.read_text().splitlines(keepends=True)
    kept = [line for line in lines if not line.startswith(CONSOLE_LINE)]
    assert len(kept) == len(lines) - 1  # the line this test removes exists
    cfg.write_text("".join(kept))
    missing = missing_from(build_wheel(source, tmp_path / "dist"))
    assert "ak_bridge/adapters/web/console/templates/base.html" in missing
    assert "ak_bridge/adapters/web/console/static/console.css" in missing
    assert not any(n.endswith((".xsd", ".wsdl")) for n in missing)


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
