"""Issue 10 part 1: JSON Schemas of the national JSON formats, and the manifest's XSD.

Generated from the mappings (scripts/make-schemas), so they must equal a fresh generation,
accept what the codec writes, and refuse what the codec refuses. The signature manifest
is XML: its schema is an XSD that the manifests the bridge signs must match.
"""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator
from lxml import etree

from ak_bridge.config import load_format_mappings
from ak_bridge.core.errors import SchemaViolation
from ak_bridge.formats import build_codecs
from ak_bridge.formats.json_schema import json_schema
from ak_bridge.formats.mapped import MappedCodec
from ak_bridge.security import signing
from ak_bridge.sim.certificates import sample_form_ak
from ak_bridge.sim.pki import make_test_pki

ROOT = Path(__file__).parents[1]
SCHEMAS = ROOT / "wsdl" / "schemas"
TODAY = datetime.now(UTC).date()
CODECS = build_codecs(load_format_mappings(ROOT / "config"))
JSON_FORMATS = sorted(
    n for n, c in CODECS.items() if isinstance(c, MappedCodec) and c.kind == "json"
)


def test_there_is_a_json_format_to_describe() -> None:
    assert "vn_ecosys" in JSON_FORMATS


def test_a_sample_issued_by_viet_nam_is_in_its_own_format() -> None:
    """What eCoSys sends (issue 10): before, the only vn_ecosys sample was Korea's."""
    sample = ROOT / "wsdl" / "samples" / "certificate-vn-kr.vn_ecosys.json"
    assert json.loads(sample.read_text("utf-8"))["nuocCap"] == "VN"


@pytest.mark.parametrize("name", JSON_FORMATS)
def test_the_committed_schema_is_what_the_mapping_generates(name: str) -> None:
    committed = json.loads((SCHEMAS / f"{name}.schema.json").read_text("utf-8"))
    assert committed == json_schema(CODECS[name]), "stale: run scripts/make-schemas"
    Draft202012Validator.check_schema(committed)


@pytest.mark.parametrize("name", JSON_FORMATS)
def test_what_the_codec_writes_matches_its_schema(name: str) -> None:
    validator = Draft202012Validator(json_schema(CODECS[name]))
    for exporter, importer in (("VN", "KR"), ("KR", "VN")):
        document = CODECS[name].encode(sample_form_ak(f"{exporter}-S-1", exporter, importer, TODAY))
        validator.validate(document)
    for sample in (ROOT / "wsdl" / "samples").glob(f"*.{name}.json"):
        validator.validate(json.loads(sample.read_text("utf-8")))


@pytest.mark.parametrize("name", JSON_FORMATS)
def test_a_document_missing_a_mandatory_key_fails_schema_and_codec_alike(name: str) -> None:
    codec = CODECS[name]
    schema = json_schema(codec)
    good = codec.encode(sample_form_ak("VN-S-2", "VN", "KR", TODAY))
    for key in schema["required"]:
        bad = copy.deepcopy(good)
        del bad[key]
        assert not Draft202012Validator(schema).is_valid(bad), key
        if key != codec.marker_key:  # without its marker the codec does not recognise it
            with pytest.raises(SchemaViolation):
                codec.decode(bad)


def test_the_bridge_signed_manifest_matches_its_xsd(tmp_path: Path) -> None:
    entry = make_test_pki(tmp_path, ["VN-ECOSYS"])["VN-ECOSYS"]
    signer = signing.Signer(signing.load_identity(entry.key_file, entry.cert_file, None))
    xsd_path = ROOT / "ak_bridge" / "standard" / "akstd" / "signed-json-1.0.xsd"
    xsd = etree.XMLSchema(etree.parse(str(xsd_path)))
    manifest = etree.fromstring(signer.sign_json({"a": 1}))
    xsd.assertValid(manifest)
    manifest.find("{urn:ak-bridge:signed-json:1}Sha256").text = "ABC"
    assert not xsd.validate(manifest)
