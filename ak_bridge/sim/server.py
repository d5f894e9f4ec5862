"""Run a WSGI app as a real HTTP server on loopback, in a thread (httpx's serve_in_thread)."""

from __future__ import annotations

import random
import socket
import ssl
import struct
import threading
from dataclasses import dataclass, field

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server


class QuietHandler(WSGIRequestHandler):
    """No access log line per request: the demo and benchmarks print their own tables."""

    def log_request(self, *args: object, **kwargs: object) -> None:
        pass


@dataclass
class LiveServer:
    app: object
    host: str = "127.0.0.1"
    port: int = 0
    ssl_context: ssl.SSLContext | None = None  # set: it serves HTTPS
    _server: BaseWSGIServer | None = field(default=None, repr=False)
    _thread: threading.Thread | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        scheme = "https" if self.ssl_context is not None else "http"
        return f"{scheme}://{self.host}:{self.port}"

    @property
    def running(self) -> bool:
        return self._server is not None

    def start(self) -> LiveServer:
        """Start (or restart, on the same port) the server."""
        if self._server is not None:
            return self
        try:
            self._server = make_server(
                self.host,
                self.port,
                self.app,
                threaded=True,
                request_handler=QuietHandler,
                ssl_context=self.ssl_context,
            )
        except SystemExit:  # werkzeug exits the process when the port is taken
            raise OSError(f"port {self.port} on {self.host} is already in use") from None
        self.port = self._server.server_port
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
        self._thread = None


def serve_in_thread(app: object, host: str = "127.0.0.1", port: int = 0) -> LiveServer:
    return LiveServer(app, host, port).start()


_handed_out: set[int] = set()
_handed_out_lock = threading.Lock()


def _outside_ephemeral_range() -> range:
    """Ports the OS never picks for outgoing connections, so a client cannot hold ours."""
    try:
        low = int(open("/proc/sys/net/ipv4/ip_local_port_range").read().split()[0])
    except (OSError, ValueError, IndexError):
        low = 32768
    return range(10000, max(10001, low))


def free_port(host: str = "127.0.0.1") -> int:
    """A free port for a loopback server, distinct from every other this process handed out.

    Two traps avoided: the OS may offer the same free port twice in a row (it was only
    probed, not kept), and a port from the ephemeral range may meanwhile be taken as the
    local end of an outgoing connection, so a server started later could not bind it.
    """
    candidates = _outside_ephemeral_range()
    with _handed_out_lock:
        for _ in range(2000):
            port = random.choice(candidates)
            if port in _handed_out:
                continue
            with socket.socket() as s:
                try:
                    s.bind((host, port))
                except OSError:
                    continue
            _handed_out.add(port)
            return port
    raise OSError("no free port found for a loopback server")


class ResettingServer:
    """Accepts TCP connections on a port and resets each at once (RST, no HTTP answer).

    Stands in for a partner whose load balancer or firewall drops connections.
    """

    def __init__(self, port: int, host: str = "127.0.0.1") -> None:
        self._sock = socket.socket()
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind((host, port))
        self._sock.listen(16)
        self._sock.settimeout(0.05)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            conn.close()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._sock.close()
