"""Operator accounts of the web console and their failed logins, on both backends.

The failed logins live in the store, not in a process, so two instances behind one
address share the login throttle. Only hashes are stored (``ops/operators.py`` makes them).
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any

from ak_bridge.service.ports import DuplicateKey, iso


class OperatorStore:
    """Mixed into a ``SqlStore``, which supplies ``_all``, ``_one`` and ``write``."""

    _all: Callable[..., list[dict[str, Any]]]
    _one: Callable[..., dict[str, Any] | None]
    write: Callable[[], AbstractContextManager[Any]]

    def add_operator(self, name: str, role: str, password_hash: str, now: datetime) -> None:
        """A new account; ``DuplicateKey`` if the name is taken."""
        if self.operator(name) is not None:
            raise DuplicateKey(f"operator {name} exists")
        with self.write() as tx:
            tx.run(
                "INSERT INTO operators (name, role, password_hash, created_at) VALUES (?, ?, ?, ?)",
                [name, role, password_hash, iso(now)],
            )

    def operator(self, name: str) -> dict[str, Any] | None:
        return self._one("SELECT * FROM operators WHERE name = ?", [name])

    def operators(self) -> list[dict[str, Any]]:
        return self._all("SELECT name, role, created_at, disabled_at FROM operators ORDER BY name")

    def set_operator_password(self, name: str, password_hash: str) -> None:
        """Re-hash on login when the hashing parameters changed (argon2's check_needs_rehash)."""
        with self.write() as tx:
            tx.run("UPDATE operators SET password_hash = ? WHERE name = ?", [password_hash, name])

    def disable_operator(self, name: str, now: datetime) -> bool:
        with self.write() as tx:
            return bool(
                tx.run(
                    "UPDATE operators SET disabled_at = ? WHERE name = ? AND disabled_at IS NULL",
                    [iso(now), name],
                )
            )

    def login_failed(self, name: str, now: datetime) -> None:
        with self.write() as tx:
            tx.run("INSERT INTO login_failures (name, at) VALUES (?, ?)", [name, iso(now)])

    def login_failures(self, name: str, since: datetime) -> int:
        row = self._one(
            "SELECT count(*) AS n FROM login_failures WHERE name = ? AND at >= ?",
            [name, iso(since)],
        )
        return int(row["n"]) if row else 0

    def login_succeeded(self, name: str) -> None:
        with self.write() as tx:
            tx.run("DELETE FROM login_failures WHERE name = ?", [name])
