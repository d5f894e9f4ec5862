"""``ak-bridge validate`` and ``translate`` over the committed samples in ``wsdl/samples/``.

The samples are what partners copy, so they are tested as partners would use them: every
valid sample validates (exit 0), every ``invalid/<code>.xml`` yields exactly ``<code>``,
translating a certificate sample gives byte for byte the committed sample of the same
certificate in the other format, and ``scripts/make-samples`` reproduces the committed files
exactly (no drift between the codecs and the samples).
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import re
from datetime import UTC, date, datetime
from pathlib import Path
from types import ModuleType

import pytest
from click.testing import CliRunner, Result
from lxml import etree

import ak_bridge.cli.standard  # noqa: F401  (registers validate and translate)
from ak_bridge.cli import cli
from ak_bridge.cli.standard import bridge_today
from ak_bridge.core.rules import MESSAGE_RULES, RULES
from ak_bridge.security import xmlio

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "wsdl" / "samples"
CONFIG = ROOT / "config"


def _load_make_samples() -> ModuleType:
    loader = importlib.machinery.SourceFileLoader(
        "make_samples", str(ROOT / "scripts/make-samples")
    )
    spec = importlib.util.spec_from_loader("make_samples", loader)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


MAKE = _load_make_samples()
SAMPLE_DAY: date = MAKE.SAMPLE_DAY
FILES = sorted(p for p in SAMPLES.rglob("*") if p.suffix in (".xml", ".json"))
# requests/ are signed transport bodies; refused-1.1/ messages are judged by a running bridge
# against their CO (tests/test_refused_samples.py), which validate does not have
DOCUMENTS = [p for p in FILES if p.relative_to(SAMPLES).parts[0] not in ("requests", "refused-1.1")]
VALID = [p for p in DOCUMENTS if p.parent.name != "invalid"]
INVALID = [p for p in DOCUMENTS if p.parent.name == "invalid"]
WARNINGS = {s.code for s in RULES if s.severity == "warning"}
# Rules no akstd sample can show: the XSD already refuses a non-Party country and an HS code
# under 6 digits, and these two need the CO the message refers to, which validate does not have.
NO_SAMPLE = {
    "box9_quantity_missing",  # 1.0 needs a gross weight; 1.1's XSD needs weight or quantity
    "hs_too_short",
    "issuing_country_not_party",
    "importing_country_not_party",
    "certificate_mismatch",
    "response_item_unknown",
}


def code_of(path: Path) -> str:
    """``invalid/<code>.xml`` or ``invalid/<code>.akstd-1.1.xml``: the code a sample shows."""
    return path.name.split(".")[0]


def format_of(path: Path) -> str:
    """``<story>.<format>.<ext>``, where the format may hold a dot (``akstd-1.1``)."""
    return path.name.split(".", 1)[1].rsplit(".", 1)[0]


def run(*args: str | Path) -> Result:
    return CliRunner().invoke(cli, ["--config", str(CONFIG), *map(str, args)])


def reported_codes(output: str) -> set[str]:
    return set(re.findall(r"^  [^,]+, ([a-z_]+), (?:error|warning): ", output, re.MULTILINE))


def rel(path: Path) -> str:
    return str(path.relative_to(SAMPLES))


# -- the committed samples -------------------------------------------------------------------


def test_make_samples_reproduces_the_committed_files() -> None:
    built = MAKE.build(SAMPLE_DAY)
    assert sorted(built) == sorted(rel(p) for p in FILES)
    for name, data in built.items():
        assert (SAMPLES / name).read_bytes() == data, f"{name} drifted: run scripts/make-samples"


def test_every_rule_has_an_invalid_sample() -> None:
    codes = {s.code for s in RULES} | {s.code for s in MESSAGE_RULES}
    assert {code_of(p) for p in INVALID} == (codes - NO_SAMPLE) | {"schema_violation"}


def test_samples_cover_every_format_and_message() -> None:
    formats = {format_of(p) for p in VALID if p.parent == SAMPLES}
    assert formats == {"akstd", "akstd-1.1", "unipass", "id_ska", "vn_ecosys", "th_dft"}
    roots = {p.stem for p in VALID if p.parent.name == "messages"}
    assert {"cancellation-notice", "customs-response", "retransmission-request"} <= roots
    assert {"verification-request", "verification-reply", "ack", "status-query"} <= roots
    assert {"status-response", "exchange-header"} <= roots
    assert {"business-receipt", "utilisation-notice", "exchange-header-1.1"} <= roots  # 1.1


@pytest.mark.parametrize("path", VALID, ids=rel)
def test_valid_sample_validates(path: Path) -> None:
    result = run("validate", "--today", SAMPLE_DAY.isoformat(), path)
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"{path}: valid [")
    assert reported_codes(result.output) == set()


@pytest.mark.parametrize("path", [p for p in FILES if "akstd" in p.name], ids=rel)
def test_each_akstd_sample_is_in_the_version_its_name_says_and_valid_against_that_xsd(
    path: Path,
) -> None:
    """``*.akstd.xml`` is 1.0, ``*.akstd-1.1.xml`` is 1.1; each against its own XSD."""
    root = etree.fromstring(path.read_bytes())
    version = "1.1" if ".akstd-1.1." in path.name else "1.0"
    assert etree.QName(root).namespace == f"urn:ak-bridge:eformak:{version}"
    xsd = xmlio.load_schema(f"akstd/eformak-{version}.xsd")
    assert xsd.validate(root) is (code_of(path) != "schema_violation"), path.name


def test_invalid_1_1_samples_exist_for_every_certificate_rule() -> None:
    plain = {code_of(p) for p in INVALID if p.name.endswith(".akstd-1.1.xml")}
    assert plain == {code_of(p) for p in INVALID if code_of(p) in {s.code for s in RULES}} | {
        "schema_violation"
    }


@pytest.mark.parametrize("path", INVALID, ids=rel)
def test_invalid_sample_yields_exactly_its_code(path: Path) -> None:
    result = run("validate", "--today", SAMPLE_DAY.isoformat(), path)
    assert reported_codes(result.output) == {code_of(path)}, result.output
    assert result.exit_code == (0 if code_of(path) in WARNINGS else 1), result.output


def test_many_files_at_once_one_verdict_each_and_exit_1() -> None:
    result = run("validate", "--today", SAMPLE_DAY.isoformat(), *DOCUMENTS)
    assert result.exit_code == 1
    verdicts = [line for line in result.output.splitlines() if not line.startswith("  ")]
    assert len([v for v in verdicts if v.startswith(str(SAMPLES))]) == len(DOCUMENTS)
    refused = [p for p in INVALID if code_of(p) not in WARNINGS]
    assert f"{len(refused)} of {len(DOCUMENTS)} file(s) invalid" in result.output


def test_findings_are_box_code_message_lines() -> None:
    result = run(
        "validate", "--today", SAMPLE_DAY.isoformat(), SAMPLES / "invalid/item_numbering.xml"
    )
    lines = result.output.splitlines()
    assert lines[0].endswith(": invalid, 1 error(s) [akstd]")
    assert lines[1].startswith("  5, item_numbering, error: item numbers are [1, 2, 4]")


def test_default_today_is_the_real_date(tmp_path: Path) -> None:
    """Samples re-dated to today validate without --today; the committed ones, a year on, not."""
    MAKE.write(tmp_path, MAKE.build(bridge_today()))
    fresh = sorted(
        p
        for p in tmp_path.rglob("*.*")
        if p.parent.name != "invalid"
        and p.relative_to(tmp_path).parts[0] not in ("requests", "refused-1.1")
    )
    assert run("validate", *fresh).exit_code == 0
    later = run("validate", "--today", "2030-01-01", SAMPLES / "certificate-kr-vn.akstd.xml")
    assert reported_codes(later.output) == {"certificate_expired"}


def test_bridge_today_is_the_date_in_the_earliest_time_zone() -> None:
    assert bridge_today(datetime(2026, 11, 20, 9, 59, tzinfo=UTC)) == date(2026, 11, 20)
    assert bridge_today(datetime(2026, 11, 20, 10, 0, tzinfo=UTC)) == date(2026, 11, 21)


# -- usage and broken input ------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ("validate",),
        ("validate", "--format", "klingon", SAMPLES / "certificate-kr-vn.akstd.xml"),
        ("validate", "--today", "20/11/2026", SAMPLES / "certificate-kr-vn.akstd.xml"),
        ("validate", SAMPLES / "no-such-file.xml"),
        ("translate", SAMPLES / "certificate-kr-vn.akstd.xml"),
        ("translate", SAMPLES / "certificate-kr-vn.akstd.xml", "--to", "klingon"),
    ],
)
def test_usage_errors_exit_2(args: tuple) -> None:
    assert run(*args).exit_code == 2


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        (b"not xml at all", "malformed_xml"),
        (b'<!DOCTYPE x [<!ENTITY a "b">]><x>&a;</x>', "forbidden_xml"),
        (b"<Other xmlns='urn:other'/>", "schema_violation"),
        (b'{"formatId": "XX"}', "schema_violation"),
    ],
)
def test_unreadable_documents_are_invalid_with_a_code(
    tmp_path: Path, payload: bytes, code: str
) -> None:
    path = tmp_path / "doc"
    path.write_bytes(payload)
    result = run("validate", path)
    assert result.exit_code == 1
    assert reported_codes(result.output) == {code}


def test_explicit_format_is_used_instead_of_detection() -> None:
    path = SAMPLES / "certificate-kr-vn.akstd.xml"
    result = run("validate", "--today", SAMPLE_DAY.isoformat(), "--format", "unipass", path)
    assert result.exit_code == 1
    assert reported_codes(result.output) == {"schema_violation"}


def test_works_without_a_config_directory(tmp_path: Path) -> None:
    """No bridge config: the format mappings shipped with ak-bridge are used."""
    result = CliRunner().invoke(
        cli,
        [
            "--config",
            str(tmp_path / "none"),
            "validate",
            "--today",
            SAMPLE_DAY.isoformat(),
            str(SAMPLES / "certificate-id-kr.id_ska.xml"),
        ],
    )
    assert result.exit_code == 0, result.output


# -- translate -------------------------------------------------------------------------------

CERTIFICATES = [p for p in VALID if p.parent == SAMPLES]


def _same_certificate(path: Path) -> list[Path]:
    story = path.name.split(".")[0]
    return [p for p in CERTIFICATES if p.name.split(".")[0] == story and p != path]


@pytest.mark.parametrize("path", CERTIFICATES, ids=rel)
def test_translate_gives_the_committed_sample_in_the_other_format(path: Path) -> None:
    for other in _same_certificate(path):
        fmt = format_of(other)
        result = run("translate", path, "--to", fmt)
        assert result.exit_code == 0, result.output
        assert result.stdout_bytes == other.read_bytes(), f"{path.name} -> {fmt}"


@pytest.mark.parametrize("via", ["akstd", "unipass", "id_ska", "vn_ecosys", "th_dft"])
def test_translate_round_trips_through_every_format(tmp_path: Path, via: str) -> None:
    source = SAMPLES / "certificate-th-kr.th_dft.xml"
    there = run("translate", source, "--to", via)
    assert there.exit_code == 0, there.output
    middle = tmp_path / "middle"
    middle.write_bytes(there.stdout_bytes)
    back = run("translate", middle, "--from", via, "--to", "th_dft")
    assert back.exit_code == 0, back.output
    assert back.stdout_bytes == source.read_bytes()


def test_translate_drops_a_signature_and_prints_unsigned(tmp_path: Path) -> None:
    source = (SAMPLES / "certificate-kr-vn.akstd.xml").read_bytes()
    signed = tmp_path / "signed.xml"
    signature = b'<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#">x</ds:Signature>'
    signed.write_bytes(
        source.replace(b"</CertificateOfOrigin>", signature + b"</CertificateOfOrigin>")
    )
    result = run("translate", signed, "--to", "akstd")
    assert result.exit_code == 0, result.output
    assert result.stdout_bytes == source


def test_translate_lifecycle_messages_only_to_the_agreed_xml() -> None:
    path = SAMPLES / "messages/customs-response.xml"
    same = run("translate", path, "--to", "messages")
    assert (same.exit_code, same.stdout_bytes) == (0, path.read_bytes())
    refused = run("translate", path, "--to", "vn_ecosys")
    assert refused.exit_code == 1
    assert "agreed XML" in refused.output


def test_translate_of_an_invalid_document_exits_1_with_code_and_box() -> None:
    result = run("translate", SAMPLES / "invalid/schema_violation.xml", "--to", "unipass")
    assert result.exit_code == 1
    assert "schema_violation (box 7)" in result.output


@pytest.mark.parametrize("to", ["akstd", "unipass", "vn_ecosys"])
def test_translate_of_a_1_1_only_certificate_to_1_0_or_a_national_format_is_refused(
    to: str,
) -> None:
    """Never a silent drop: KCCI's body, the route and the rest are 1.1 only (issue 11)."""
    result = run("translate", SAMPLES / "transhipped-kr-th.akstd-1.1.xml", "--to", to)
    assert result.exit_code == 1, result.output
    assert "version_not_lossless (box 2)" in result.output  # the exhibition comes first
