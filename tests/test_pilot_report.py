"""The pilot report over a history made through the real bridge (tests/report_history.py):
every figure checked against the test's own count of what it did."""

from __future__ import annotations

import csv
import json
import math
import os
import re
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

import lxml.html
import pytest
from click.testing import CliRunner, Result
from report_history import DAYS, T0, History, make_history

from ak_bridge.cli import cli
from ak_bridge.ops.report_figures import human_duration
from ak_bridge.ops.report_html import render_html
from ak_bridge.ops.report_summary import summary
from ak_bridge.ops.report_tables import raw, shown
from ak_bridge.ops.reports import PilotReport, pilot_report
from ak_bridge.service.ports import AuditEvent

BOUNDS = [1, 5, 30, 60, 300, 1800, 3600, 21600, math.inf]  # the histogram's, written again
FIRST, LAST = T0.date().isoformat(), (T0 + timedelta(days=DAYS - 1)).date().isoformat()


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> Iterator[History]:
    h = make_history(tmp_path_factory.mktemp("history") / "exchange")
    yield h
    h.topo.stop()


@pytest.fixture(scope="module")
def report(history: History) -> PilotReport:
    return pilot_report(
        history.worker.store,
        T0.replace(hour=0) + timedelta(days=DAYS),
        T0.replace(hour=0),
        shadow_partners=frozenset({"TH-DFT"}),
    )


def run(h: History, *args: str) -> Result:
    return CliRunner().invoke(cli, ["--config", str(h.topo.workdir / "config"), *args])


def nearest_rank(values: list[float], p: float) -> float:
    return sorted(values)[math.ceil(p * len(values)) - 1]


def test_volume_per_day_per_lane_and_document_type(history: History, report: PilotReport) -> None:
    got = Counter(
        {
            (day.isoformat(), lane, doc): n
            for day, lanes in report.daily.items()
            for lane, counts in lanes.items()
            for doc, n in counts.items()
        }
    )
    assert got == history.daily
    assert sum(got.values()) >= 150  # hundreds of messages, a few days
    assert sorted(d.isoformat() for d in report.daily) == [
        (T0 + timedelta(days=n)).date().isoformat() for n in range(DAYS)
    ]
    assert set(report.document_types) == {
        "FORM_AK",
        "CUSTOMS_RESPONSE",
        "VERIFICATION_REQUEST",
        "VERIFICATION_REPLY",
        "ACK",
        "VERIFICATION_EXTENSION",
    }


def test_latency_distribution_per_lane(history: History, report: PilotReport) -> None:
    lanes = {lane.name: lane for lane in report.lanes}
    for name, values in history.latencies.items():
        lane = lanes[name]
        buckets = [0] * len(BOUNDS)
        for v in values:
            buckets[next(i for i, b in enumerate(BOUNDS) if v < b)] += 1
        assert list(lane.latency_histogram.values()) == buckets, name
        assert lane.latency.count == len(values)
        assert lane.latency.p50_s == pytest.approx(nearest_rank(values, 0.5))
        assert lane.latency.p95_s == pytest.approx(nearest_rank(values, 0.95))
        assert lane.latency.p99_s == pytest.approx(nearest_rank(values, 0.99))
    everything = [v for values in history.latencies.values() for v in values]
    assert sum(report.latency_histogram.values()) == len(everything)


def test_refusals_by_code_and_box(history: History, report: PilotReport) -> None:
    got = Counter({(p, c): n for (p, c, _), n in report.refusals.items()})
    assert got == history.refusals
    assert {b for (_, _, b) in report.refusals} == {"header"}


def test_box4_counts_items_and_partial_preference(history: History, report: PilotReport) -> None:
    (vn,) = [lane for lane in report.lanes if lane.name == "KR → VN"]
    assert {k: v for k, v in vn.box4.items.items() if v} == dict(history.items)
    assert {k: v for k, v in vn.box4.responses.items() if v} == dict(history.outcomes)
    # a response giving 2 of 3 items is "some items given", one per day
    assert vn.box4.responses["some items given"] == DAYS
    assert vn.box4.responses["no item given"] == DAYS


def test_time_to_decision_and_verification(history: History, report: PilotReport) -> None:
    (vn,) = [lane for lane in report.lanes if lane.name == "KR → VN"]
    assert vn.decision.count == len(history.decision_s)
    assert vn.decision.p50_s == pytest.approx(nearest_rank(history.decision_s, 0.5))
    assert vn.verification.requests == len(history.open_requests) + history.replied
    assert vn.verification.replied == history.replied
    assert vn.verification.turnaround.p50_s == pytest.approx(history.turnaround_s)
    assert report.overdue_verifications == []  # due in two months


def expected_overdue(history: History, now: datetime) -> dict[str, tuple[str, str, bool, int]]:
    """By the test's own count: request no. -> (asked, due, extended, days late) if late."""
    return {
        no: (c.asked.isoformat(), c.due.isoformat(), c.extended_to is not None, late)
        for no, c in history.open_requests.items()
        if (late := (now.date() - c.due).days) > 0
    }


def overdue_of(report: PilotReport) -> dict[str, tuple[str, str, bool, int]]:
    return {
        v.request_no: (v.reply_due, v.due, v.extended, v.days_late)
        for v in report.overdue_verifications
    }


def test_overdue_replies_run_on_the_effective_reply_clock(history: History) -> None:
    """Late from the acknowledgement-started date or the extension, not the request's date:
    the day after the requests' own date only the untouched one is late."""
    clocks = history.open_requests
    assert clocks["VR-1"].asked == clocks["VR-2"].asked == clocks["VR-3"].asked  # one day
    assert clocks["VR-2"].due > clocks["VR-1"].due and clocks["VR-3"].due > clocks["VR-2"].due
    store = history.worker.store
    for now in (
        datetime.combine(clocks["VR-1"].asked + timedelta(days=1), time(), UTC),
        datetime.combine(clocks["VR-2"].due + timedelta(days=3), time(), UTC),
        datetime.combine(clocks["VR-3"].due + timedelta(days=5), time(), UTC),
    ):
        later = pilot_report(store, now, T0)
        assert overdue_of(later) == expected_overdue(history, now), now
    (acked,) = [v for v in later.overdue_verifications if v.request_no == "VR-2"]
    assert acked.acknowledged_on == clocks["VR-2"].acknowledged_on.isoformat()
    late = len(expected_overdue(history, now))
    assert f"{late} reply(ies) are overdue, 1 of them past an extended date." in summary(later)


def test_overdue_table_in_json_csv_text_and_html(history: History, tmp_path: Path) -> None:
    """Every output shows the effective due date and whether it was extended."""
    clocks = history.open_requests
    day = clocks["VR-3"].due + timedelta(days=1)  # --until a day: judged on the day after
    expected = expected_overdue(history, datetime.combine(day + timedelta(days=1), time(), UTC))
    assert set(expected) == {"VR-1", "VR-2", "VR-3", "VR-4"}  # VR-0 was answered
    period = ("--since", FIRST, "--until", day.isoformat())
    data = json.loads(run(history, "report", "--json", *period).output)
    got = {
        v["request_no"]: (v["reply_due"], v["due"], v["extended"], v["days_late"])
        for v in data["overdue_verifications"]
    }
    assert got == expected
    assert run(history, "report", *period, "--csv", str(tmp_path)).exit_code == 0
    with (tmp_path / "overdue_verifications.csv").open() as f:
        rows = {r["Request no."]: r for r in csv.DictReader(f)}
    assert {
        no: (
            r["Reply due (request)"],
            r["Reply due (effective)"],
            r["Extended"] == "yes",
            int(r["Days late"]),
        )
        for no, r in rows.items()
    } == expected
    assert rows["VR-2"]["Acknowledged on"] == clocks["VR-2"].acknowledged_on.isoformat()
    text = run(history, "report", *period).output
    vr3 = next(line for line in text.splitlines() if " VR-3 " in line)
    assert re.search(rf"{clocks['VR-3'].due.isoformat()}\s+yes\s+{expected['VR-3'][3]}$", vr3)
    page = tmp_path / "report.html"
    assert run(history, "report", *period, "--html", str(page)).exit_code == 0
    doc = lxml.html.document_fromstring(page.read_text())
    cells = [
        [td.text for td in tr.xpath("td")]
        for tr in doc.xpath("//section[@id='overdue_verifications']//tbody/tr")
    ]
    assert {c[2]: (c[5], c[6]) for c in cells} == {
        no: (due, "yes" if ext else "no") for no, (_, due, ext, _) in expected.items()
    }


def test_shadow_deliveries_counted_apart(history: History, report: PilotReport) -> None:
    (th,) = [p for p in report.partners if p.partner == "TH-DFT"]
    assert (th.shadow_held, th.shadow_released, th.shadow_now) == (history.shadow, 0, True)
    (lane,) = [lane for lane in report.lanes if lane.name == "KR → TH"]
    assert lane.shadow == history.shadow and lane.latency.count == 0
    (vn,) = [p for p in report.partners if p.partner == "VN-ECOSYS"]
    assert vn.by_status["dead"] == history.dead


def test_summary_paragraph(history: History, report: PilotReport) -> None:
    text = summary(report)
    first, last = T0.date(), (T0 + timedelta(days=DAYS - 1)).date()
    assert text.startswith(f"Between {first.day} ") and f"{last.day} {last:%B %Y}" in text
    timed = sum(len(v) for v in history.latencies.values()) + history.dead
    within = sum(v <= 60 for values in history.latencies.values() for v in values)
    assert f"Of {timed} deliveries" in text and f"{100 * within / timed:.1f}% were" in text
    assert f"{history.shadow} deliveries were held in shadow mode" in text
    assert "some items only" in text


def test_html_is_one_self_contained_page(history: History, report: PilotReport) -> None:
    page = render_html(report)
    doc = lxml.html.document_fromstring(page)
    svgs = doc.xpath("//svg")
    assert len(svgs) == 3  # per day, latency histogram, refusals by code
    assert not doc.xpath("//script | //link | //img | //iframe | //*[@src] | //*[@href]")
    assert "http://" not in page and "https://" not in page and "url(" not in page
    assert "@page { size: A4" in page
    # the figures in the page are the report's: the lane table's deliveries column
    rows = doc.xpath("//section[@id='lanes']//tbody/tr")
    lanes = {r.xpath("td")[0].text: int(r.xpath("td")[3].text) for r in rows}
    assert lanes == {lane.name: lane.deliveries for lane in report.lanes}
    bars = [t.text for t in svgs[2].xpath(".//text")]
    assert "form_d_not_accepted" in bars and "not_authorized" in bars


# -- the command: periods, timestamps, headers, precision, files --------------------------


def test_cli_period_is_given_and_printed_in_one_style(history: History) -> None:
    data = json.loads(run(history, "report", "--json", "--since", FIRST, "--until", LAST).output)
    end = (T0 + timedelta(days=DAYS)).date().isoformat()
    period = data["period"]
    assert (period["since"], period["until"]) == (f"{FIRST}T00:00:00Z", f"{end}T00:00:00Z")
    assert period["label"] == f"{FIRST} to {LAST}"  # --until a day: that whole day
    assert sum(
        lane["messages"].get("FORM_AK", 0) for day in data["daily"] for lane in day["lanes"]
    ) == sum(n for (_, _, doc), n in history.daily.items() if doc == "FORM_AK")
    instant = f"{FIRST}T09:30:00Z"
    text = run(history, "report", "--since", instant, "--until", LAST).output
    assert text.splitlines()[0].startswith(f"Pilot report {instant} to {end}T00:00:00Z (UTC)")


def test_cli_json_has_one_documented_shape(history: History, report: PilotReport) -> None:
    """``command`` as in every admin --json, then the sections under the keys README lists;
    lists, not maps keyed by data; the same figures as the report object."""
    data = json.loads(run(history, "report", "--json", "--since", FIRST, "--until", LAST).output)
    assert list(data) == [
        "command",
        "format",
        "period",
        "summary",
        "totals",
        "daily",
        "lanes",
        "partners",
        "refusals",
        "overdue_verifications",
        "backlog",
    ]
    assert (data["command"], data["format"]) == ("report", 1)
    assert set(data["period"]) == {"since", "until", "label", "generated_at"}
    assert set(data["totals"]) == {"latency", "latency_histogram", "decision", "refusals_by_code"}
    assert [d["day"] for d in data["daily"]] == [
        (T0 + timedelta(days=n)).date().isoformat() for n in range(DAYS)
    ]  # every day, in order
    assert all(isinstance(data[k], list) for k in ("daily", "lanes", "partners", "refusals"))
    assert sum(data["totals"]["refusals_by_code"].values()) == sum(report.refusals.values())
    lanes = {x["lane"]: x for x in data["lanes"]}
    assert {k: v["deliveries"] for k, v in lanes.items()} == {
        x.name: x.deliveries for x in report.lanes
    }
    assert isinstance(data["backlog"], list)
    for row in data["backlog"]:
        assert set(row) == {"partner", "waiting", "oldest", "age_days", "breaker"}


def test_cli_header_names_the_real_start(history: History) -> None:
    result = run(history, "report", "--until", LAST)
    assert result.exit_code == 0, result.output
    header = result.output.splitlines()[0]
    assert "start" not in header  # was "pilot report start .. 2026-11-28T18:04:32Z"
    assert header.startswith(f"Pilot report {FIRST}T08:00:00Z to ")


def test_cli_headers_are_readable_and_durations_humane(history: History) -> None:
    out = run(history, "report", "--since", FIRST, "--until", LAST).output
    assert "deliv." not in out and not re.search(r"\bto it\b", out)
    assert "Latency median" in out and "Median time to decision" in out
    median = nearest_rank(history.decision_s, 0.5)  # about an hour
    assert f"{median / 3600:.1f} h" in out


def test_durations_keep_their_precision() -> None:
    # the decision time was printed "p50 h 0.0" where the JSON held 0.0167
    assert [human_duration(s) for s in (0.25, 12, 60, 0.0167 * 3600, 5400, 3 * 86400)] == [
        "0.2 s",
        "12 s",
        "1.0 min",
        "1.0 min",
        "1.5 h",
        "3.0 days",
    ]
    assert shown(60.0, "seconds") == "1.0 min" and raw(60.0, "seconds") == 60.0


def test_cli_inverted_range_is_a_usage_error(history: History) -> None:
    result = run(history, "report", "--since", LAST, "--until", FIRST)
    assert result.exit_code == 2
    assert "is not before --until" in result.output
    assert run(history, "report", "--since", "28/11/2026").exit_code == 2


def test_cli_csv_writes_every_table_with_its_header(history: History, tmp_path: Path) -> None:
    full, empty = tmp_path / "full", tmp_path / "empty"
    assert (
        run(history, "report", "--since", FIRST, "--until", LAST, "--csv", str(full)).exit_code == 0
    )
    before = (T0 - timedelta(days=30)).date().isoformat()
    assert (
        run(history, "report", "--since", before, "--until", before, "--csv", str(empty)).exit_code
        == 0
    )
    names = {p.name for p in full.iterdir()}
    assert names == {p.name for p in empty.iterdir()} and "refusals.csv" in names
    for name in names:
        with (full / name).open() as f:
            header, *rows = list(csv.reader(f))
        with (empty / name).open() as f:
            got = next(csv.reader(f))  # the header, even with no rows
        if name == "daily_volume.csv":  # a column per document type received
            assert got == ["Day", "Lane", "All messages"] and "VERIFICATION_REPLY" in header
        else:
            assert got == header
    with (full / "lanes.csv").open() as f:
        lanes = {r["Lane (issuing → importing)"]: r for r in csv.DictReader(f)}
    assert int(lanes["KR → TH"]["Held (shadow mode)"]) == history.shadow
    assert float(lanes["KR → ID"]["Latency median (s)"]) in (0.3, 2.0, 45.0, 200.0, 4000.0, 0.8)
    with (full / "box4.csv").open() as f:
        (vn,) = list(csv.DictReader(f))
    assert int(vn["Responses: some items given"]) == DAYS
    with (empty / "refusals.csv").open() as f:
        assert list(csv.reader(f)) == [["Sent by", "Error code", "Form AK box", "Refusals"]]


def test_cli_html_escapes_partner_strings(history: History, tmp_path: Path) -> None:
    later = T0 + timedelta(days=20)
    history.worker.store.audit(
        AuditEvent(later, "rejected", None, "<script>alert(1)</script>", 'x"><img src=y>', "7")
    )
    day = later.date().isoformat()
    out = tmp_path / "report.html"
    result = run(history, "report", "--since", day, "--until", day, "--html", str(out))
    assert result.exit_code == 0, result.output
    page = out.read_text()
    doc = lxml.html.document_fromstring(page)
    assert not doc.xpath("//script | //img")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    cells = doc.xpath("//section[@id='refusals']//td/text()")
    assert cells[:2] == ["<script>alert(1)</script>", 'x"><img src=y>']


def test_cli_pdf_prints_the_page_on_a4(
    history: History, report: PilotReport, tmp_path: Path
) -> None:
    out = tmp_path / "report.pdf"
    result = run(history, "report", "--since", FIRST, "--until", LAST, "--pdf", str(out))
    assert result.exit_code == 0, result.output
    assert out.read_bytes().startswith(b"%PDF-")
    import weasyprint

    pages = weasyprint.HTML(string=render_html(report)).render().pages
    assert len(pages) >= 3
    assert {(round(p.width), round(p.height)) for p in pages} == {(794, 1123)}  # A4, CSS px


def test_html_in_a_browser(history: History, report: PilotReport, tmp_path: Path) -> None:
    """Debian's Chromium, headless, offline: the page asks for nothing and draws its charts.

    REPORT_SCREENSHOT=docs/screenshots/pilot-report.png keeps the screenshot for the README.
    """
    from playwright.sync_api import sync_playwright

    page_file = tmp_path / "report.html"
    page_file.write_text(render_html(report), encoding="utf-8")
    shot = tmp_path / "pilot-report.png"
    requested: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1100, "height": 900})
            page.on("request", lambda r: requested.append(r.url))
            page.goto(page_file.as_uri())
            boxes = [svg.bounding_box() for svg in page.locator("svg").all()]
            summary = page.locator("#summary").inner_text()
            page.screenshot(path=str(shot), full_page=True)
            if os.environ.get("REPORT_SCREENSHOT"):  # the top: summary, totals, charts
                top = {"x": 0, "y": 0, "width": 1100, "height": 1950}
                page.screenshot(path=os.environ["REPORT_SCREENSHOT"], clip=top, full_page=True)
        finally:
            browser.close()
    assert requested == [page_file.as_uri()]  # no font, script, image or style fetched
    assert len(boxes) == 3 and all(b and b["width"] > 500 and b["height"] > 40 for b in boxes)
    assert summary.startswith("Summary") and "certificate(s) of origin" in summary
    assert shot.stat().st_size > 50_000
