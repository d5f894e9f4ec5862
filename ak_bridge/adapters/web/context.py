"""Access to the request's exchange and body, shared by the blueprints."""

from __future__ import annotations

import base64
import binascii
import re

from flask import current_app, request
from werkzeug.exceptions import RequestEntityTooLarge

from ak_bridge.core.errors import PayloadTooLarge, SchemaViolation
from ak_bridge.service.exchange import Exchange


def exchange() -> Exchange:
    return current_app.extensions["ak_bridge"]


def body() -> bytes:
    """The raw request body, refused with a typed 413 past the configured limit."""
    limit = current_app.config.get("MAX_CONTENT_LENGTH")
    if limit is not None and (request.content_length or 0) > limit:
        raise PayloadTooLarge(f"body larger than the {limit}-byte limit")
    try:
        data = request.get_data(cache=True)
    except RequestEntityTooLarge:
        raise PayloadTooLarge(f"body larger than the {limit}-byte limit") from None
    # A streamed (chunked) body has no Content-Length: werkzeug stops reading it at the
    # limit and returns the first ``limit`` bytes without a word. Reaching the limit is
    # therefore refusing, or a 12 MB body would be judged on its first MiB.
    if limit is not None and request.content_length is None and len(data) >= limit:
        raise PayloadTooLarge(f"body larger than the {limit}-byte limit")
    return data


_XML_WHITESPACE = re.compile(r"[ \t\r\n]+")


def decode_base64(text: str, what: str) -> bytes:
    """Decode ``xs:base64Binary``: XML whitespace anywhere is allowed, nothing else is.

    MIME encoders (Java's, .NET's) wrap lines at 64 or 76 columns and pretty-printers
    indent; XML Schema's base64Binary allows that whitespace, so it is dropped before the
    strict decode, which still refuses any other character.
    """
    try:
        return base64.b64decode(_XML_WHITESPACE.sub("", text), validate=True)
    except (binascii.Error, ValueError):
        raise SchemaViolation(f"{what} is not valid base64", box="header") from None
