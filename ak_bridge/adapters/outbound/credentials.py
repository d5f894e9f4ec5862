"""How the bridge authenticates itself to a partner and checks the partner's server.

One ``requests`` session per partner carries all of it, so the SOAP (zeep), REST and ASW
senders cannot differ: a bearer token or HTTP basic from the environment variables the
configuration names; a TLS client certificate and key; the partner's CA bundle, or a pinned
SHA-256 of its server certificate. A certificate that fails either check is refused before
any byte of the message is sent; the failure is class ``tls`` (adapters/outbound/http.py).
"""

from __future__ import annotations

from typing import Any

import requests
from requests.adapters import HTTPAdapter

from ak_bridge.core.settings import OutboundAuth, PartnerConfig


class PartnerTls(HTTPAdapter):
    """HTTPS to one partner: its trust anchors, its pin and our client certificate.

    ``verify`` and ``cert`` are forced per request (a session's own ``verify`` loses to
    ``REQUESTS_CA_BUNDLE`` in requests); the pin is checked by urllib3 on every handshake.
    """

    def __init__(self, auth: OutboundAuth) -> None:
        self.auth = auth
        super().__init__()

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        if self.auth.server_cert_sha256:
            kwargs["assert_fingerprint"] = self.auth.server_cert_sha256
        super().init_poolmanager(*args, **kwargs)

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        a = self.auth
        if a.ca_file is not None:
            kwargs["verify"] = str(a.ca_file)
        elif a.server_cert_sha256:
            kwargs["verify"] = False  # the pin is the trust: exactly that certificate
        if a.client_cert_file is not None and a.client_key_file is not None:
            kwargs["cert"] = (str(a.client_cert_file), str(a.client_key_file))
        return super().send(request, **kwargs)


def partner_session(partner: PartnerConfig) -> requests.Session:
    """A session that presents our credentials to ``partner`` and checks its server."""
    session = requests.Session()
    auth = partner.outbound
    if auth.bearer_token:
        session.headers["Authorization"] = f"Bearer {auth.bearer_token}"
    elif auth.basic_user is not None:
        session.auth = (auth.basic_user, auth.basic_password or "")
    session.mount("https://", PartnerTls(auth))
    return session
