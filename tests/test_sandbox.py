"""Issue 10 part 5: ``ak-bridge sandbox --as PARTNER`` is something an integrator can use.

Run as a partner's developer would: the command in its own process; the printed token and
the written signed requests, sent in their numbered order, must all be accepted.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import requests
from lxml import etree


def _start(tmp_path: Path, partner: str) -> tuple[subprocess.Popen[str], dict[str, str]]:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ak_bridge",
            "sandbox",
            "--as",
            partner,
            "--workdir",
            str(tmp_path),
            "--seconds",
            "120",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    info: dict[str, str] = {}
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.startswith("ready"):
            return proc, info
        key, _, value = line.partition(": ")
        info[key] = value.strip()
    proc.wait(timeout=10)
    raise AssertionError(f"sandbox did not start: {info}")


@pytest.mark.parametrize("partner", ["VN-ECOSYS", "ID-SKA", "KR-KCS"])
def test_the_sandbox_prints_what_to_use_and_its_requests_are_accepted(
    tmp_path: Path, partner: str
) -> None:
    proc, info = _start(tmp_path, partner)
    try:
        assert Path(info["key"]).is_file() and Path(info["certificate"]).is_file()
        written = sorted(Path(info["requests"]).iterdir())
        names = {p.name.split(".")[0].split("-", 1)[1] for p in written}
        assert names == {
            "certificate",
            "cancellation-notice",
            "retransmission-request",
            "customs-response",
            "verification-request",
        }
        soap_files = [p for p in written if p.name.endswith(".soap.xml")]
        rest_files = [p for p in written if p.name.endswith(".rest.json")]
        assert len(rest_files) == 5 and len(soap_files) == (4 if partner == "VN-ECOSYS" else 5)
        first, again = (
            (rest_files, soap_files) if partner == "VN-ECOSYS" else (soap_files, rest_files)
        )
        # in order over one channel: accepted; the same messages over the other: duplicates
        send_in_order(info, partner, first, again)
    finally:
        os.kill(proc.pid, signal.SIGINT)
        proc.wait(timeout=30)


def send_in_order(
    info: dict[str, str], partner: str, first: list[Path], again: list[Path]
) -> list[requests.Response]:
    """``first`` in order must each be accepted; ``again`` (the same messages) duplicates."""
    auth = {"Authorization": f"Bearer {info['token']}"}
    answers = []
    for path, expected in [*((p, "accepted") for p in first), *((p, "duplicate") for p in again)]:
        if path.name.endswith(".json"):
            resp = requests.post(
                info["endpoint"] + "/rest/v1/documents",
                data=path.read_bytes(),
                headers={**auth, "Content-Type": "application/json"},
                timeout=30,
            )
            assert resp.json().get("status") == expected, (path.name, resp.text)
        else:
            contract = path.name.split(".")[-3]  # NN-name.<ams|kcs>.soap.xml
            assert contract == ("kcs" if partner == "KR-KCS" else "ams")
            resp = requests.post(
                info["endpoint"] + f"/soap/{contract}",
                data=path.read_bytes(),
                headers={**auth, "Content-Type": "text/xml; charset=utf-8"},
                timeout=30,
            )
            status = etree.fromstring(resp.content).findtext(
                ".//{*}PrcsRsltCd" if contract == "kcs" else ".//{*}Status"
            )
            assert status == expected, (path.name, resp.text)
        answers.append(resp)
    return answers


def test_the_kcs_wsdl_says_who_speaks_its_contract() -> None:
    from ak_bridge.standard import WSDL_DIR

    text = (WSDL_DIR / "kcs" / "unipass-eco-1.0.wsdl").read_text()
    assert "calls AMS systems" not in text
    assert "calls KCS UNI-PASS with it" in text and "AMS national CO systems never see it" in text
