"""The benchmarks' partner: a simulated system in a process of its own (issue 14).

Why a process: in the benchmark's own process the partner's verification ran on the same
GIL as the clients, and the figures measured the harness. Why waitress: partners' servers
keep connections alive, and werkzeug's server (which the tests use) closes every one, so
each delivery paid a TCP connect that production does not.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import threading
import time
from multiprocessing.connection import Connection
from urllib.parse import urlsplit

import waitress

from ak_bridge.sim.partners import PartnerSystem
from ak_bridge.sim.topology import Topology


def _partner_main(system: PartnerSystem, port: int, mode: str, conn: Connection) -> None:
    """Indonesia's simulated system in a process of its own (not on the clients' GIL),
    served by waitress with HTTP keep-alive as real partners' servers are (werkzeug's
    server, which the tests use, closes the connection after every response)."""
    system.mode, system.keep_documents = mode, False
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)  # "task queue depth" lines
    server = waitress.create_server(system.app(), host="127.0.0.1", port=port, threads=4)
    threading.Thread(target=server.run, daemon=True).start()
    while True:
        ask = conn.recv()
        if ask == "count":
            conn.send(len(system.received))
        elif ask == "arrivals":  # in the order they arrived
            conn.send(
                [(r.message_id, r.envelope.reference_no, r.at.timestamp()) for r in system.received]
            )
        elif ask == "cpu":
            t = os.times()
            conn.send(t.user + t.system)
        else:
            server.close()
            return


def partner_port(topo: Topology, partner_id: str) -> int:
    """The port the topology's config reserved for a partner's endpoint."""
    port = urlsplit(topo.settings.partners[partner_id].endpoint).port
    assert port is not None
    return port


class Partner:
    """Indonesia in a forked process; asked for counts, arrivals and its CPU over a pipe."""

    def __init__(self, system: PartnerSystem, port: int, mode: str) -> None:
        self.conn, child = multiprocessing.Pipe()
        ctx = multiprocessing.get_context("fork")
        self.proc = ctx.Process(target=_partner_main, args=(system, port, mode, child))
        self.proc.start()

    def ask(self, what: str):  # noqa: ANN201 - the answer's type depends on the question
        self.conn.send(what)
        return self.conn.recv()

    def wait_for(self, n: int, limit: float = 600) -> int:
        t0 = time.perf_counter()
        while (got := self.ask("count")) < n and time.perf_counter() - t0 < limit:
            time.sleep(0.01)
        return got

    def stop(self) -> None:
        self.conn.send("stop")
        self.proc.join(timeout=10)
