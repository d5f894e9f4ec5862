"""A gunicorn worker that hands a request to a thread only once it has arrived whole.

gunicorn's gthread worker gives a connection a thread as soon as its first byte arrives; a
client trickling its headers or body (slowloris) then holds that thread for as long as it
likes. 16 such connections held the 8 threads of a default install, and legitimate
submissions timed out for most of the attack. Here the worker's event loop reads each
request itself (non-blocking, in memory, up to the body limit) and enforces two deadlines:

* ``header_timeout``: from the connection's first wait to the end of the headers;
* ``body_timeout``: from the end of the headers to the end of the body.

A connection that misses one gets ``408`` and is closed. Threads only ever see complete
requests, so slow clients cost a socket and a buffer, never a thread; ``worker_connections``
caps the sockets. A body announced larger than the limit is handed over at once (the app
refuses it with 413) and the connection is closed after the answer rather than drained.
"""

from __future__ import annotations

import errno
import re
import selectors
import socket
import time
from functools import partial
from typing import Any

from gunicorn.workers.gthread import TConn, ThreadWorker

HEAD_MAX = 64 * 1024  # past this without a blank line, gunicorn's parser refuses it anyway
_LENGTH = re.compile(rb"\r\ncontent-length[ \t]*:[ \t]*([0-9]{1,15})[ \t]*(?=\r\n|$)", re.I)
_EXPECT = re.compile(rb"\r\nexpect[ \t]*:[ \t]*100-continue", re.I)
CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
_CHUNKED = re.compile(rb"\r\ntransfer-encoding[ \t]*:[^\r\n]*chunked", re.I)
_TIMEOUT_BODY = (
    b'{"error": {"code": "request_timeout", "box": null, '
    b'"message": "the request did not arrive within the read timeout"}}'
)
_TIMEOUT_ANSWER = (
    b"HTTP/1.1 408 Request Timeout\r\nConnection: close\r\nContent-Type: application/json\r\n"
    + f"Content-Length: {len(_TIMEOUT_BODY)}\r\n\r\n".encode()
    + _TIMEOUT_BODY
)


class Prebuffered:
    """The client socket, with the bytes the event loop already read served first."""

    def __init__(self, sock: socket.socket, io_timeout: float) -> None:
        self._sock = sock
        self._io_timeout = io_timeout
        self.pending = b""
        self.continued = False  # the event loop already sent 100 Continue for this request

    def recv(self, size: int, *flags: int) -> bytes:
        if self.pending:
            out, self.pending = self.pending[:size], self.pending[size:]
            return out
        return self._sock.recv(size, *flags)

    def send(self, data: bytes, *flags: int) -> int:
        if self.continued and data == CONTINUE:  # gunicorn's own, second one: drop it
            self.continued = False
            return len(data)
        return self._sock.send(data, *flags)

    def setblocking(self, flag: bool) -> None:
        # A thread never waits on a silent client for ever: a read past what was buffered
        # (a pipelined request, a drain) gives up after the body timeout.
        if flag:
            self._sock.settimeout(self._io_timeout)
        else:
            self._sock.setblocking(False)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)


class BufferingWorker(ThreadWorker):
    """gthread whose event loop, not a thread, reads each request (see the module doc)."""

    header_timeout = 10.0
    body_timeout = 60.0
    max_body = 2 * 1024 * 1024

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._buffering: dict[Any, dict[str, Any]] = {}

    def load_wsgi(self) -> None:
        super().load_wsgi()
        self.wsgi = _close_when_asked(self.wsgi)

    def accept(self, listener: socket.socket) -> None:
        try:
            client, address = listener.accept()
        except BlockingIOError:
            return
        except OSError as exc:
            if exc.errno in (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM):
                # Out of descriptors: the listener stays readable, so do not spin on it.
                self.log.warning("cannot accept: %s; lower service.max_connections", exc)
                time.sleep(0.1)
            return  # ECONNABORTED and friends: the client gave up before we saw it
        self.nr_conns += 1
        sock = Prebuffered(client, self.body_timeout)
        self._start(TConn(self.cfg, sock, address, listener.getsockname()))

    def on_client_socket_readable(self, conn: Any, client: Any) -> None:
        """A kept-alive connection's next request is buffered like a first one."""
        self.poller.unregister(client)
        self.keepalived_conns.remove(conn)
        self._start(conn)

    def finish_request(self, conn: Any, fs: Any) -> None:
        super().finish_request(conn, fs)
        if conn in self.keepalived_conns and conn.sock.pending:  # a pipelined request
            self.on_client_socket_readable(conn, conn.sock)

    def _keepalive_after(self, conn: Any, keepalive: bool) -> bool:
        """A request whose body was not read whole (over the limit) ends its connection:
        draining megabytes to keep it alive would hold a thread for a refused upload."""
        if getattr(conn, "close_after", False):
            return False
        return super()._keepalive_after(conn, keepalive)

    def murder_pending(self) -> None:
        super().murder_pending()
        now = time.monotonic()
        for conn in [c for c, s in self._buffering.items() if s["deadline"] <= now]:
            self._drop(conn, answer=bool(self._buffering[conn]["inbox"]))

    # -- buffering ------------------------------------------------------------------------

    def _start(self, conn: Any) -> None:
        conn.sock.setblocking(False)
        self._buffering[conn] = {
            "inbox": bytearray(conn.sock.pending),
            "deadline": time.monotonic() + self.header_timeout,
            "head_end": None,
            "need": None,
        }
        conn.sock.pending = b""
        self.poller.register(conn.sock, selectors.EVENT_READ, partial(self._readable, conn))
        if self._buffering[conn]["inbox"] and self._complete(self._buffering[conn], conn):
            self._hand_over(conn)

    def _readable(self, conn: Any, _sock: Any) -> None:
        state = self._buffering[conn]
        try:
            data = conn.sock._sock.recv(256 * 1024)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:
            self._drop(conn, answer=False)
            return
        state["inbox"] += data
        if self._complete(state, conn):
            self._hand_over(conn)

    def _hand_over(self, conn: Any) -> None:
        """The request is whole: a thread parses it from memory and runs the app."""
        self.poller.unregister(conn.sock)
        state = self._buffering.pop(conn)
        conn.sock.pending = bytes(state["inbox"])
        conn.close_after = state.get("close", False)
        conn.data_ready = True
        self.enqueue_req(conn)

    def _complete(self, state: dict[str, Any], conn: Any = None) -> bool:
        inbox: bytearray = state["inbox"]
        if state["head_end"] is None:
            end = inbox.find(b"\r\n\r\n")
            if end < 0:
                return len(inbox) > HEAD_MAX  # let gunicorn's parser refuse it
            state["head_end"] = end + 4
            state["deadline"] = time.monotonic() + self.body_timeout
            head = bytes(inbox[:end])
            length = _LENGTH.search(head)
            if _CHUNKED.search(head):
                state["need"] = None
            elif length and int(length.group(1)) > self.max_body:
                state["close"] = True  # refused unread (413, or 401 first): then closed
                return True
            else:
                state["need"] = state["head_end"] + (int(length.group(1)) if length else 0)
            if conn is not None and _EXPECT.search(head) and len(inbox) == state["head_end"]:
                # .NET and curl wait for this before sending the body (RFC 9110 10.1.1)
                try:
                    conn.sock._sock.send(CONTINUE)
                    conn.sock.continued = True
                except OSError:
                    pass
        if state["need"] is None:  # chunked: until the last chunk, or past the limit
            body = len(inbox) - state["head_end"]
            state["close"] = body > self.max_body
            return inbox.endswith(b"0\r\n\r\n") or state["close"]
        return len(inbox) >= state["need"]

    def _drop(self, conn: Any, answer: bool) -> None:
        """Close a connection that stalled (408 when it had begun a request) or hung up."""
        self._buffering.pop(conn, None)
        try:
            self.poller.unregister(conn.sock)
        except (KeyError, ValueError, OSError):
            pass
        if answer:
            try:
                conn.sock._sock.send(_TIMEOUT_ANSWER)
            except OSError:
                pass
        self.nr_conns -= 1
        conn.close()


def _close_when_asked(app: Any) -> Any:
    """Honour ``Connection: close`` from the app, which gunicorn drops as hop-by-hop.

    After a 413 the unread body is still on the wire; closing is cheaper and safer than
    reading megabytes to keep the connection alive.
    """

    def wrapped(environ: dict, start_response: Any) -> Any:
        def start(status: str, headers: list, exc_info: Any = None) -> Any:
            if any(k.lower() == "connection" and v.lower() == "close" for k, v in headers):
                owner = getattr(start_response, "__self__", None)
                if hasattr(owner, "force_close"):
                    owner.force_close()
            return start_response(status, headers, exc_info)

        return app(environ, start)

    return wrapped
