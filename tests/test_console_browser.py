"""The console in a real browser: Playwright drives Debian's Chromium (/usr/bin/chromium)
headless against the real bridge on loopback, with simulated partners and a history of a few
dozen messages. Chromium missing is a failure, never a skip. Screenshots of every page go to
test-output/screenshots/; the dashboard's is copied to docs/screenshots/ for the README."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
import requests
from flows import settle
from playwright.sync_api import Browser, Page, expect, sync_playwright

from ak_bridge.core.settings import ConsoleSettings
from ak_bridge.service.exchange import Exchange
from ak_bridge.service.operators import hash_password
from ak_bridge.sim.certificates import sample_form_ak
from ak_bridge.sim.topology import Topology, build_topology
from ak_bridge.standard.contracts import KCS

ROOT = Path(__file__).resolve().parents[1]
SHOTS = ROOT / "test-output" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
PASSWORD = "console password 1"
TODAY = datetime.now(UTC).date()
pytestmark = pytest.mark.slow


class Site:
    def __init__(self, topo: Topology, worker: Exchange, browser: Browser) -> None:
        self.topo, self.worker, self.browser = topo, worker, browser
        self.url = topo.bridge_url + "/admin"

    def page(self, name: str, password: str = PASSWORD) -> Page:
        page = self.browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
        page.goto(self.url + "/login")
        page.fill("input[name=name]", name)
        page.fill("input[name=password]", password)
        page.click("button[type=submit]")
        return page


def shot(page: Page, name: str) -> Path:
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def _send(topo: Topology, ref: str, importing: str) -> str:
    kcs = topo.systems["KR-KCS"]
    co = sample_form_ak(ref, "KR", importing, TODAY)
    xml, _, _ = kcs.document_for(co)
    return kcs.submit_soap(topo.bridge_url, KCS, kcs.envelope_for(co, f"K-{ref}"), xml).MsgId


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """24 COs to Indonesia delivered, 6 to Viet Nam dead (it was down), 3 refusals."""
    topo = build_topology(
        tmp_path_factory.mktemp("console") / "exchange",
        retry={"max_attempts": 1, "base_delay": 1, "jitter": 0, "breaker_threshold": 100},
    )
    secret = "browser-test-secret-" + "x" * 24  # plain HTTP on loopback: no Secure cookies
    topo.settings = replace(topo.settings, console=ConsoleSettings(secret, secure_cookies=False))
    bridge = topo.start_bridge()
    now = datetime.now(UTC)
    for name, role in (("olga", "operator"), ("vera", "viewer"), ("tom", "operator")):
        bridge.store.add_operator(name, role, hash_password(PASSWORD), now)
    worker = topo.worker_exchange()
    topo.systems["VN-ECOSYS"].stop()
    for n in range(24):
        _send(topo, f"KR-2026-AK-{n:06d}", "ID")
    for n in range(6):
        _send(topo, f"KR-2026-VN-{n:06d}", "VN")
    settle(worker)
    worker.store.heartbeat("worker-1", datetime.now(UTC))
    for _ in range(3):
        requests.post(topo.bridge_url + "/soap/kcs", data=b"<not-soap/>", timeout=5)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True)  # fails if absent
        yield Site(topo, worker, browser)
        browser.close()
    topo.stop()


def test_log_in_and_see_the_dashboard(site: Site) -> None:
    page = site.page("olga")
    expect(page.locator("#who")).to_have_text("olga (operator)")
    expect(page.locator("#partner-ID-SKA .backlog")).to_have_text("0")
    expect(page.locator("#partner-VN-ECOSYS")).to_contain_text("6 failed")
    expect(page.locator("#partner-ID-SKA")).to_contain_text("24 delivered")
    assert page.locator("#partner-ID-SKA svg.chart rect").count() >= 1
    expect(page.locator("body")).to_contain_text("worker-1")
    expect(page.locator("body")).to_contain_text("our signing certificate")
    path = shot(page, "dashboard")
    (ROOT / "docs" / "screenshots").mkdir(parents=True, exist_ok=True)
    shutil.copyfile(path, ROOT / "docs" / "screenshots" / "console-dashboard.png")
    for name, link in (
        ("refusals", "Refusals"),
        ("partners", "Partners and certificates"),
        ("report", "Pilot report"),
    ):
        page.click(f"nav >> text={link}")
        shot(page, name)
    expect(page.locator("#partners")).to_have_count(0)  # on the report page now
    framed = page.frame_locator("#pilot-report")  # the officials' page, charts drawn
    expect(framed.locator("h1")).to_contain_text("pilot report")
    assert framed.locator("svg").count() == 3
    page.goto(site.url + "/refusals")
    assert page.locator("#refusals tr").count() >= 2  # header and a refusal (repeats fold)
    page.locator("#refusals a").first.click()
    expect(page.locator("h1")).to_contain_text("Audit row")
    expect(page.locator("body")).to_contain_text("rejected")
    shot(page, "audit-row")


def test_filter_messages(site: Site) -> None:
    page = site.page("olga")
    page.goto(site.url + "/messages")
    page.select_option("select[name=partner]", "VN-ECOSYS")
    page.select_option("select[name=state]", "dead")
    page.click("#filters button[type=submit]")
    rows = page.locator("#messages tr.state-dead")
    expect(rows).to_have_count(6)
    assert page.locator("#messages tr.state-delivered").count() == 0
    expect(rows.first).to_contain_text("FORM_AK")
    expect(rows.first).to_contain_text("transport")
    shot(page, "messages-filtered")
    page.goto(site.url + "/messages")
    expect(page.locator("#messages tr")).to_have_count(31)  # header and all 30


def test_retry_a_dead_letter_and_watch_it_delivered(site: Site) -> None:
    page = site.page("olga")
    page.goto(site.url + "/messages?partner=VN-ECOSYS&state=dead")
    page.locator("#messages tr.state-dead a").first.click()
    message_id = page.locator("h1").inner_text().split()[-1]
    shot(page, "message-dead-letter")
    page.locator("a[id^=retry-]").click()
    expect(page.locator("#summary")).to_contain_text("1 delivery(ies) will be queued for retry")
    expect(page.locator("#preview")).to_contain_text(message_id)
    shot(page, "retry-preview")
    page.click("#confirm button[type=submit]")
    expect(page.locator("#done")).to_contain_text("1 of 1 delivery(ies) queued for retry")
    site.topo.systems["VN-ECOSYS"].start()  # the partner is back
    page.goto(f"{site.url}/messages/{message_id}")
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        site.worker.deliver_due()
        page.reload()
        if page.locator(".delivery .status").first.inner_text() == "delivered":
            break
        time.sleep(0.2)
    expect(page.locator(".delivery .status").first).to_have_text("delivered")
    expect(page.locator("#audit")).to_contain_text("olga")
    shot(page, "message-delivered")
    assert site.topo.systems["VN-ECOSYS"].unique_message_ids() == [message_id]


def test_a_viewer_cannot_retry(site: Site) -> None:
    page = site.page("vera")
    page.goto(site.url + "/messages?state=dead")
    page.locator("#messages tr.state-dead a").first.click()
    expect(page.locator(".delivery .status").first).to_have_text("dead")
    assert page.locator("a[id^=retry-]").count() == 0
    token = page.locator("input[name=csrf_token]").first.get_attribute("value")
    delivery = page.locator(".delivery").first.get_attribute("id").split("-")[1]
    forged = page.request.post(
        site.url + "/actions/retry",
        form={"delivery": delivery, "csrf_token": token},
        max_redirects=0,
    )
    assert forged.status == 403
    assert site.worker.store.delivery(int(delivery))["status"] == "dead"
    shot(page, "viewer-message")


def test_a_post_without_the_csrf_token_is_refused(site: Site) -> None:
    page = site.page("olga")
    page.goto(site.url + "/messages?state=dead")
    page.locator("#messages tr.state-dead a").first.click()
    delivery = page.locator(".delivery").first.get_attribute("id").split("-")[1]
    refused = page.request.post(
        site.url + "/actions/retry", form={"delivery": delivery}, max_redirects=0
    )
    assert refused.status == 403
    assert site.worker.store.delivery(int(delivery))["status"] == "dead"


def test_the_login_throttle(site: Site) -> None:
    for _ in range(5):
        page = site.page("tom", "not the password")
        expect(page.locator("#error")).to_have_text("Wrong name or password.")
    page = site.page("tom")  # the right password now
    expect(page.locator("#error")).to_contain_text("Too many failed logins")
    shot(page, "login-throttled")
    failed = site.worker.store.audit_events("console_login_failed")
    tom = [r["detail"] for r in failed if r["detail"].startswith("name 'tom'")]
    assert tom[0] == "name 'tom' from 127.0.0.1: throttled"  # the newest row first
    assert tom[1:6] == ["name 'tom' from 127.0.0.1: wrong_password"] * 5
