"""The error tree: every rejection has its own stable code, documented in README.md."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest

from ak_bridge.core import errors
from ak_bridge.core.errors import (
    ConfigError,
    Finding,
    PartnerRejected,
    PartnerUnreachable,
    Rejected,
    Severity,
    ValidationFailed,
    rejection_classes,
)

README = Path(__file__).resolve().parents[1] / "README.md"


def readme_error_table() -> dict[str, int]:
    """``code -> HTTP status`` from README's error table (header ``| code | HTTP …``)."""
    lines = README.read_text(encoding="utf-8").splitlines()
    starts = [i for i, line in enumerate(lines) if re.match(r"\|\s*code\s*\|\s*HTTP", line)]
    assert starts, "README.md has no error table (a header row starting '| code | HTTP')"
    table: dict[str, int] = {}
    for line in lines[starts[0] + 2 :]:
        if not line.startswith("|"):
            break
        cells = [c.strip() for c in line.strip("|").split("|")]
        table[cells[0].strip("`")] = int(cells[1])
    return table


def test_every_rejection_is_listed() -> None:
    defined = {
        cls for _, cls in inspect.getmembers(errors, inspect.isclass) if issubclass(cls, Rejected)
    }
    assert set(rejection_classes()) == defined


def test_every_rejection_has_its_own_unique_code() -> None:
    classes = rejection_classes()
    for cls in classes:
        assert "code" in vars(cls), f"{cls.__name__} inherits its code instead of having one"
        assert re.fullmatch(r"[a-z][a-z0-9_]*", cls.code), cls.code
    codes = [cls.code for cls in classes]
    assert len(codes) == len(set(codes)), sorted(codes)


def test_every_rejection_is_a_client_error() -> None:
    for cls in rejection_classes():
        assert 400 <= cls.http_status < 500, cls
        # SOAP 1.1 section 4.4.1: the two envelope-level faults have their own faultcodes.
        assert cls.soap_faultcode in ("Client", "VersionMismatch", "MustUnderstand"), cls


def test_every_code_is_documented_in_the_readme() -> None:
    table = readme_error_table()
    missing = sorted(c.code for c in rejection_classes() if c.code not in table)
    assert not missing, f"codes without a row in README.md's error table: {missing}"


def test_readme_states_the_right_http_status() -> None:
    table = readme_error_table()
    wrong = {
        c.code: (table[c.code], c.http_status)
        for c in rejection_classes()
        if c.code in table and table[c.code] != c.http_status
    }
    assert not wrong, f"README HTTP status differs (README, code): {wrong}"


def test_readme_lists_no_code_that_does_not_exist() -> None:
    stale = set(readme_error_table()) - {c.code for c in rejection_classes()}
    assert not stale, f"README.md documents codes that no error has: {sorted(stale)}"


@pytest.mark.parametrize("cls", rejection_classes(), ids=lambda c: c.__name__)
def test_rejection_carries_code_box_and_message(cls: type[Rejected]) -> None:
    if cls is ValidationFailed:
        exc = cls((Finding("hs_too_short", "7", "HS code has 4 digits"),))
    else:
        exc = cls("something is wrong", box="7")
    body = exc.as_dict()
    assert body["code"] == cls.code and body["box"] == "7"
    assert body["findings"][0]["box"] == "7"
    assert isinstance(exc, ValueError) and isinstance(exc, errors.AkBridgeError)


def test_validation_failed_keeps_every_finding_and_summarises_errors_only() -> None:
    findings = (
        Finding("hs_too_short", "7", "HS code has 4 digits"),
        Finding("back_to_back_without_original", "13", "no original", Severity.WARNING),
        Finding("rvc_below_minimum", "8", "RVC 35%"),
    )
    exc = ValidationFailed(findings)
    assert exc.findings == findings and exc.box == "7"
    assert "hs_too_short" in exc.detail and "rvc_below_minimum" in exc.detail
    assert "back_to_back_without_original" not in exc.detail


def test_config_error_names_file_and_key() -> None:
    exc = ConfigError("config/partners.toml", "partners.X.channel", "must be soap, rest or asw")
    assert str(exc) == "config/partners.toml: partners.X.channel: must be soap, rest or asw"


def test_only_unreachable_partners_are_retried() -> None:
    assert PartnerUnreachable("down", failure_class=errors.FailureClass.TIMEOUT).retryable
    assert not PartnerRejected("fault", failure_class=errors.FailureClass.FAULT).retryable
