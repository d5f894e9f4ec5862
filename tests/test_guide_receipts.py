"""Issue 10: the guide's examples for signed receipts, outbound authentication and UAT run.

The receipt example has the element order a real signed receipt has; the verify script
(xmlsec1 alone) accepts a real receipt and refuses a changed one; the operator's partner
table loads, with its secret from the environment.
"""

from __future__ import annotations

import base64
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from string import Template

import pytest
from lxml import etree

from ak_bridge.config import load_settings
from ak_bridge.core.errors import ConfigError
from ak_bridge.sim.certificates import sample_form_ak
from ak_bridge.sim.topology import Topology, build_topology

ROOT = Path(__file__).parents[1]
EXAMPLES = ROOT / "docs" / "examples"
GUIDE = (ROOT / "docs" / "integration-guide.md").read_text("utf-8")
TODAY = datetime.now(UTC).date()


def _names(root: etree._Element) -> list[str]:
    return [etree.QName(child).localname for child in root]


def test_the_receipt_example_is_what_the_bridge_signs(signed: Topology, tmp_path: Path) -> None:
    vn = signed.systems["VN-ECOSYS"]
    answer = vn.submit(signed.bridge_url, sample_form_ak("VN-G-1", "VN", "KR", TODAY), "G1").json()
    real = etree.fromstring(base64.b64decode(answer["signedReceipt"]))
    example = etree.parse(str(EXAMPLES / "signed-receipts" / "receipt.xml")).getroot()
    assert real.tag == example.tag == "{urn:ak-bridge:receipt:1.0}SignedReceipt"
    assert _names(real) == _names(example)
    order = GUIDE[GUIDE.index("children in this order") : GUIDE.index("- `ContentSha256` is")]
    assert [n for n in _names(real) if n != "Signature"] == [
        n for n in _names(example)[:-1] if f"`{n}`" in order
    ]
    # the profile of section 2.1
    ds = "{http://www.w3.org/2000/09/xmldsig#}"
    sig = real.find(f"{ds}Signature")
    assert sig.find(f"{ds}SignedInfo/{ds}CanonicalizationMethod").get("Algorithm") == (
        "http://www.w3.org/2001/10/xml-exc-c14n#"
    )
    assert sig.find(f"{ds}SignedInfo/{ds}Reference").get("URI") == ""
    assert sig.find(f"{ds}KeyInfo/{ds}X509Data/{ds}X509Certificate") is not None


def test_the_verify_script_accepts_a_real_receipt_and_refuses_a_changed_one(
    signed: Topology, tmp_path: Path
) -> None:
    kcs = signed.systems["KR-KCS"]
    reply = kcs.submit(signed.bridge_url, sample_form_ak("KR-G-1", "KR", "VN", TODAY), "KG1")
    script = EXAMPLES / "signed-receipts" / "verify-receipt.sh"
    cert = signed.settings.identity_cert

    def verify(receipt: bytes, with_cert: Path) -> int:
        b64 = tmp_path / "receipt.b64"
        b64.write_text(base64.encodebytes(receipt).decode())  # wrapped, as MIME writes it
        return subprocess.run(
            ["sh", str(script), str(b64), str(with_cert)], capture_output=True
        ).returncode

    assert verify(reply.SgnRcpt, cert) == 0
    assert verify(reply.SgnRcpt.replace(b"KR-G-1", b"KR-G-2"), cert) != 0
    other = signed.workdir / "pki" / "KR-KCS.test-cert.pem"
    assert verify(reply.SgnRcpt, other) != 0


def test_the_partner_table_example_loads_with_its_secret_from_the_environment(
    tmp_path: Path,
) -> None:
    topo = build_topology(tmp_path / "c", start_partners=())
    config = tmp_path / "c" / "config"
    partners = (config / "partners.toml").read_text()
    start = partners.index("[partners.VN-ECOSYS]")
    end = (
        partners.index("\n[partners.", start + 1)
        if "\n[partners." in partners[start + 1 :]
        else len(partners)
    )
    example = Template((EXAMPLES / "partner-outbound.toml").read_text()).substitute(
        PARTNER_CERT=str(topo.workdir / "pki" / "VN-ECOSYS.test-cert.pem")
    )
    (config / "partners.toml").write_text(partners[:start] + example + partners[end:])
    settings = load_settings(config, environ={"AKB_VN_OUTBOUND_TOKEN": "from-env"})
    vn = settings.partners["VN-ECOSYS"]
    assert vn.sign_receipts and vn.uat_endpoint == "https://uat.ecosys.example.vn/ak/receive"
    assert vn.outbound.bearer_token == "from-env" and vn.outbound.server_cert_sha256
    with pytest.raises(ConfigError, match="AKB_VN_OUTBOUND_TOKEN"):
        load_settings(config, environ={})
