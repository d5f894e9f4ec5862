"""Slow clients harm no one: the real ``ak-bridge serve`` (gunicorn) on loopback.

64 connections trickle headers or a body one byte at a time, or sit idle after partial
headers; legitimate KCS submissions must still be accepted meanwhile. Also checked on the
real server: the read deadlines close slow connections with 408, a 413 closes its
connection (the unread body is never taken for the next request), and gunicorn believes
``X-Forwarded-Proto`` from nobody unless ``[auth] trusted_proxies`` says so.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import requests
from lxml import etree

from ak_bridge.adapters.web import soap
from ak_bridge.sim.certificates import sample_form_ak
from ak_bridge.sim.slowloris import SlowClients
from ak_bridge.sim.topology import Topology, build_topology
from ak_bridge.standard.contracts import KCS

pytestmark = pytest.mark.slow
TODAY = datetime.now(UTC).date()
READ_TIMEOUT = 3  # header and body deadlines of the served bridge, seconds
SLOW = 64
LEGITIMATE = 12


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Topology, str]]:
    """``ak-bridge serve`` on the topology's config, with short read deadlines."""
    topo = build_topology(tmp_path_factory.mktemp("slow") / "exchange", start_partners=())
    cfg = topo.settings.root / "config" / "ak_bridge.toml"
    cfg.write_text(
        cfg.read_text().replace(
            "[service]\n",
            f"[service]\nheader_timeout_seconds = {READ_TIMEOUT}\n"
            f"body_timeout_seconds = {READ_TIMEOUT}\n",
        )
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("AK_BRIDGE_")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "ak_bridge", "--config", str(cfg.parent), "serve"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{topo.settings.port}"
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            assert proc.poll() is None, "ak-bridge serve exited"
            try:
                if requests.get(url + "/healthz", timeout=1).status_code == 200:
                    break
            except requests.RequestException:
                time.sleep(0.1)
        yield topo, url
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=20)
        topo.stop()


def _submit(topo: Topology, url: str, n: int) -> tuple[int, bytes]:
    kcs = topo.systems["KR-KCS"]
    co = sample_form_ak(f"KR-SLOW-{n:04d}", "KR", "ID", TODAY)
    xml, _, _ = kcs.document_for(co)
    assert xml is not None
    resp = requests.post(
        url + KCS.path,
        data=soap.submit_request(KCS, kcs.envelope_for(co, f"K-SLOW-{n}"), xml),
        headers={"Content-Type": soap.CONTENT_TYPE, **kcs.auth_headers()},
        timeout=10,  # what the issue saw legitimate submissions fail at
    )
    return resp.status_code, resp.content


def test_legitimate_submissions_succeed_while_64_slow_connections_are_held(
    served: tuple[Topology, str],
) -> None:
    topo, url = served
    host, port = "127.0.0.1", topo.settings.port
    with SlowClients(host, port, count=SLOW, interval=0.5) as slow:
        time.sleep(1.0)  # every slow connection is open and has begun its request
        answers = []
        for n in range(LEGITIMATE):
            answers.append(_submit(topo, url, n))
            time.sleep(0.25)
        deadline = time.monotonic() + 3 * READ_TIMEOUT
        while slow.answered_408 < SLOW and time.monotonic() < deadline:
            time.sleep(0.2)
    for status, content in answers:
        assert status == 200, content[:300]
        assert b"accepted" in content
    # The deadlines did their part: each slow connection was answered 408 and closed.
    assert slow.answered_408 >= SLOW, (slow.answered_408, slow.closed_by_server)


def test_an_idle_connection_with_partial_headers_is_closed_at_the_header_deadline(
    served: tuple[Topology, str],
) -> None:
    topo, _ = served
    with socket.create_connection(("127.0.0.1", topo.settings.port), timeout=5) as sock:
        sock.sendall(b"POST /soap/kcs HTTP/1.1\r\nHost: bridge\r\nContent-Type: text/xml\r\n")
        sock.settimeout(READ_TIMEOUT + 5)
        answer = sock.recv(4096)
        assert answer.startswith(b"HTTP/1.1 408"), answer[:100]
        assert b"request_timeout" in answer
        sock.settimeout(5)
        assert sock.recv(4096) == b""  # and closed


def test_a_413_closes_its_connection_and_the_next_request_is_answered(
    served: tuple[Topology, str],
) -> None:
    topo, url = served
    kcs = topo.systems["KR-KCS"]
    with requests.Session() as session:
        for n in range(5):
            big = session.post(
                url + KCS.path,
                data=b"<" + b"x" * (3 * 1024 * 1024),
                headers={"Content-Type": soap.CONTENT_TYPE, **kcs.auth_headers()},
                timeout=10,
            )
            assert big.status_code == 413
            assert big.headers.get("Connection", "").lower() == "close"
            assert session.get(url + "/healthz", timeout=5).status_code == 200, n


@pytest.mark.parametrize(("authenticated", "status"), [(True, b"413"), (False, b"401")])
def test_a_refused_oversize_body_is_never_read_as_the_next_request(
    served: tuple[Topology, str], authenticated: bool, status: bytes
) -> None:
    topo, _ = served
    token = topo.systems["VN-ECOSYS"].token if authenticated else "wrong"
    with socket.create_connection(("127.0.0.1", topo.settings.port), timeout=5) as sock:
        sock.sendall(
            b"POST /rest/v1/documents HTTP/1.1\r\nHost: b\r\nContent-Type: application/json\r\n"
            + f"Authorization: Bearer {token}\r\n".encode()
            + b"Content-Length: 3000000\r\n\r\n"
            + b"{" * 65536
        )
        answer = b""
        while b"\r\n\r\n" not in answer:
            answer += sock.recv(4096)
        assert answer.startswith(b"HTTP/1.1 " + status)
        assert b"Connection: close" in answer
        rest = b""
        try:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: b\r\n\r\n")  # read as body?
            while chunk := sock.recv(4096):
                rest += chunk
        except OSError:
            pass  # reset by the closing server: equally, no second answer
        assert b"HTTP/1.1 200" not in rest  # closed after the 413, not kept alive


def test_expect_100_continue_is_answered_before_the_body_is_awaited(
    served: tuple[Topology, str],
) -> None:
    """.NET's HttpClient and curl wait for ``100 Continue`` before they send a body."""
    topo, _ = served
    body = b'{"header": {}}'
    with socket.create_connection(("127.0.0.1", topo.settings.port), timeout=5) as sock:
        sock.sendall(
            b"POST /rest/v1/documents HTTP/1.1\r\nHost: b\r\nExpect: 100-continue\r\n"
            + f"Authorization: Bearer {topo.systems['VN-ECOSYS'].token}\r\n".encode()
            + f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n".encode()
        )
        interim = sock.recv(4096)
        assert interim == b"HTTP/1.1 100 Continue\r\n\r\n"
        sock.sendall(body)
        final = b""
        while b"schema_violation" not in final:
            chunk = sock.recv(4096)
            assert chunk, final
            final += chunk
        assert final.startswith(b"HTTP/1.1 400"), final[:200]  # no second 100 Continue


def test_gunicorn_believes_forwarded_proto_from_no_untrusted_address(
    served: tuple[Topology, str],
) -> None:
    _, url = served
    resp = requests.get(url + "/soap/kcs?wsdl", headers={"X-Forwarded-Proto": "https"}, timeout=10)
    (address,) = etree.fromstring(resp.content).iter(f"{{{soap.NS_WSDL_SOAP}}}address")
    assert address.get("location") == url + "/soap/kcs"
