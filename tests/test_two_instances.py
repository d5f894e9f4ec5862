"""Two machines: two complete instances (serve and worker each, their own work directory and
config copy) share one PostgreSQL database, and the load goes across both.

The partners (KCS, Viet Nam) are real HTTP servers in this process; the bridges are
``ak-bridge serve`` (gunicorn) and ``ak-bridge worker`` subprocesses.
"""

from __future__ import annotations

import dataclasses
import shutil
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from test_crash import kill9, start_config, wait_ready

from ak_bridge.adapters.store import open_database
from ak_bridge.cli import cli
from ak_bridge.core.model import CancellationNotice, CustomsResponse, ItemDecision
from ak_bridge.core.model import PreferenceDecision as Pref
from ak_bridge.sim.certificates import sample_form_ak
from ak_bridge.sim.server import free_port
from ak_bridge.sim.topology import Topology, build_topology

pytestmark = pytest.mark.slow
TODAY = datetime.now(UTC).date() - timedelta(days=1)
N = 40


@dataclasses.dataclass
class Pair:
    topo: Topology
    configs: tuple[Path, Path]
    urls: tuple[str, str]


@pytest.fixture
def pair(tmp_path: Path, pg_url: str):
    topo = build_topology(
        tmp_path / "a",
        retry={"max_attempts": 50, "base_delay": 0.2, "factor": 1.5, "max_delay": 1, "jitter": 0.1},
        database=pg_url,
    )
    a = topo.settings.root / "config"
    toml = a / "ak_bridge.toml"
    toml.write_text(toml.read_text().replace("claim_seconds = 30", "claim_seconds = 2"))
    b = tmp_path / "b" / "config"  # machine B: its own copy of the configuration
    shutil.copytree(a, b)
    port_b = free_port()
    (b / "ak_bridge.toml").write_text(
        toml.read_text().replace(f"port = {topo.settings.port}", f"port = {port_b}")
    )
    yield Pair(
        topo, (a, b), (f"http://127.0.0.1:{topo.settings.port}", f"http://127.0.0.1:{port_b}")
    )
    topo.stop()


def kcs_submit(topo: Topology, url: str, doc, message_id: str):
    return topo.systems["KR-KCS"].submit(url, doc, message_id)


def test_two_instances_share_the_work_and_deliver_each_certificate_once(pair: Pair) -> None:
    topo, (a, b), (url_a, url_b) = pair.topo, pair.configs, pair.urls
    procs = {
        "serve-a": start_config(a, "serve"),
        "serve-b": start_config(b, "serve"),
    }
    vietnam, kcs = topo.systems["VN-ECOSYS"], topo.systems["KR-KCS"]
    vietnam.mode, vietnam.slow_seconds = "slow", 0.05  # deliveries take a while: a kill lands
    try:
        wait_ready(url_a, procs["serve-a"])
        wait_ready(url_b, procs["serve-b"])
        procs["worker-a"] = start_config(a, "worker")
        procs["worker-b"] = start_config(b, "worker")
        certificates = [sample_form_ak(f"KR-2M-{i:04d}", "KR", "VN", TODAY) for i in range(N)]
        receipts: dict[str, set[str]] = {co.reference_no: set() for co in certificates}
        statuses: dict[str, list[str]] = {co.reference_no: [] for co in certificates}

        def send_both(co) -> None:
            """The same certificate reaches both machines at once (a client retrying)."""
            barrier = threading.Barrier(2)

            def one(url: str, tag: str) -> None:
                barrier.wait()
                try:
                    reply = kcs_submit(topo, url, co, f"K-{tag}-{co.reference_no}")
                except Exception as exc:  # seen in the assertion below
                    statuses[co.reference_no].append(repr(exc))
                    return
                receipts[co.reference_no].add(reply.MsgId)
                statuses[co.reference_no].append(reply.PrcsRsltCd)

            threads = [
                threading.Thread(target=one, args=(u, t)) for u, t in ((url_a, "a"), (url_b, "b"))
            ]
            for t in threads:
                t.start()
            for t in threads:
                t.join()

        killed = False
        for i, co in enumerate(certificates):
            send_both(co)
            if i == N // 2 and not killed:  # mid-load: machine A's worker dies
                kill9(procs.pop("worker-a"))
                killed = True
        for co in certificates:
            assert len(receipts[co.reference_no]) == 1, co.reference_no  # one message id
            assert sorted(statuses[co.reference_no]) == ["accepted", "duplicate"]
        # a resend to either machine later gets the original receipt
        again = kcs_submit(topo, url_b, certificates[0], "K-again")
        assert again.PrcsRsltCd == "duplicate"
        assert {again.MsgId} == receipts[certificates[0].reference_no]

        wait_for(lambda: len(vietnam.received) >= N, 60)
        # lifecycle messages across both machines: replace, cancel, customs response
        fixed = dataclasses.replace(
            certificates[1],
            reference_no="KR-2M-R001",
            replaces_reference_no=certificates[1].reference_no,
            original_issue_date=certificates[1].issue_date,
        )
        assert kcs_submit(topo, url_a, fixed, "K-replace").PrcsRsltCd == "accepted"
        cancel = CancellationNotice(certificates[2].reference_no, "KR", "VN", "withdrawn", TODAY)
        assert kcs_submit(topo, url_b, cancel, "K-cancel").PrcsRsltCd == "accepted"
        co = certificates[3]
        response = CustomsResponse(
            co.reference_no,
            "KR",
            "VN",
            "VN-IMP-1",
            TODAY + timedelta(days=1),
            tuple(ItemDecision(n + 1, Pref.GIVEN) for n in range(len(co.items))),
        )
        answer = vietnam.submit(url_b, response, "VN-resp")  # REST: a requests response
        assert answer.status_code == 200, answer.text
        wait_for(lambda: len(vietnam.received) >= N + 2 and len(kcs.received) >= 1, 60)
        # a partner has the message before the worker records it: wait for the record too,
        # or the kill below can land between the two and leave a delivery in flight
        watch = open_database(topo.settings.database)
        wait_for(lambda: {d["status"] for d in watch.find_deliveries()} == {"delivered"}, 60)
    finally:
        for proc in procs.values():
            kill9(proc)

    refs = [r.certificate.reference_no for r in vietnam.received]
    assert sorted(refs) == sorted(
        [co.reference_no for co in certificates] + ["KR-2M-R001", certificates[2].reference_no]
    )
    assert len(set(vietnam.unique_message_ids())) == N + 2  # each once, under one id
    assert [r.certificate.reference_no for r in kcs.received] == [certificates[3].reference_no]
    store = open_database(topo.settings.database)
    assert store.certificate("KR", certificates[1].reference_no)["state"] == "REPLACED"
    assert store.certificate("KR", certificates[2].reference_no)["state"] == "CANCELLED"
    assert store.certificate("KR", certificates[3].reference_no)["state"] == "PREFERENCE_GIVEN"
    assert {d["status"] for d in store.find_deliveries()} == {"delivered"}
    verify = CliRunner().invoke(cli, ["--config", str(a), "audit", "verify"])
    assert verify.exit_code == 0, verify.output


def wait_for(condition, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError("timed out")


def test_the_demo_runs_on_two_instances_sharing_postgresql(tmp_path: Path, pg_url: str) -> None:
    """scripts/demo-postgres: the documented variant of the demo."""
    from ak_bridge.sim.demo import run_demo

    lines: list[str] = []
    assert run_demo(tmp_path / "demo", lines.append, database=pg_url, instances=2) == 0, lines
    assert "2 instances shared the database" in lines[-1]
    assert any(" duplicate as " in line for line in lines)  # the first went to both
