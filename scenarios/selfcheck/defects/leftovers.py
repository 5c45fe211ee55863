"""Seeded defects that leave something behind: an old enrolment's factors, a setting that does
not switch back, a path the rule is not checked on."""

from __future__ import annotations

from typing import Any

from webauthn.helpers import parse_client_data_json, parse_registration_credential_json

from clinic2fa.scenarios.selfcheck.defects.registry import defect, register, swapped
from clinic2fa.simulator import backup_codes, totp
from clinic2fa.simulator.clinic import Clinic, SignIn, StaffEntry, Stage
from clinic2fa.simulator.errors import ErrorCode, TwoFactorError
from clinic2fa.simulator.passkeys import Passkeys
from clinic2fa.simulator.users import User


class _Retiring(Clinic):
    """Keeps what _strip_factors takes away, for a defect to bring back."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.retired_secrets: dict[str, list[str]] = {}  # the defect's own
        self.retired_codes: dict[str, list[str | None]] = {}

    def _strip_factors(self, user: User) -> None:
        if user.totp_secret:
            self.retired_secrets.setdefault(user.email, []).append(user.totp_secret)
        self.retired_codes.setdefault(user.email, []).extend(user.backup_hashes)
        super()._strip_factors(user)


@defect("old-secret-survives-re-enrolment", ("DISABLE-REAUTH", "ADMIN-DISABLE-ENDS-SESSIONS"),
        "after 2FA is disabled and set up again, the old authenticator app's codes still work")
class OldSecretSurvives(_Retiring):
    def enter_code(self, token: str, code: str) -> SignIn:
        try:
            return super().enter_code(token, code)
        except TwoFactorError as refusal:
            if refusal.code is not ErrorCode.CODE_REJECTED:
                raise
            with self._lock:
                session, user = self._session(token, Stage.SECOND_STEP)
                now = totp.step_of(self.clock.now(), self.params)
                for old in self.retired_secrets.get(user.email, []):
                    if totp.match_step(old, "".join(code.split()), now, self.policy.window,
                                       self.params) is not None:
                        return self._pass_second_step(session, user, "authenticator app")
            raise


@defect("old-backup-codes-survive-re-enrolment", ("DISABLE-REAUTH", "ADMIN-DISABLE-ENDS-SESSIONS"),
        "after 2FA is disabled and set up again, the old enrolment's backup codes still work")
class OldBackupCodesSurviveReEnrolment(_Retiring):
    def use_backup_code(self, token: str, code: str) -> SignIn:
        try:
            return super().use_backup_code(token, code)
        except TwoFactorError as refusal:
            if refusal.code is not ErrorCode.CODE_REJECTED:
                raise
            with self._lock:
                session, user = self._session(token, Stage.SECOND_STEP)
                if backup_codes.spend(self.retired_codes.get(user.email, []), code,
                                      self._hasher):
                    return self._pass_second_step(session, user, "backup code")
            raise


@defect("admin-disable-keeps-passkeys", ("ADMIN-DISABLE-ENDS-SESSIONS", "PASSKEY-FACTOR"),
        "Settings -> Staff -> Disable 2FA removes the app and backup codes but not passkeys")
class AdminDisableKeepsPasskeys(Clinic):
    def disable_2fa_for(self, token: str, email: str) -> None:
        target = self._users.get(email.strip().lower())
        kept = list(target.passkeys) if target else []
        super().disable_2fa_for(token, email)
        if target is not None:
            target.passkeys = kept


@defect("self-disable-keeps-backup-codes", ("DISABLE-REAUTH",),
        "Disable 2FA removes the app but leaves the backup codes, which sign in again later")
class SelfDisableKeepsBackupCodes(Clinic):
    def disable_2fa(self, token: str, password: str) -> None:
        _, user = self._session(token, Stage.SIGNED_IN)
        kept = list(user.backup_hashes)
        super().disable_2fa(token, password)
        user.backup_hashes = kept


@defect("enforcement-cannot-be-lifted", ("ENFORCE-OWNER-ONLY",),
        "once Required, 2FA enforcement stays on although the owner sets it back to Optional")
class EnforcementCannotBeLifted(Clinic):
    def set_enforcement(self, token: str, required: bool) -> None:
        was = self.enforcement_required
        super().set_enforcement(token, required)
        self.enforcement_required = was or required


@defect("enforcement-off-still-forces", ("ENFORCE-OWNER-ONLY",),
        "set back to Optional, enforcement shows off but still sends users without 2FA to "
        "enrolment")
class EnforcementOffStillForces(Clinic):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.ever_required = False  # the defect's own

    def set_enforcement(self, token: str, required: bool) -> None:
        super().set_enforcement(token, required)
        self.ever_required = self.ever_required or required

    def sign_in(self, email: str, password: str) -> SignIn:
        with swapped(self, "enforcement_required", self.enforcement_required or
                     self.ever_required):
            return super().sign_in(email, password)


@defect("last-passkey-removable-under-enforcement", ("DISABLE-ENFORCED", "PASSKEY-FACTOR"),
        "under enforcement a user removes their only passkey, which turns their 2FA off")
class LastPasskeyRemovable(Clinic):
    def remove_passkey(self, token: str, name: str, password: str) -> None:
        with swapped(self, "enforcement_required", False):
            super().remove_passkey(token, name, password)


@defect("pending-adds-passkey", ("SIGNIN-PENDING-GRANTS-NOTHING",),
        "a sign-in waiting for its second step may start adding a passkey")
class PendingAddsPasskey(Clinic):
    def begin_passkey_setup(self, token: str) -> dict[str, Any]:
        with self._lock:
            session, user = self._session(token, Stage.SIGNED_IN, Stage.ENROLMENT,
                                          Stage.SECOND_STEP)
            return self._passkeys.registration_options(session.token, user)


@defect("enrolment-reaches-profile", ("ENFORCE-FORCES-ENROLMENT",),
        "under enforcement an enrolment-only sign-in already opens My Profile")
class EnrolmentReachesProfile(Clinic):
    def profile(self, token: str) -> StaffEntry:
        with self._lock:
            _, user = self._session(token, Stage.SIGNED_IN, Stage.ENROLMENT)
            return StaffEntry(user.email, user.name, user.role, user.two_factor_enabled)


@defect("regenerate-without-password", ("BACKUP-REGENERATE",),
        "backup codes are regenerated without checking the password")
class RegenerateWithoutPassword(Clinic):
    def regenerate_backup_codes(self, token: str, password: str) -> list[str]:
        with swapped(self, "_require_password", lambda user, password: None):
            return super().regenerate_backup_codes(token, password)


@defect("backup-failures-not-counted", ("TOTP-RATE-LIMIT",),
        "wrong backup codes never count towards the lock-out (only wrong 6-digit codes do)")
class BackupFailuresNotCounted(Clinic):
    def use_backup_code(self, token: str, code: str) -> SignIn:
        with swapped(self, "_count_failure", lambda user, refusal: None):
            return super().use_backup_code(token, code)


@defect("regenerate-issues-too-few", ("BACKUP-COUNT",),
        "confirming issues 10 backup codes, regenerating only 9")
class RegenerateIssuesTooFew(Clinic):
    def regenerate_backup_codes(self, token: str, password: str) -> list[str]:
        codes = super().regenerate_backup_codes(token, password)
        _, user = self._session(token, Stage.SIGNED_IN)
        user.backup_hashes = user.backup_hashes[:-1]
        return codes[:-1]


@defect("passkey-not-counted-for-enforcement", ("PASSKEY-FACTOR",),
        "under enforcement, registering a passkey does not complete enrolment")
class PasskeyNotCountedForEnforcement(Clinic):
    def finish_passkey_setup(self, token: str, credential: dict[str, Any] | str,
                             name: str) -> list[str]:
        session = self._sessions.get(token)
        was = session.stage if session else None
        codes = super().finish_passkey_setup(token, credential, name)
        renewed = getattr(codes, "session", None)  # the new token that completed enrolment
        now = self._sessions.get(renewed) if renewed else session
        if now is not None and was is Stage.ENROLMENT:
            now.stage = Stage.ENROLMENT
        return codes


class _RegistrationAnyOrigin(Passkeys):
    def verify_registration(self, key: str, credential: object) -> Any:
        """Registration takes the origin the answer names; sign-in still checks it."""
        try:
            parsed = parse_registration_credential_json(credential)  # type: ignore[arg-type]
            origin = parse_client_data_json(parsed.response.client_data_json).origin
        except Exception:  # malformed: the reference refuses it as it would
            return super().verify_registration(key, credential)
        with swapped(self, "origin", origin):
            return super().verify_registration(key, credential)


def _registration_any_origin(**kwargs: Any) -> Clinic:
    clinic = Clinic(**kwargs)
    clinic._passkeys.__class__ = _RegistrationAnyOrigin
    return clinic


register("passkey-registration-any-origin", ("PASSKEY-ORIGIN-RPID",),
         "a passkey registered on another site's page is accepted (sign-in checks the origin)",
         _registration_any_origin)


@defect("enrolment-skipped-by-backup-code-path", ("SAME-STRENGTH-ALL-PATHS",),
        "under enforcement, the backup-code endpoint signs an enrolment-only sign-in in")
class EnrolmentSkippedByBackupCodePath(Clinic):
    def use_backup_code(self, token: str, code: str) -> SignIn:
        with self._lock:
            session = self._sessions.get(token)
            if session is not None and session.stage is Stage.ENROLMENT:
                self._promote(session)
                return SignIn(token, Stage.SIGNED_IN)
        return super().use_backup_code(token, code)
