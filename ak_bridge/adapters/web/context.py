"""Access to the request's exchange and body, shared by the blueprints."""

from __future__ import annotations

from flask import current_app, request
from werkzeug.exceptions import RequestEntityTooLarge

from ak_bridge.core.errors import PayloadTooLarge
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
