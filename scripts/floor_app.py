"""Floor servers for ``scripts/bench``: the least any gateway must do per certificate.

Not part of ak-bridge (production never imports it). Served by gunicorn with the same worker
count, thread count and keep-alive as ``ak-bridge serve``, fed the same KCS SOAP requests by
the same client, so the ratio bridge/floor says what the bridge's own work costs.

* ``FLOOR_MODE=verify``: parse the SOAP request (hardened parser), base64-decode the
  document, verify its signature against the pinned certificate, one durable SQLite insert
  (WAL, synchronous=NORMAL, as the bridge), answer.
* ``FLOOR_MODE=sign``: the same, plus signing the stored document with the bridge's key, as
  a gateway must before it sends anything on.

Environment: FLOOR_MODE, FLOOR_DB, FLOOR_TRUSTED (pinned PEM), FLOOR_KEY and FLOOR_CERT
(sign mode).
"""

from __future__ import annotations

import base64
import os
import sqlite3
import threading
import uuid
from pathlib import Path

from lxml import etree

from ak_bridge.security import xmlio
from ak_bridge.security.signing import Signer, Verifier, load_identity, load_trusted

MODE = os.environ.get("FLOOR_MODE", "verify")
_verifier = Verifier(load_trusted([os.environ["FLOOR_TRUSTED"]]))
_signer = (
    Signer(load_identity(Path(os.environ["FLOOR_KEY"]), Path(os.environ["FLOOR_CERT"]), None))
    if MODE == "sign"
    else None
)
_local = threading.local()
REPLY = (
    b'<?xml version="1.0" encoding="UTF-8"?><soap:Envelope '
    b'xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>'
    b"<Receipt><MsgId>%s</MsgId><Result>accepted</Result></Receipt>"
    b"</soap:Body></soap:Envelope>"
)


def _db() -> sqlite3.Connection:
    conn = getattr(_local, "conn", None)
    if conn is None:
        conn = sqlite3.connect(os.environ["FLOOR_DB"], timeout=30, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute(
            "CREATE TABLE IF NOT EXISTS received (id TEXT PRIMARY KEY, raw BLOB, signed BLOB)"
        )
        _local.conn = conn
    return conn


def _document(envelope: etree._Element) -> bytes:
    """The base64 document of the submit request, wherever the contract puts it."""
    for el in envelope.iter():
        if isinstance(el.tag, str) and len(el) == 0 and el.text and len(el.text) > 200:
            return base64.b64decode(el.text)
    raise ValueError("no document in the request")


def app(environ: dict, start_response) -> list[bytes]:
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = environ["wsgi.input"].read(length)
    try:
        raw = _document(xmlio.parse_untrusted(body))
        signed_content = _verifier.verify(raw)
        signed = _signer.sign(signed_content) if _signer is not None else None
        msg_id = uuid.uuid4().hex
        conn = _db()
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("INSERT INTO received VALUES (?, ?, ?)", (msg_id, raw, signed))
        conn.execute("COMMIT")
    except Exception as exc:  # a floor has no error contract: say what broke
        start_response("400 Bad Request", [("Content-Type", "text/plain")])
        return [f"{type(exc).__name__}: {exc}".encode()]
    reply = REPLY % msg_id.encode()
    start_response(
        "200 OK", [("Content-Type", "text/xml; charset=utf-8"), ("Content-Length", str(len(reply)))]
    )
    return [reply]
