"""Console operators: roles, password hashes and the login throttle.

Hashes are argon2id by argon2-cffi (the Password Hashing Competition's winner, maintained,
with safe defaults and ``check_needs_rehash`` to move old hashes to new parameters).
The throttle counts failures per account in the store, so every instance behind one
address refuses the sixth wrong password in a quarter of an hour, not each on its own.
Every login, failed ones included, is also an audit row (name tried, client address, why;
never the password): the throttle table forgets on success, the audit trail must not, so that
a guessing attack shows in the trail an authority's auditor reads.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from ak_bridge.service.ports import AuditEvent, Store

ROLES = ("viewer", "operator")  # viewer reads; operator also retries and cancels
MAX_FAILURES = 5
WINDOW = timedelta(minutes=15)
_hasher = PasswordHasher()
# Verified when the name is unknown, so a wrong name costs as long as a wrong password.
_DUMMY = _hasher.hash("not a password of anyone")
NAME_KEPT = 64  # characters of a tried name kept in the audit trail (it is anyone's input)


def hash_password(password: str) -> str:
    if len(password) < 10:
        raise ValueError("a console password has at least 10 characters")
    return _hasher.hash(password)


@dataclass(frozen=True)
class Login:
    """The outcome of one login: the account, or why not (said vaguely to the browser).

    ``refused`` is what the browser may learn; ``reason`` is what the audit trail records:
    "unknown_user", "wrong_password", "disabled" or "throttled".
    """

    name: str | None
    role: str | None
    refused: str | None  # "throttled", "invalid" or None
    reason: str | None = None


def tried_name(name: str) -> str:
    """A tried name as it may stand in the audit trail: printable, bounded, quoted."""
    kept = "".join(c if c.isprintable() else "?" for c in name[:NAME_KEPT])
    return repr(kept) + ("…" if len(name) > NAME_KEPT else "")


def authenticate(store: Store, name: str, password: str, now: datetime, source: str = "-") -> Login:
    """Check a password under the shared throttle; a failure is counted and audited before
    answering. ``source`` is the client's address, as the web adapter sees it.

    A throttled login is not audited here: it costs the sender nothing (no hash is checked),
    so the caller audits it once per series (``audit_failed_login``), else anyone could grow
    the audit trail at will.
    """
    if store.login_failures(name, now - WINDOW) >= MAX_FAILURES:
        return Login(None, None, "throttled", "throttled")
    account = store.operator(name)
    stored = account["password_hash"] if account else _DUMMY
    try:
        _hasher.verify(stored, password)
        reason = None if account is None or not account["disabled_at"] else "disabled"
    except (VerificationError, InvalidHashError):
        reason = "wrong_password"
    if account is None:
        reason = "unknown_user"
    if reason is not None:
        store.login_failed(name, now)
        audit_failed_login(store, name, now, source, reason)
        return Login(None, None, "invalid", reason)
    assert account is not None
    store.login_succeeded(name)
    if _hasher.check_needs_rehash(stored):
        store.set_operator_password(name, _hasher.hash(password))
    store.audit(AuditEvent(now, "console_login", actor=account["name"], detail=f"from {source}"))
    return Login(account["name"], account["role"], None)


def audit_failed_login(
    store: Store, name: str, now: datetime, source: str, reason: str, repeats: int = 0
) -> None:
    """One ``console_login_failed`` row: the name tried, from where, why; no password.
    ``repeats``: how many more like it were only counted (a closed series of throttled ones)."""
    more = f"; {repeats} more like it within 60 s" if repeats else ""
    store.audit(
        AuditEvent(
            now,
            "console_login_failed",
            detail=f"name {tried_name(name)} from {source}: {reason}{more}",
        )
    )
