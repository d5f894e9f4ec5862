"""Storage adapters behind the service's ``Store`` port, chosen by the database setting.

A path is the embedded SQLite file (the one-box default, no server); a ``postgresql://`` URL
is a shared PostgreSQL database, for two or more boxes. The PostgreSQL driver is an optional
extra (``pip install ak-bridge[postgresql]``) and is imported only when a URL asks for it.
"""

from __future__ import annotations

from pathlib import Path

from ak_bridge.adapters.store import migrations
from ak_bridge.core.settings import Settings
from ak_bridge.service.ports import Store

__all__ = ["migrations", "is_postgres", "open_database", "open_store"]

POSTGRES_SCHEMES = ("postgresql://", "postgres://")


def is_postgres(database: str | Path) -> bool:
    return str(database).startswith(POSTGRES_SCHEMES)


def open_store(settings: Settings) -> Store:
    """Open the store the settings name (``service.database``)."""
    return open_database(settings.database, settings.database_password)


def open_database(database: str | Path, password: str | None = None) -> Store:
    """Open a store by path or URL; a SQLite file is created if it does not exist."""
    if is_postgres(database):
        from ak_bridge.adapters.store.postgres import PostgresStore

        return PostgresStore.open(str(database), password=password)
    from ak_bridge.adapters.store.sqlite import SqliteStore

    return SqliteStore.open(Path(database))
