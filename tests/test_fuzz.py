"""A short fuzzing run (~5 s) of every parser of untrusted input; ``scripts/fuzz`` runs longer.

Fails on any crash: an exception that is not a typed ``Rejected``, or an endpoint answering
with a 500 that is not a typed SOAP fault or JSON error.
"""

from __future__ import annotations

from pathlib import Path

import fuzzing

FUZZ_SECONDS = 5.0


def test_short_fuzzing_run_finds_no_crash(tmp_path: Path) -> None:
    report = fuzzing.run(FUZZ_SECONDS, workdir=tmp_path)
    print(report.summary())
    assert not report.crashes, report.summary()
    assert report.total >= 100, report.summary()  # it really ran (about 1,500 here)
    expected = {"parse_untrusted", "soap.unwrap", "endpoints", "vn_ecosys.decode", "akstd.decode"}
    assert expected <= set(report.ran), report.summary()


def test_fuzz_script_reports_counts_and_exits_0(capsys) -> None:
    assert fuzzing.main(["--seconds", "0.2"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("fuzz: ") and "0 crash(es)" in out
