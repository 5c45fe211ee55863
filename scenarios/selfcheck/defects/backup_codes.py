"""Seeded defects in backup codes and what the Security page shows: reuse, regeneration, leaks."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from clinic2fa.scenarios.selfcheck.defects.registry import defect
from clinic2fa.simulator import backup_codes
from clinic2fa.simulator.clinic import BackupCodes, Clinic, SecurityStatus, SignIn, Stage
from clinic2fa.simulator.errors import ErrorCode, Reason, TwoFactorError
from clinic2fa.simulator.users import User


@defect("backup-code-reusable", ("BACKUP-SINGLE-USE",), "a backup code works twice")
class BackupCodeReusable(Clinic):
    def use_backup_code(self, token: str, code: str) -> SignIn:
        """Puts the spent hash back, in the same list: a new list would look like a
        regeneration to parallel requests, which would then all match again, and again."""
        with self._lock:
            _, user = self._session(token, Stage.SECOND_STEP)
            hashes, kept = user.backup_hashes, list(user.backup_hashes)
        result = super().use_backup_code(token, code)
        with self._lock:
            if user.backup_hashes is hashes:  # not regenerated meanwhile
                hashes[:] = kept
        return result


@defect("old-backup-codes-survive", ("BACKUP-REGENERATE",),
        "regenerating adds new backup codes but the old ones keep working")
class OldBackupCodesSurvive(Clinic):
    def regenerate_backup_codes(self, token: str, password: str) -> list[str]:
        _, user = self._session(token, Stage.SIGNED_IN)
        old = list(user.backup_hashes)
        codes = super().regenerate_backup_codes(token, password)
        user.backup_hashes = user.backup_hashes + old
        return codes


@dataclass(frozen=True)
class _LeakyStatus(SecurityStatus):
    """A Security page that shows more than it should."""

    extra: dict[str, Any] = field(default_factory=dict)


@defect("backup-codes-retrievable", ("BACKUP-SHOWN-ONCE",),
        "the Security page shows the backup codes again after they were first shown")
class BackupCodesRetrievable(Clinic):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.shown_codes: dict[str, list[str]] = {}  # the defect's own: codes kept in plain

    def _new_backup_codes(self, user: User, fresh: backup_codes.Issue) -> list[str]:
        codes = super()._new_backup_codes(user, fresh)
        self.shown_codes[user.email] = codes
        return codes

    def security(self, token: str) -> SecurityStatus:
        status = super().security(token)
        return _LeakyStatus(**vars(status),
                            extra={"backup_codes": self.shown_codes.get(status.email)})


@defect("secret-disclosed", ("SECRET-NOT-DISCLOSED",),
        "the Security page returns the TOTP secret after enrolment")
class SecretDisclosed(Clinic):
    def security(self, token: str) -> SecurityStatus:
        status = super().security(token)
        user = self._users[status.email]
        return _LeakyStatus(**vars(status), extra={"totp_secret": user.totp_secret})


@defect("backup-codes-refused", ("OUTCOME-2", "BACKUP-SINGLE-USE"),
        "backup codes are issued but never accepted at the second step")
class BackupCodesRefused(Clinic):
    def use_backup_code(self, token: str, code: str) -> SignIn:
        self._session(token, Stage.SECOND_STEP)
        raise TwoFactorError(ErrorCode.CODE_REJECTED, "That backup code is not valid.",
                             Reason.WRONG_CODE)


@defect("passkey-first-no-backup-codes", ("BACKUP-PASSKEY-FIRST",),
        "a user whose first second factor is a passkey is handed no backup codes")
class PasskeyFirstNoBackupCodes(Clinic):
    def finish_passkey_setup(self, token: str, credential: dict[str, Any] | str,
                             name: str) -> BackupCodes:
        issued = super().finish_passkey_setup(token, credential, name)
        if issued:  # the codes are dropped, shown and stored alike
            with self._lock:
                _, user = self._session(issued.session or token, Stage.SIGNED_IN)
                user.backup_hashes = []
        return BackupCodes([], issued.session)


@defect("passkey-replaces-backup-codes", ("BACKUP-PASSKEY-FIRST",),
        "adding a passkey beside an authenticator app issues new backup codes, and the saved "
        "ones stop working")
class PasskeyReplacesBackupCodes(Clinic):
    def finish_passkey_setup(self, token: str, credential: dict[str, Any] | str,
                             name: str) -> BackupCodes:
        with self._lock:
            _, user = self._session(token, Stage.SIGNED_IN, Stage.ENROLMENT)
            had_codes = bool(user.backup_hashes)
        issued = super().finish_passkey_setup(token, credential, name)
        if not had_codes:
            return issued
        with self._lock:
            return BackupCodes(self._new_backup_codes(user, self._fresh_backup_codes()),
                               issued.session)
