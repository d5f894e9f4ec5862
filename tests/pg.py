"""Throwaway PostgreSQL databases on the test server (scripts/with-postgres starts one)."""

from __future__ import annotations

import os
import secrets
from urllib.parse import urlsplit, urlunsplit

# Read at import, before any test's clean_environ removes AK_BRIDGE_* variables.
SERVER = os.environ.get("AK_BRIDGE_TEST_POSTGRES", "")
MISSING = (
    "no PostgreSQL: run the tests through scripts/test, or scripts/with-postgres pytest ..., "
    "or set AK_BRIDGE_TEST_POSTGRES=postgresql://..."
)


def create_database(server: str = SERVER) -> str:
    """A new empty database; its URL."""
    import psycopg

    if not server:
        raise RuntimeError(MISSING)
    name = f"akb_{secrets.token_hex(6)}"
    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    return urlunsplit(urlsplit(server)._replace(path=f"/{name}"))


def drop_database(url: str, server: str = SERVER) -> None:
    import psycopg

    name = urlsplit(url).path.lstrip("/")
    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
