"""Slow clients (slowloris), for the slow-client test and ``scripts/slowloris``.

Holds ``count`` connections to a bridge, in three kinds taken in turn: trickling headers,
trickling a body after complete headers, and idle after partial headers. A connection the
server closes is counted (with the 408s it answered) and opened again at once, so the
pressure never lets up. One thread, non-blocking sockets, loopback only.
"""

from __future__ import annotations

import selectors
import socket
import threading
import time
from dataclasses import dataclass, field

KINDS = ("headers", "body", "idle")


@dataclass
class _Slow:
    kind: str
    sock: socket.socket
    opened: float


@dataclass
class SlowClients:
    host: str
    port: int
    count: int = 64
    interval: float = 2.0  # one byte per connection this often (headers and body kinds)
    closed_by_server: int = 0
    answered_408: int = 0
    longest_held: float = 0.0  # seconds the server let one slow connection live
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def __enter__(self) -> SlowClients:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _open(self, kind: str) -> _Slow:
        sock = socket.create_connection((self.host, self.port), timeout=5)
        path = "/soap/kcs" if kind != "body" else "/rest/v1/documents"
        head = f"POST {path} HTTP/1.1\r\nHost: {self.host}\r\n"
        if kind == "body":
            head += "Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n{"
        sock.sendall(head.encode())
        sock.setblocking(False)
        return _Slow(kind, sock, time.monotonic())

    def _run(self) -> None:
        selector = selectors.DefaultSelector()
        held: list[_Slow] = []
        for n in range(self.count):
            held.append(self._open(KINDS[n % len(KINDS)]))
            selector.register(held[-1].sock, selectors.EVENT_READ, held[-1])
        while not self._stop.wait(self.interval):
            for key, _ in selector.select(timeout=0):
                slow: _Slow = key.data
                selector.unregister(slow.sock)
                self._closed(slow)
                held.remove(slow)
                held.append(self._open(slow.kind))
                selector.register(held[-1].sock, selectors.EVENT_READ, held[-1])
            for slow in held:
                if slow.kind != "idle":
                    try:
                        slow.sock.send(b"x" if slow.kind == "body" else b"X")
                    except OSError:
                        pass  # closed meanwhile: seen as readable on the next round
        for slow in held:
            slow.sock.close()
        selector.close()

    def _closed(self, slow: _Slow) -> None:
        try:
            answer = slow.sock.recv(4096)
        except OSError:
            answer = b""
        self.closed_by_server += 1
        self.answered_408 += answer.startswith(b"HTTP/1.1 408")
        self.longest_held = max(self.longest_held, time.monotonic() - slow.opened)
        slow.sock.close()
