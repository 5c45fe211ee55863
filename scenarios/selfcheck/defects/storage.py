"""Seeded defects in what a clinic keeps: password and backup-code hashes, the audit log."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Sequence
from typing import Any

from clinic2fa.scenarios.selfcheck.defects.registry import defect
from clinic2fa.simulator.audit import Event
from clinic2fa.simulator.clinic import Clinic, SignIn
from clinic2fa.simulator.hashing import Hasher


class _UnsaltedSha256(Hasher):
    """Passwords as bare SHA-256 (backup codes stay argon2id): one hash per password, fast to
    guess offline."""

    def hash(self, secret: str) -> str:
        return hashlib.sha256(secret.encode()).hexdigest()

    def verify(self, stored: str, candidate: str) -> bool:
        return hmac.compare_digest(stored, self.hash(candidate))


class _PlainBackupCodes(Hasher):
    """Backup codes kept as typed (passwords stay argon2id): a database leak is a sign-in."""

    def hash_many(self, secrets: Iterable[str]) -> list[str]:
        return list(secrets)

    def first_match(self, stored: Sequence[str | None], candidate: str) -> int | None:
        return next((i for i, kept in enumerate(stored)
                     if kept is not None and hmac.compare_digest(kept, candidate)), None)


class _OneSalt(Hasher):
    """argon2id, but every hash with the same salt: equal secrets give equal hashes."""

    def hash(self, secret: str) -> str:
        return self._ph.hash(secret, salt=b"one-salt-for-all")

    def hash_many(self, secrets: Iterable[str]) -> list[str]:
        return [self.hash(s) for s in secrets]


@defect("password-sha256", ("PASSWORD-HASH",), "passwords are stored as unsalted SHA-256")
class PasswordSha256(Clinic):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._hasher = _UnsaltedSha256(self.policy.hash_cost)


@defect("backup-codes-plain", ("BACKUP-HASHED",), "backup codes are stored in plain text")
class BackupCodesPlain(Clinic):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._hasher = _PlainBackupCodes(self.policy.hash_cost)


@defect("shared-salt", ("PASSWORD-HASH", "BACKUP-HASHED"),
        "passwords and backup codes are argon2id, but all with one salt")
class SharedSalt(Clinic):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._hasher = _OneSalt(self.policy.hash_cost)


@defect("audit-log-leaks-codes", ("AUDIT-LOG",),
        "the audit log records the backup code a person signed in with")
class AuditLogLeaksCodes(Clinic):
    def use_backup_code(self, token: str, code: str) -> SignIn:
        signed = super().use_backup_code(token, code)
        with self._lock:
            email = self._sessions[signed.token].email
            self._log(Event.BACKUP_CODE_USED, email, detail=f"code {code}")
        return signed


@defect("admin-disable-unrecorded", ("AUDIT-LOG",),
        "an admin's Disable 2FA for another user leaves no audit record (a self-disable does)")
class AdminDisableUnrecorded(Clinic):
    def _log(self, event: Event, actor: str, subject: str = "", detail: str = "") -> None:
        if event is not Event.TWO_FACTOR_DISABLED or subject in ("", actor):
            super()._log(event, actor, subject, detail)
