"""Seeded defects of the wrong person or thing: another user's factor, state shared by users."""

from __future__ import annotations

from typing import Any

from clinic2fa.scenarios.selfcheck.defects.registry import defect, register, swapped
from clinic2fa.simulator import backup_codes, totp
from clinic2fa.simulator.clinic import Clinic, Setup, SignIn, Stage
from clinic2fa.simulator.errors import ErrorCode, TwoFactorError
from clinic2fa.simulator.passkeys import Passkeys
from clinic2fa.simulator.users import Role, User


@defect("other-users-code-accepted", ("SIGNIN-SECOND-STEP",),
        "a code from another user's authenticator app passes this user's second step")
class OtherUsersCodeAccepted(Clinic):
    def enter_code(self, token: str, code: str) -> SignIn:
        try:
            return super().enter_code(token, code)
        except TwoFactorError as refusal:
            if refusal.code is not ErrorCode.CODE_REJECTED:
                raise
            with self._lock:
                session, user = self._session(token, Stage.SECOND_STEP)
                now = totp.step_of(self.clock.now(), self.params)
                for other in self._users.values():
                    if other is not user and other.totp_secret and totp.match_step(
                            other.totp_secret, "".join(code.split()), now, self.policy.window,
                            self.params) is not None:
                        return self._pass_second_step(session, user, "authenticator app")
            raise


@defect("other-users-backup-code-accepted", ("SIGNIN-SECOND-STEP", "BACKUP-SINGLE-USE"),
        "another user's unused backup code passes this user's second step")
class OtherUsersBackupCodeAccepted(Clinic):
    def use_backup_code(self, token: str, code: str) -> SignIn:
        try:
            return super().use_backup_code(token, code)
        except TwoFactorError as refusal:
            if refusal.code is not ErrorCode.CODE_REJECTED:
                raise
            with self._lock:
                session, user = self._session(token, Stage.SECOND_STEP)
                for other in self._users.values():
                    if other is not user and backup_codes.spend(other.backup_hashes, code,
                                                                self._hasher):
                        return self._pass_second_step(session, user, "backup code")
            raise


@defect("replay-state-shared-by-users", ("TOTP-REPLAY",),
        "the last accepted step is kept for the clinic, not per user: one user's sign-in "
        "makes every other user's code of that step 'already used'")
class ReplayStateShared(Clinic):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.last_step = -1  # the defect's own: one last step for everybody

    def _accept_totp(self, user: User, secret: str, code: str) -> None:
        if user.totp_secret is not None:  # at sign-in; enrolment starts its secret afresh
            user.last_step = max(user.last_step, self.last_step)
        super()._accept_totp(user, secret, code)
        self.last_step = max(self.last_step, user.last_step)


@defect("lockout-shared-by-users", ("TOTP-RATE-LIMIT",),
        "wrong codes are counted for the clinic, not per user: others' mistakes lock a user out")
class LockoutShared(Clinic):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.failures = 0  # the defect's own: one count for everybody

    def _count_failure(self, user: User, refusal: TwoFactorError) -> None:
        self.failures += 1
        user.failures = self.failures - 1
        super()._count_failure(user, refusal)
        self.failures = user.failures


@defect("secret-shared-by-users", ("TOTP-SECRET-SIZE",),
        "each user's n-th setup gets the clinic's n-th secret: users share secrets")
class SecretSharedByUsers(Clinic):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.secrets: list[str] = []  # the defect's own: the clinic's secrets, in order
        self.setups: dict[str, int] = {}

    def start_authenticator_setup(self, token: str) -> Setup:
        super().start_authenticator_setup(token)
        _, user = self._session(token, Stage.SIGNED_IN, Stage.ENROLMENT)
        count = self.setups[user.email] = self.setups.get(user.email, 0) + 1
        if len(self.secrets) < count:
            self.secrets.append(totp.new_secret())
        user.pending_secret = secret = self.secrets[count - 1]
        uri = totp.provisioning_uri(secret, user.email, self.policy.issuer, self.params)
        return Setup(uri, totp.manual_entry(secret), totp.qr_svg(uri), totp.qr_png(uri))


@defect("uri-label-other-user", ("KEY-URI",),
        "the Key URI's label names another user of the clinic, not the one setting up")
class UriLabelOtherUser(Clinic):
    def start_authenticator_setup(self, token: str) -> Setup:
        setup = super().start_authenticator_setup(token)
        _, user = self._session(token, Stage.SIGNED_IN, Stage.ENROLMENT)
        other = next((u for u in self._users.values() if u is not user), user)
        uri = totp.provisioning_uri(user.pending_secret or "", other.email, self.policy.issuer,
                                    self.params)
        return Setup(uri, setup.manual_entry, totp.qr_svg(uri), totp.qr_png(uri))


@defect("backup-code-spends-another", ("BACKUP-SINGLE-USE",),
        "a backup code that signs in spends another unused code instead of itself")
class BackupCodeSpendsAnother(Clinic):
    def use_backup_code(self, token: str, code: str) -> SignIn:
        with self._lock:
            _, user = self._session(token, Stage.SECOND_STEP)
            hashes, before = user.backup_hashes, list(user.backup_hashes)
        result = super().use_backup_code(token, code)
        with self._lock:
            spent = [i for i, h in enumerate(hashes) if h is None and before[i] is not None]
            other = next((i for i, h in enumerate(hashes) if h is not None), None)
            if spent and other is not None:
                hashes[spent[0]], hashes[other] = before[spent[0]], None
        return result


@defect("admin-disable-ends-own-sessions", ("ADMIN-DISABLE-ENDS-SESSIONS",),
        "Settings -> Staff -> Disable 2FA ends the admin's other sessions, not the user's")
class AdminDisableEndsOwnSessions(Clinic):
    def disable_2fa_for(self, token: str, email: str) -> None:
        _, actor = self._session(token, Stage.SIGNED_IN)
        with swapped(self, "_end_sessions",
                     lambda _email, keep=None: Clinic._end_sessions(self, actor.email, token)):
            super().disable_2fa_for(token, email)


@defect("admin-disables-self", ("ADMIN-DISABLE-ROLES",),
        "an admin or the owner may disable their own 2FA from Settings -> Staff, no password")
class AdminDisablesSelf(Clinic):
    def disable_2fa_for(self, token: str, email: str) -> None:
        session, actor = self._session(token, Stage.SIGNED_IN)
        if actor.email == email.strip().lower() and actor.role is not Role.STAFF:
            with self._lock:
                self._strip_factors(actor)
                self._end_sessions(actor.email, keep=session.token)
            return
        super().disable_2fa_for(token, email)


class _UnregisteredAccepted(Passkeys):
    def verify_authentication(self, key: str, user: User, credential: object) -> Any:
        """A credential the clinic never registered is taken for the user's first passkey."""
        try:
            return super().verify_authentication(key, user, credential)
        except TwoFactorError as refusal:
            if refusal.code is not ErrorCode.PASSKEY_UNKNOWN_CREDENTIAL or not user.passkeys:
                raise
            return user.passkeys[0]


def _unregistered_accepted(**kwargs: Any) -> Clinic:
    clinic = Clinic(**kwargs)
    clinic._passkeys.__class__ = _UnregisteredAccepted
    return clinic


register("passkey-unregistered-accepted", ("PASSKEY-OWN-CREDENTIAL",),
         "a passkey the clinic never registered passes the second step of a user who has one",
         _unregistered_accepted)
