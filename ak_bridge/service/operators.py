"""Console operators: roles, password hashes and the login throttle.

Hashes are argon2id by argon2-cffi (the Password Hashing Competition's winner, maintained,
with safe defaults and ``check_needs_rehash`` to move old hashes to new parameters).
The throttle counts failures per account in the store, so every instance behind one
address refuses the sixth wrong password in a quarter of an hour, not each on its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from ak_bridge.service.ports import Store

ROLES = ("viewer", "operator")  # viewer reads; operator also retries and cancels
MAX_FAILURES = 5
WINDOW = timedelta(minutes=15)
_hasher = PasswordHasher()
# Verified when the name is unknown, so a wrong name costs as long as a wrong password.
_DUMMY = _hasher.hash("not a password of anyone")


def hash_password(password: str) -> str:
    if len(password) < 10:
        raise ValueError("a console password has at least 10 characters")
    return _hasher.hash(password)


@dataclass(frozen=True)
class Login:
    """The outcome of one login: the account, or why not (said vaguely to the browser)."""

    name: str | None
    role: str | None
    refused: str | None  # "throttled", "invalid" or None


def authenticate(store: Store, name: str, password: str, now: datetime) -> Login:
    """Check a password under the shared throttle; a failure is counted before answering."""
    if store.login_failures(name, now - WINDOW) >= MAX_FAILURES:
        return Login(None, None, "throttled")
    account = store.operator(name)
    stored = account["password_hash"] if account else _DUMMY
    try:
        _hasher.verify(stored, password)
        ok = account is not None and not account["disabled_at"]
    except (VerificationError, InvalidHashError):
        ok = False
    if not ok:
        store.login_failed(name, now)
        return Login(None, None, "invalid")
    assert account is not None
    store.login_succeeded(name)
    if _hasher.check_needs_rehash(stored):
        store.set_operator_password(name, _hasher.hash(password))
    return Login(account["name"], account["role"], None)
