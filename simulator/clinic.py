"""The reference clinic: the guide's whole 2FA flow in memory, each rule named by its spec ID."""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from enum import StrEnum
from functools import wraps
from typing import Any, ClassVar, ParamSpec, TypeVar

from clinic2fa.simulator import backup_codes, totp
from clinic2fa.simulator.audit import AuditLog, Event
from clinic2fa.simulator.clock import Clock, SystemClock
from clinic2fa.simulator.errors import ErrorCode, Reason, TwoFactorError
from clinic2fa.simulator.hashing import Hasher
from clinic2fa.simulator.passkeys import CLONE_WARNING, Passkeys
from clinic2fa.simulator.policy import Policy
from clinic2fa.simulator.throttle import Limits, PasswordGuard, Refusal
from clinic2fa.simulator.users import PasskeyCredential, Role, User

P = ParamSpec("P")
R = TypeVar("R")


class Stage(StrEnum):
    """How far a sign-in has come; only FULL reaches the clinic."""

    SECOND_STEP = "second_step"  # password passed, 2FA on: only the second step is open
    ENROLMENT = "enrolment_required"  # password passed, enforced, no 2FA: only enrolment is open
    SIGNED_IN = "signed_in"


@dataclass
class Session:
    token: str
    email: str
    stage: Stage
    expires_at: float


@dataclass(frozen=True)
class SignIn:
    """What sign-in answers: a token, and which screen comes next."""

    token: str
    stage: Stage


class BackupCodes(list[str]):
    """Backup codes as shown this once; `session` is the session's new token when the step
    that issued them also raised the session (SESSION-NEW-TOKEN: enrolment under
    enforcement), else None. A list, so everything that only wants the codes just has them."""

    def __init__(self, codes: Iterable[str] = (), session: str | None = None) -> None:
        super().__init__(codes)
        self.session = session


@dataclass(frozen=True)
class Setup:
    """The "Set up authenticator app" screen: QR code with the manual-entry secret beside it."""

    uri: str
    manual_entry: str
    qr_svg: str
    qr_png: bytes


@dataclass(frozen=True)
class SecurityStatus:
    """The Security settings page as data; never a secret (SECRET-NOT-DISCLOSED)."""

    email: str
    role: Role
    two_factor_enabled: bool
    authenticator_app: bool
    backup_codes_left: int
    passkeys: tuple[str, ...]
    enforcement_required: bool


@dataclass(frozen=True)
class StaffEntry:
    """One row of Settings -> Staff."""

    email: str
    name: str
    role: Role
    two_factor_enabled: bool
    sign_in_blocked: bool = False  # RATE-LIMIT-CAP: only the owner or an admin can lift it


BLOCKED_MESSAGE = ("Too many failed attempts in a row: ask the clinic's owner or an admin to "
                   "unblock your account.")
PASSWORD_LOCKED_MESSAGE = "Too many wrong passwords. Try again later."  # noqa: S105


def _locked(method: Callable[P, R]) -> Callable[P, R]:
    """Run a public method under the clinic's lock, so parallel requests cannot race a rule.

    Methods that run argon2 take the lock themselves instead, around everything but the
    hashing: check under the lock, hash outside it, then check again under the lock and act.
    So parallel requests hash on every core, and only what the hashing decided is acted on.
    """

    @wraps(method)
    def guarded(*args: P.args, **kwargs: P.kwargs) -> R:
        with args[0]._lock:  # type: ignore[attr-defined]
            return method(*args, **kwargs)

    return guarded


class Clinic:
    """One clinic with its users, their sessions, 2FA enforcement and the audit log."""

    # The private names the harness's seeded defects (scenarios/selfcheck/defects/) may
    # override, replace or call; nothing else private is theirs to touch. Renaming one silently
    # turns a defect that overrides it back into the reference, so rename both together:
    # tests/test_defect_seams.py fails on a seam that is gone or a defect off this list.
    # (no-locking also reuses this module's `_locked` decorator.)
    SEAMS: ClassVar[tuple[str, ...]] = (
        "_session",  # the stage gate: pending-grants-access opens more; most defects call it
        "_accept_totp",  # one code's acceptance: totp-replay, no-locking override it
        "_check_lockout",  # called by no-locking's own backup-code path
        "_count_failure",  # the wrong-code count: no-locking reads and writes it apart
        "_pass_second_step",  # remembers-devices notes who passed; no-locking calls it
        "_promote",  # a session to signed in: second-step-skipped, remembers-devices call it
        "_renew",  # SESSION-NEW-TOKEN: session-kept keeps the old token instead
        "_check_password",  # one password check: unknown-email-skips-hash skips the hash
        "_require_password",  # re-authentication: disable-without-password skips it
        "_well_formed",  # TOTP-ASCII-DIGITS: unicode-digits takes any script's digits
        "_note_skewed",  # TOTP-SKEW-NO-ORACLE: skew-oracle forgets skewed steps
        "_qr_images",  # QR-READABLE: qr-without-background draws on nothing
        "_fresh_backup_codes",  # called by no-locking's own confirmation
        "_new_backup_codes",  # backup-codes-retrievable keeps them in plain; no-locking calls it
        "_strip_factors",  # admin-disable-keeps-factors skips it for Settings -> Staff
        "_end_sessions",  # disable-keeps-sessions skips it
        "_log",  # the audit log: admin-disable-unrecorded drops, audit-log-leaks-codes adds
        "_users",  # accounts by email, read (and a role swapped) by several defects
        "_sessions",  # sessions by token, read and promoted by sign-in defects
        "_lock",  # replaced by no-locking with a counter that lets every caller in
        "_passwords",  # PASSWORD-RATE-LIMIT's counts: replaced by reentry-not-throttled
        "_hasher",  # replaced by the storage defects (SHA-256, plain, one salt)
        "_passkeys",  # the relying party: the passkey defects swap its class (Passkeys.SEAMS)
    )

    def __init__(self, *, clock: Clock | None = None, policy: Policy | None = None,
                 name: str = "MyDentalPractice", rp_id: str = "localhost",
                 origin: str = "http://localhost", user_verification: str = "required") -> None:
        self.clock = clock or SystemClock()
        self.policy = policy or Policy()
        self.name = name
        self.params = totp.TotpParams(digits=self.policy.digits, period=self.policy.period)
        self.enforcement_required = False
        self.audit = AuditLog()
        self._hasher = Hasher(self.policy.hash_cost)
        self._users: dict[str, User] = {}
        self._sessions: dict[str, Session] = {}
        self._lock = threading.RLock()
        self._passwords = PasswordGuard(Limits(self.policy.password_max_failures,
                                               self.policy.password_lockout_seconds,
                                               self.policy.max_consecutive_failures))
        # passkeys: the relying party; rp_id and origin must match where the pages are served
        self._passkeys = Passkeys(rp_id=rp_id, rp_name=name, origin=origin, clock=self.clock.now,
                                  ttl=self.policy.pending_ttl,
                                  user_verification=user_verification)

    @property
    def passkey_origin(self) -> str:
        """The page origin passkeys are made for (the relying party's, as it was given)."""
        return str(self._passkeys.origin)

    def relying_party(self) -> dict[str, str]:
        """The Clinic() arguments of its relying party, to build an empty clinic like this one."""
        party = self._passkeys
        return {"rp_id": party.rp_id, "origin": party.origin,
                "user_verification": party.user_verification.value}

    # -- people -------------------------------------------------------------------------------

    def add_user(self, email: str, password: str, role: Role, name: str = "") -> User:
        """Create an account; the password is kept only as an argon2id hash (PASSWORD-HASH)."""
        password_hash = self._hasher.hash(password)  # argon2, outside the lock
        return self.add_hashed_user(email, password_hash, role, name)

    @_locked
    def add_hashed_user(self, email: str, password_hash: str, role: Role,
                        name: str = "") -> User:
        """Create an account from a hash made earlier (the demo clinic, rebuilt at each reset)."""
        key = email.strip().lower()
        if key in self._users:
            raise TwoFactorError(ErrorCode.INVALID_REQUEST, "That email already has an account.")
        user = User(key, name or key.split("@")[0], Role(role), password_hash)
        self._users[key] = user
        return user

    @_locked
    def stored_credentials(self, email: str) -> dict[str, Any]:
        """What is kept at rest for an account, for test support to lay open: hashes only."""
        user = self._users.get(email.strip().lower())
        if user is None:
            raise TwoFactorError(ErrorCode.INVALID_REQUEST, "No account with that email.")
        return {"password": user.password_hash, "backup_codes": list(user.backup_hashes)}

    # -- sign-in ------------------------------------------------------------------------------

    def sign_in(self, email: str, password: str) -> SignIn:
        """Check the password; with 2FA on, open only the second step (SIGNIN-SECOND-STEP).

        Counted before it is checked, for an unknown email too, so wrong passwords are
        throttled alike for every email (PASSWORD-RATE-LIMIT, SIGNIN-NO-ENUMERATION).
        """
        key = email.strip().lower()
        with self._lock:
            user = self._users.get(key)
            self._begin_password(key, user)
        # argon2 outside the lock; a password hash never changes once the account exists
        right = self._check_password(user, password)
        with self._lock:
            self._end_password(key, user, right)
        if user is None or not right:
            raise TwoFactorError(ErrorCode.INVALID_CREDENTIALS, "Wrong email or password.")
        with self._lock:  # 2FA and enforcement as they are now, after the hashing
            now = self.clock.now()
            if user.two_factor_enabled:
                stage, ttl = Stage.SECOND_STEP, self.policy.pending_ttl  # SIGNIN-PENDING-EXPIRES
            elif self.enforcement_required:
                stage, ttl = Stage.ENROLMENT, self.policy.pending_ttl  # ENFORCE-FORCES-ENROLMENT
            else:
                stage, ttl = Stage.SIGNED_IN, self.policy.session_ttl
            token = secrets.token_urlsafe(32)
            self._sessions[token] = Session(token, user.email, stage, now + ttl)
            self._log(Event.SIGNED_IN, user.email, detail=stage.value)
            return SignIn(token, stage)

    @_locked
    def enter_code(self, token: str, code: str) -> SignIn:
        """The second step with the authenticator app's 6-digit code."""
        session, user = self._session(token, Stage.SECOND_STEP)
        self._check_lockout(user)
        if user.totp_secret is None:
            raise TwoFactorError(ErrorCode.NOT_ENROLLED, "No authenticator app is set up.")
        try:
            self._accept_totp(user, user.totp_secret, code)
        except TwoFactorError as refusal:
            self._count_failure(user, refusal)
            raise
        return self._pass_second_step(session, user, "authenticator app")

    def use_backup_code(self, token: str, code: str) -> SignIn:
        """The second step with a backup code, which is then spent (BACKUP-SINGLE-USE).

        The code is matched outside the lock, then spent under it only if its slot still holds
        the hash it matched, in the same list (compare-and-set): of parallel requests with one
        code exactly one signs in, and a regeneration meanwhile means matching again.
        """
        while True:
            with self._lock:
                _, user = self._session(token, Stage.SECOND_STEP)
                self._check_lockout(user)
                hashes = user.backup_hashes
                seen = list(hashes)
            found = backup_codes.find(seen, code, self._hasher)  # argon2, outside the lock
            with self._lock:
                session, user = self._session(token, Stage.SECOND_STEP)  # it may have changed
                self._check_lockout(user)  # a lock-out meanwhile refuses even a match, unjudged
                if user.backup_hashes is not hashes:
                    continue  # regenerated or removed meanwhile: match against what is there now
                if found is None or hashes[found] != seen[found]:  # no match, or spent meanwhile
                    refusal = TwoFactorError(ErrorCode.CODE_REJECTED,
                                             "That backup code is not valid.", Reason.WRONG_CODE)
                    self._count_failure(user, refusal)
                    raise refusal
                hashes[found] = None
                self._log(Event.BACKUP_CODE_USED, user.email,
                          detail=f"{user.backup_codes_left} left")
                return self._pass_second_step(session, user, "backup code")

    @_locked
    def sign_out(self, token: str) -> None:
        session = self._sessions.pop(token, None)
        if session is not None:
            self._log(Event.SIGNED_OUT, session.email)

    # -- the Security settings ----------------------------------------------------------------

    @_locked
    def security(self, token: str) -> SecurityStatus:
        """Security settings as the signed-in user sees them."""
        _, user = self._session(token, Stage.SIGNED_IN, Stage.ENROLMENT)
        return SecurityStatus(user.email, user.role, user.two_factor_enabled,
                              user.has_authenticator, user.backup_codes_left,
                              tuple(p.name for p in user.passkeys), self.enforcement_required)

    @_locked
    def start_authenticator_setup(self, token: str) -> Setup:
        """"Set up authenticator app": a fresh secret every time (SETUP-FRESH-SECRET)."""
        _, user = self._session(token, Stage.SIGNED_IN, Stage.ENROLMENT)
        if user.has_authenticator:
            raise TwoFactorError(ErrorCode.ALREADY_ENROLLED,
                                 "An authenticator app is already set up; disable 2FA first.")
        user.pending_secret = totp.new_secret()  # the previous pending secret dies here
        uri = totp.provisioning_uri(user.pending_secret, user.email, self.policy.issuer,
                                    self.params)
        self._log(Event.SETUP_STARTED, user.email)
        return Setup(uri, totp.manual_entry(user.pending_secret), *self._qr_images(uri))

    def _qr_images(self, uri: str) -> tuple[str, bytes]:
        """The Key URI's QR code as SVG and PNG, each on its own white, with a quiet zone."""
        return totp.qr_svg(uri), totp.qr_png(uri)

    def confirm_authenticator(self, token: str, code: str) -> BackupCodes:
        """A valid code turns 2FA on and returns the backup codes, shown this once; under
        enforcement the enrolment session goes on, signed in, under a new token.

        The code is first checked on a copy of the user, so a refused code costs no hashing;
        the backup codes are hashed outside the lock, and the check then counts for real.
        """
        with self._lock:
            _, user = self._session(token, Stage.SIGNED_IN, Stage.ENROLMENT)
            self._accept_setup_code(replace(user), code)  # a dry run: the copy takes the step
        fresh = self._fresh_backup_codes()  # argon2, outside the lock
        with self._lock:
            session, user = self._session(token, Stage.SIGNED_IN, Stage.ENROLMENT)
            self._accept_setup_code(user, code)  # again: another request may have come first
            user.totp_secret, user.pending_secret = user.pending_secret, None
            codes = self._new_backup_codes(user, fresh)
            renewed = None
            if session.stage is Stage.ENROLMENT:
                self._promote(session)
                renewed = self._renew(session).token  # SESSION-NEW-TOKEN
            self._log(Event.ENROLMENT_CONFIRMED, user.email)
            return BackupCodes(codes, renewed)  # BACKUP-SHOWN-ONCE: only hashes stay behind

    def regenerate_backup_codes(self, token: str, password: str) -> list[str]:
        """New backup codes replace every old one (BACKUP-REGENERATE); needs the password."""
        with self._lock:
            _, user = self._session(token, Stage.SIGNED_IN)
        self._require_password(user, password)  # argon2, outside the lock
        with self._lock:
            _, user = self._session(token, Stage.SIGNED_IN)
            self._require_2fa(user)  # before hashing, so a refusal costs none
        fresh = self._fresh_backup_codes()  # argon2, outside the lock
        with self._lock:
            _, user = self._session(token, Stage.SIGNED_IN)
            self._require_2fa(user)  # again: 2FA may have been disabled meanwhile
            codes = self._new_backup_codes(user, fresh)  # a parallel spend then matches afresh
            self._log(Event.BACKUP_CODES_REGENERATED, user.email)
            return codes

    def disable_2fa(self, token: str, password: str) -> None:
        """Settings -> Security -> Disable 2FA: refused under enforcement, needs the password."""

        def allowed() -> tuple[Session, User]:
            session, user = self._session(token, Stage.SIGNED_IN)
            if self.enforcement_required:  # DISABLE-ENFORCED
                raise TwoFactorError(ErrorCode.ENFORCED, "The owner requires 2FA for everyone; "
                                     "it cannot be disabled.")
            return session, user

        with self._lock:
            _, user = allowed()
        self._require_password(user, password)  # DISABLE-REAUTH; argon2, outside the lock
        with self._lock:
            session, user = allowed()  # again: enforcement may have come on meanwhile
            self._require_2fa(user)
            self._strip_factors(user)
            self._end_sessions(user.email, keep=session.token)
            self._log(Event.TWO_FACTOR_DISABLED, user.email, detail="by themselves")

    # -- owner and admin ----------------------------------------------------------------------

    @_locked
    def set_enforcement(self, token: str, required: bool) -> None:
        """Settings -> Security -> 2FA enforcement: owner only (ENFORCE-OWNER-ONLY)."""
        _, user = self._session(token, Stage.SIGNED_IN)
        if user.role is not Role.OWNER:
            raise TwoFactorError(ErrorCode.NOT_PERMITTED, "Only the owner changes 2FA enforcement.")
        self.enforcement_required = required
        self._log(Event.ENFORCEMENT_CHANGED, user.email,
                  detail="required" if required else "optional")

    @_locked
    def staff(self, token: str) -> list[StaffEntry]:
        """Settings -> Staff, for the owner and admins."""
        _, user = self._session(token, Stage.SIGNED_IN)
        if user.role is Role.STAFF:
            raise TwoFactorError(ErrorCode.NOT_PERMITTED, "Only the owner and admins see Staff.")
        return [StaffEntry(u.email, u.name, u.role, u.two_factor_enabled, self._blocked(u))
                for u in self._users.values()]

    @_locked
    def unblock(self, token: str, email: str) -> None:
        """Settings -> Staff -> Unblock: lift RATE-LIMIT-CAP's block on a user's password and
        second step; owner or admin, once they know who asked (the count starts again)."""
        _, actor = self._session(token, Stage.SIGNED_IN)
        target = self._users.get(email.strip().lower())
        if actor.role is Role.STAFF:
            raise TwoFactorError(ErrorCode.NOT_PERMITTED, "Only the owner and admins unblock.")
        if target is None:
            raise TwoFactorError(ErrorCode.UNKNOWN_USER, "No such user in this clinic.")
        self._passwords.clear(target.email)
        target.failures = target.failed_in_a_row = 0
        target.locked_until = 0.0
        self._log(Event.UNBLOCKED, actor.email, target.email, detail=f"by {actor.role.value}")

    @_locked
    def disable_2fa_for(self, token: str, email: str) -> None:
        """Settings -> Staff -> Disable 2FA, for a user who lost their phone (ADMIN-DISABLE-*).

        Owner or admin only. An admin cannot do it to the owner: one admin must not be able to
        strip the most powerful account's second factor. Nobody uses this on themselves: that is
        the self-disable path, which asks for the password.
        """
        _, actor = self._session(token, Stage.SIGNED_IN)
        target = self._users.get(email.strip().lower())
        if actor.role is Role.STAFF:
            raise TwoFactorError(ErrorCode.NOT_PERMITTED, "Staff cannot disable 2FA for others.")
        if target is None:
            raise TwoFactorError(ErrorCode.UNKNOWN_USER, "No such user in this clinic.")
        if target is actor:
            raise TwoFactorError(ErrorCode.NOT_PERMITTED,
                                 "Use Settings -> Security -> Disable 2FA for your own account.")
        if target.role is Role.OWNER and actor.role is not Role.OWNER:
            raise TwoFactorError(ErrorCode.NOT_PERMITTED, "Only the owner's own account can "
                                 "change the owner's 2FA.")
        self._strip_factors(target)
        self._end_sessions(target.email)  # ADMIN-DISABLE-ENDS-SESSIONS
        self._log(Event.TWO_FACTOR_DISABLED, actor.email, target.email,
                  detail=f"by {actor.role.value}")

    # -- passkeys (issue 3; the ceremonies themselves live in simulator/passkeys.py) -----------

    @_locked
    def begin_passkey_setup(self, token: str) -> dict[str, Any]:
        """"Set up passkey": WebAuthn creation options for navigator.credentials.create().

        Open to an enrolment session too: a passkey alone satisfies enforcement (PASSKEY-FACTOR).
        The user's passkeys are excluded, so one authenticator is not registered twice.
        """
        session, user = self._session(token, Stage.SIGNED_IN, Stage.ENROLMENT)
        return self._passkeys.registration_options(session.token, user)  # PASSKEY-CHALLENGE

    def finish_passkey_setup(self, token: str, credential: dict[str, Any] | str,
                             name: str) -> BackupCodes:
        """Verify the authenticator's answer and keep the passkey under `name`.

        Returns backup codes when this passkey is the user's first factor and they have none,
        shown this once like after confirming an authenticator app; otherwise an empty list.
        A bad name is refused before the response is looked at, so the challenge survives it.
        Codes that look needed are hashed beforehand, outside the lock.
        """
        label = " ".join(name.split())
        with self._lock:
            _, user = self._session(token, Stage.SIGNED_IN, Stage.ENROLMENT)
            self._check_passkey_name(user, label)
            needs_codes = not user.two_factor_enabled and not user.backup_hashes
        fresh = self._fresh_backup_codes() if needs_codes else None  # argon2, outside the lock
        with self._lock:
            return self._add_passkey(token, credential, label, fresh)

    def _check_passkey_name(self, user: User, label: str) -> None:
        if not label or any(p.name == label for p in user.passkeys):
            raise TwoFactorError(ErrorCode.INVALID_REQUEST,
                                 "Give the passkey a name you have not used yet.")

    def _add_passkey(self, token: str, credential: dict[str, Any] | str, label: str,
                     fresh: backup_codes.Issue | None) -> BackupCodes:
        """The rest of finish_passkey_setup, under the lock."""
        session, user = self._session(token, Stage.SIGNED_IN, Stage.ENROLMENT)
        self._check_passkey_name(user, label)
        try:
            new = self._passkeys.verify_registration(session.token, credential)
            if any(p.credential_id == new.credential_id
                   for u in self._users.values() for p in u.passkeys):
                raise TwoFactorError(ErrorCode.PASSKEY_INVALID,
                                     "That passkey is already registered.")
        except TwoFactorError as refusal:
            self._log(Event.PASSKEY_REJECTED, user.email, detail=f"setup: {refusal.code.value}")
            raise
        first_factor = not user.two_factor_enabled
        user.passkeys.append(PasskeyCredential(new.credential_id, new.public_key,
                                               new.sign_count, label, self.clock.now()))
        codes: list[str] = []
        if first_factor and not user.backup_hashes:  # hashed here only if things changed
            codes = self._new_backup_codes(user, fresh or self._fresh_backup_codes())
        renewed = None
        if session.stage is Stage.ENROLMENT:
            self._promote(session)  # PASSKEY-FACTOR: enforcement is satisfied
            renewed = self._renew(session).token  # SESSION-NEW-TOKEN
        self._log(Event.PASSKEY_ADDED, user.email, detail=label)
        return BackupCodes(codes, renewed)

    @_locked
    def begin_passkey_sign_in(self, token: str) -> dict[str, Any]:
        """The second step with a passkey: request options allowing only this user's passkeys."""
        session, user = self._session(token, Stage.SECOND_STEP)
        self._check_lockout(user)
        if not user.passkeys:
            raise TwoFactorError(ErrorCode.NOT_ENROLLED, "No passkey is set up.")
        return self._passkeys.authentication_options(session.token, user)

    @_locked
    def finish_passkey_sign_in(self, token: str, credential: dict[str, Any] | str) -> SignIn:
        """Verify the assertion; a refusal counts towards lock-out like a wrong code."""
        session, user = self._session(token, Stage.SECOND_STEP)
        self._check_lockout(user)
        try:
            used = self._passkeys.verify_authentication(session.token, user, credential)
        except TwoFactorError as refusal:
            detail = refusal.code.value
            if refusal.code is ErrorCode.PASSKEY_SIGN_COUNT:  # PASSKEY-SIGN-COUNT
                detail += f": {CLONE_WARNING}"
            self._log(Event.PASSKEY_REJECTED, user.email, detail=detail)
            self._count_failure(user, refusal)
            raise
        return self._pass_second_step(session, user, f"passkey {used.name}")

    def remove_passkey(self, token: str, name: str, password: str) -> None:
        """Remove one passkey; needs the password, and never the last factor under enforcement.

        Removing the last factor when 2FA is optional turns 2FA off, as Disable 2FA does.
        """
        with self._lock:
            _, user = self._session(token, Stage.SIGNED_IN)
        self._require_password(user, password)  # argon2, outside the lock
        with self._lock:
            self._remove_passkey(token, name)

    def _remove_passkey(self, token: str, name: str) -> None:
        """The rest of remove_passkey, under the lock, once the password is known right."""
        session, user = self._session(token, Stage.SIGNED_IN)
        found = next((p for p in user.passkeys if p.name == " ".join(name.split())), None)
        if found is None:
            raise TwoFactorError(ErrorCode.NOT_ENROLLED, "No passkey has that name.")
        last_factor = not user.has_authenticator and len(user.passkeys) == 1
        if last_factor and self.enforcement_required:  # PASSKEY-FACTOR, DISABLE-ENFORCED
            raise TwoFactorError(ErrorCode.ENFORCED, "The owner requires 2FA: add another "
                                 "passkey or an authenticator app before removing this one.")
        user.passkeys.remove(found)
        self._log(Event.PASSKEY_REMOVED, user.email, detail=found.name)
        if last_factor:
            self._strip_factors(user)
            self._end_sessions(user.email, keep=session.token)
            self._log(Event.TWO_FACTOR_DISABLED, user.email, detail="last passkey removed")

    # -- anything else ------------------------------------------------------------------------

    @_locked
    def profile(self, token: str) -> StaffEntry:
        """My Profile: stands for everything in the clinic a full sign-in reaches."""
        _, user = self._session(token, Stage.SIGNED_IN)
        return StaffEntry(user.email, user.name, user.role, user.two_factor_enabled)

    # -- internals ----------------------------------------------------------------------------

    def _session(self, token: str, *open_to: Stage) -> tuple[Session, User]:
        """The session behind a token, if its stage opens this action.

        SIGNIN-PENDING-GRANTS-NOTHING: a second-step session reaches only the second step, an
        enrolment session only enrolment.
        """
        session = self._sessions.get(token)
        if session is None:
            raise TwoFactorError(ErrorCode.NOT_SIGNED_IN, "Sign in first.")
        if self.clock.now() >= session.expires_at:
            del self._sessions[token]
            code = (ErrorCode.NOT_SIGNED_IN if session.stage is Stage.SIGNED_IN
                    else ErrorCode.SIGN_IN_EXPIRED)
            raise TwoFactorError(code, "The sign-in expired; sign in again.")
        if session.stage not in open_to:
            if session.stage is Stage.SECOND_STEP:
                raise TwoFactorError(ErrorCode.SECOND_STEP_REQUIRED,
                                     "Enter the 6-digit code first.")
            if session.stage is Stage.ENROLMENT:
                raise TwoFactorError(ErrorCode.ENROLMENT_REQUIRED,
                                     "The owner requires 2FA: set up an authenticator app first.")
            raise TwoFactorError(ErrorCode.INVALID_REQUEST, "The second step is already passed.")
        return session, self._users[session.email]

    def _accept_totp(self, user: User, secret: str, code: str) -> None:
        """Accept a code once, inside the window, never an earlier or the same step again."""
        code = "".join(code.split())
        if not self._well_formed(code):  # TOTP-ASCII-DIGITS
            raise TwoFactorError(ErrorCode.CODE_REJECTED, reason=Reason.MALFORMED)
        now_step = totp.step_of(self.clock.now(), self.params)
        reach = max(self.policy.window, self.policy.skew_horizon)
        step = totp.match_step(secret, code, now_step, reach, self.params)
        if step is None:
            raise TwoFactorError(ErrorCode.CODE_REJECTED, reason=Reason.WRONG_CODE)
        if abs(step - now_step) > self.policy.window:  # TOTP-WINDOW, SKEW-REASON
            self._note_skewed(user, step, now_step)
            raise TwoFactorError(ErrorCode.CODE_REJECTED, reason=Reason.TIME_SKEW)
        if step <= user.last_step or step in user.skewed_steps:  # TOTP-REPLAY, -SKEW-NO-ORACLE
            raise TwoFactorError(ErrorCode.CODE_REJECTED, reason=Reason.ALREADY_USED)
        user.last_step = step

    def _well_formed(self, code: str) -> bool:
        """Exactly `digits` ASCII digits: str.isdigit() alone takes any script's digits."""
        return len(code) == self.policy.digits and code.isascii() and code.isdigit()

    def _note_skewed(self, user: User, step: int, now_step: int) -> None:
        """TOTP-SKEW-NO-ORACLE: a step refused as skew ahead is never accepted later, so the
        skew answer cannot be kept for when the clock gets there. Only steps that may still
        be accepted are kept (a bounded set): after the last accepted step, and not behind the
        window, whose first step (now - window) is one too: a later skew must not drop it."""
        floor = max(user.last_step, now_step - self.policy.window - 1)
        user.skewed_steps = {s for s in user.skewed_steps if s > floor}
        if step > floor:
            user.skewed_steps.add(step)

    def _check_lockout(self, user: User) -> None:
        if user.failed_in_a_row >= self.policy.max_consecutive_failures:  # RATE-LIMIT-CAP
            raise TwoFactorError(ErrorCode.LOCKED_OUT, BLOCKED_MESSAGE)
        now = self.clock.now()
        if now < user.locked_until:  # TOTP-RATE-LIMIT
            raise TwoFactorError(ErrorCode.LOCKED_OUT, "Too many wrong codes. Try again later.",
                                 retry_after=user.locked_until - now)

    def _count_failure(self, user: User, refusal: TwoFactorError) -> None:
        """TOTP-RATE-LIMIT: counted per user, so a new sign-in does not reset it; and
        RATE-LIMIT-CAP: counted in a row across lock-outs, until a success or an admin."""
        user.failures += 1
        user.failed_in_a_row += 1
        self._log(Event.SECOND_STEP_FAILED, user.email,
                  detail=refusal.reason.value if refusal.reason else refusal.code.value)
        if user.failed_in_a_row == self.policy.max_consecutive_failures:
            self._log(Event.BLOCKED, user.email, detail="second step")
        if user.failures >= self.policy.max_failures:
            user.failures = 0
            user.locked_until = self.clock.now() + self.policy.lockout_seconds
            self._log(Event.LOCKED_OUT, user.email, detail=f"{self.policy.lockout_seconds}s")

    def _pass_second_step(self, session: Session, user: User, how: str) -> SignIn:
        user.failures = user.failed_in_a_row = 0
        self._promote(session)
        session = self._renew(session)  # SESSION-NEW-TOKEN: the pending token dies here
        self._log(Event.SECOND_STEP_PASSED, user.email, detail=how)
        return SignIn(session.token, Stage.SIGNED_IN)

    def _promote(self, session: Session) -> None:
        session.stage = Stage.SIGNED_IN
        session.expires_at = self.clock.now() + self.policy.session_ttl

    def _renew(self, session: Session) -> Session:
        """The session goes on under a new token; the old token is refused from now on."""
        del self._sessions[session.token]
        renewed = replace(session, token=secrets.token_urlsafe(32))
        self._sessions[renewed.token] = renewed
        return renewed

    def _blocked(self, user: User) -> bool:
        """RATE-LIMIT-CAP: the password or the second step refused until someone unblocks."""
        return (user.failed_in_a_row >= self.policy.max_consecutive_failures
                or self._passwords.blocked(user.email))

    def _begin_password(self, key: str, user: User | None) -> None:
        """PASSWORD-RATE-LIMIT, RATE-LIMIT-CAP: count one password attempt before checking it;
        an unknown email is counted alike, so a lock-out says nothing about who exists."""
        try:
            self._passwords.begin(key, user is not None, self.clock.now())
        except Refusal as refused:
            self._log(Event.SIGN_IN_FAILED, key, detail="password attempts locked out")
            raise TwoFactorError(ErrorCode.LOCKED_OUT, PASSWORD_LOCKED_MESSAGE
                                 if refused.retry_after is not None else BLOCKED_MESSAGE,
                                 retry_after=refused.retry_after) from None

    def _end_password(self, key: str, user: User | None, right: bool, how: str = "") -> None:
        """Judge the counted attempt; log the failure and the lock-out or block it started."""
        started = self._passwords.end(key, user is not None, self.clock.now(), right)
        if not right:
            self._log(Event.SIGN_IN_FAILED, key, detail=how)
        if started == "locked":
            self._log(Event.LOCKED_OUT, key,
                      detail=f"password {self.policy.password_lockout_seconds}s")
        elif started == "blocked":
            self._log(Event.BLOCKED, key, detail="password")

    def _check_password(self, user: User | None, password: str) -> bool:
        """One password check; argon2, so callers run it outside the lock. An unknown email
        costs a verification of the same cost too (SIGNIN-NO-ENUMERATION)."""
        if user is None:
            return self._hasher.verify_nothing(password)
        return self._hasher.verify(user.password_hash, password)

    def _require_password(self, user: User, password: str) -> None:
        """Re-authentication, throttled like sign-in (PASSWORD-RATE-LIMIT); argon2, so
        callers run it outside the lock (the hash is fixed)."""
        with self._lock:
            self._begin_password(user.email, user)
        right = self._check_password(user, password)
        with self._lock:
            self._end_password(user.email, user, right, "password re-entry")
        if not right:
            raise TwoFactorError(ErrorCode.PASSWORD_REQUIRED, "Re-enter your password.")

    def _require_2fa(self, user: User) -> None:
        if not user.two_factor_enabled:
            raise TwoFactorError(ErrorCode.NOT_ENROLLED, "2FA is not on.")

    def _accept_setup_code(self, user: User, code: str) -> None:
        """SETUP-CONFIRM: the code must come from the pending secret."""
        if user.pending_secret is None:
            raise TwoFactorError(ErrorCode.NO_SETUP_IN_PROGRESS,
                                 'Click "Set up authenticator app" first.')
        if user.totp_secret is None:  # TOTP-REPLAY is per secret: a new one's codes start afresh
            user.last_step = -1
            user.skewed_steps = set()
        self._accept_totp(user, user.pending_secret, code)

    def _fresh_backup_codes(self) -> backup_codes.Issue:
        """New codes and their hashes; touches no state, so callers run it outside the lock."""
        return backup_codes.issue(self.policy.backup_code_count, self._hasher)  # BACKUP-COUNT

    def _new_backup_codes(self, user: User, fresh: backup_codes.Issue) -> list[str]:
        """Give the user the `fresh` codes in place of every old one; under the lock."""
        user.backup_hashes = list(fresh.hashes)
        return list(fresh.codes)

    def _strip_factors(self, user: User) -> None:
        user.totp_secret = user.pending_secret = None
        user.skewed_steps = set()
        user.failures = user.failed_in_a_row = 0  # a new factor starts with a clean count
        user.locked_until = 0.0
        user.backup_hashes = []
        user.passkeys = []  # PASSKEY-FACTOR: disabling 2FA removes passkeys too

    def _end_sessions(self, email: str, keep: str | None = None) -> None:
        for token in [t for t, s in self._sessions.items() if s.email == email and t != keep]:
            del self._sessions[token]

    def _log(self, event: Event, actor: str, subject: str = "", detail: str = "") -> None:
        self.audit.record(self.clock.now(), event, actor, subject, detail)
