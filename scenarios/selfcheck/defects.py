"""Seeded defects: variants of the reference that each break exactly one rule of the spec."""

from __future__ import annotations

import hashlib
import hmac
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import parse_qs, urlsplit

from webauthn.helpers import (
    decode_credential_public_key,
    decoded_public_key_to_cryptography,
    parse_authentication_credential_json,
    parse_authenticator_data,
    parse_client_data_json,
    verify_signature,
)
from webauthn.helpers.structs import ClientDataType, CollectedClientData

from clinic2fa.simulator import backup_codes, totp
from clinic2fa.simulator.audit import Event
from clinic2fa.simulator.clinic import Clinic, SecurityStatus, Setup, SignIn, Stage, _locked
from clinic2fa.simulator.errors import ErrorCode, Reason, TwoFactorError
from clinic2fa.simulator.hashing import POOL_THREADS, Hasher
from clinic2fa.simulator.passkeys import Ceremony, Passkeys
from clinic2fa.simulator.policy import Policy
from clinic2fa.simulator.users import PasskeyCredential, Role, User


@dataclass(frozen=True)
class Defect:
    """A named broken variant, the spec IDs it violates, and how to build it."""

    name: str
    violates: tuple[str, ...]
    summary: str
    build: Callable[..., Clinic]  # takes Clinic's own keyword arguments


CATALOGUE: dict[str, Defect] = {}


def defect(name: str, violates: tuple[str, ...], summary: str,
           ) -> Callable[[type[Clinic]], type[Clinic]]:
    """Register a Clinic subclass as a seeded defect."""

    def register(cls: type[Clinic]) -> type[Clinic]:
        CATALOGUE[name] = Defect(name, violates, summary, cls)
        return cls

    return register


def policy_defect(name: str, violates: tuple[str, ...], summary: str, **change: Any) -> None:
    """Register a defect that is only a wrong number in the policy."""

    def build(*, policy: Policy | None = None, **kwargs: Any) -> Clinic:
        return Clinic(policy=replace(policy or Policy(), **change), **kwargs)

    CATALOGUE[name] = Defect(name, violates, summary, build)


def build(name: str, **clinic_kwargs: Any) -> Clinic:
    """The broken clinic called `name`, built with Clinic's own keyword arguments."""
    if name not in CATALOGUE:
        raise KeyError(f"unknown defect {name!r}; `clinic2fa defects` lists them")
    return CATALOGUE[name].build(**clinic_kwargs)


@contextmanager
def _swapped(obj: object, attr: str, value: object) -> Iterator[None]:
    """Change one attribute for the length of a call."""
    saved = getattr(obj, attr)
    setattr(obj, attr, value)
    try:
        yield
    finally:
        setattr(obj, attr, saved)


# -- TOTP ---------------------------------------------------------------------------------------

policy_defect("window-too-wide", ("TOTP-WINDOW",), "accepts codes 8 steps (4 minutes) away",
              window=8)
policy_defect("no-window", ("TOTP-WINDOW",), "rejects a code one step off (no skew allowed)",
              window=0)
policy_defect("no-rate-limit", ("TOTP-RATE-LIMIT",), "never locks out after wrong codes",
              max_failures=10**9)
policy_defect("pending-never-expires", ("SIGNIN-PENDING-EXPIRES",),
              "a pending sign-in lives for years", pending_ttl=10**9)
policy_defect("no-skew-reason", ("SKEW-REASON",),
              "a code from a skewed phone is reported as simply wrong", skew_horizon=0)
policy_defect("too-few-backup-codes", ("BACKUP-COUNT",), "issues 8 backup codes, not 10",
              backup_code_count=8)


@defect("totp-replay", ("TOTP-REPLAY",), "accepts the same TOTP code twice")
class TotpReplay(Clinic):
    def _accept_totp(self, user: User, secret: str, code: str) -> None:
        user.last_step = -1
        super()._accept_totp(user, secret, code)


@defect("rate-limit-reset-by-sign-in", ("TOTP-RATE-LIMIT",),
        "a new sign-in resets the wrong-code count")
class RateLimitPerSignIn(Clinic):
    def sign_in(self, email: str, password: str) -> SignIn:
        result = super().sign_in(email, password)
        self._users[email.strip().lower()].failures = 0
        return result


# -- enrolment ----------------------------------------------------------------------------------

@defect("same-secret-on-retry", ("SETUP-FRESH-SECRET",), "a setup retry shows the same secret")
class SameSecretOnRetry(Clinic):
    def start_authenticator_setup(self, token: str) -> Setup:
        _, user = self._session(token, Stage.SIGNED_IN, Stage.ENROLMENT)
        kept = user.pending_secret
        setup = super().start_authenticator_setup(token)
        if kept is None:
            return setup
        user.pending_secret = kept
        uri = totp.provisioning_uri(kept, user.email, self.policy.issuer, self.params)
        return Setup(uri, totp.manual_entry(kept), totp.qr_svg(uri), totp.qr_png(uri))


@defect("old-pending-secret-accepted", ("SETUP-FRESH-SECRET",),
        "after a retry, a code from the previous QR code still confirms")
class OldPendingSecretAccepted(Clinic):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._old: dict[str, list[str]] = {}

    def start_authenticator_setup(self, token: str) -> Setup:
        _, user = self._session(token, Stage.SIGNED_IN, Stage.ENROLMENT)
        if user.pending_secret:
            self._old.setdefault(user.email, []).append(user.pending_secret)
        return super().start_authenticator_setup(token)

    def confirm_authenticator(self, token: str, code: str) -> list[str]:
        _, user = self._session(token, Stage.SIGNED_IN, Stage.ENROLMENT)
        current = user.pending_secret
        for secret in [current, *self._old.get(user.email, [])]:
            user.pending_secret = secret
            try:
                return super().confirm_authenticator(token, code)
            except TwoFactorError as refusal:
                if refusal.code is not ErrorCode.CODE_REJECTED:
                    raise
        user.pending_secret = current
        return super().confirm_authenticator(token, code)


@defect("confirm-any-code", ("SETUP-CONFIRM",), "enrolment is confirmed with a wrong code")
class ConfirmAnyCode(Clinic):
    def confirm_authenticator(self, token: str, code: str) -> list[str]:
        _, user = self._session(token, Stage.SIGNED_IN, Stage.ENROLMENT)
        if user.pending_secret:
            step = totp.step_of(self.clock.now(), self.params)
            code = totp.code_at_step(user.pending_secret, step, self.params)
        return super().confirm_authenticator(token, code)


@defect("active-before-confirm", ("SETUP-CONFIRM",),
        "2FA is on as soon as setup starts, before any code confirms it")
class ActiveBeforeConfirm(Clinic):
    def start_authenticator_setup(self, token: str) -> Setup:
        setup = super().start_authenticator_setup(token)
        _, user = self._session(token, Stage.SIGNED_IN, Stage.ENROLMENT)
        user.totp_secret = user.pending_secret
        return setup


@defect("manual-secret-mismatch", ("MANUAL-SECRET",),
        "the manual-entry secret is not the QR code's secret")
class ManualSecretMismatch(Clinic):
    def start_authenticator_setup(self, token: str) -> Setup:
        setup = super().start_authenticator_setup(token)
        return replace(setup, manual_entry=totp.manual_entry(totp.new_secret()))


def _rewrite_uri(setup: Setup, change: Callable[[str], str]) -> Setup:
    uri = change(setup.uri)
    return replace(setup, uri=uri, qr_svg=totp.qr_svg(uri), qr_png=totp.qr_png(uri))


@defect("uri-missing-issuer", ("KEY-URI",), "the otpauth URI names no issuer")
class UriMissingIssuer(Clinic):
    def start_authenticator_setup(self, token: str) -> Setup:
        def drop(uri: str) -> str:
            head, query = uri.split("?", 1)
            head = head.replace(f"/{self.policy.issuer}:", "/")
            kept = [p for p in query.split("&") if not p.startswith("issuer=")]
            return f"{head}?{'&'.join(kept)}"

        return _rewrite_uri(super().start_authenticator_setup(token), drop)


@defect("uri-wrong-digits", ("KEY-URI", "TOTP-STEP"),
        "the otpauth URI announces 8 digits while the server checks 6")
class UriWrongDigits(Clinic):
    def start_authenticator_setup(self, token: str) -> Setup:
        return _rewrite_uri(super().start_authenticator_setup(token),
                            lambda uri: uri.replace("digits=6", "digits=8"))


@defect("uri-wrong-period", ("KEY-URI", "TOTP-STEP"),
        "the otpauth URI announces a 60 s period while the server steps every 30 s")
class UriWrongPeriod(Clinic):
    def start_authenticator_setup(self, token: str) -> Setup:
        return _rewrite_uri(super().start_authenticator_setup(token),
                            lambda uri: uri.replace("period=30", "period=60"))


# -- backup codes -------------------------------------------------------------------------------

@defect("backup-code-reusable", ("BACKUP-SINGLE-USE",), "a backup code works twice")
class BackupCodeReusable(Clinic):
    def use_backup_code(self, token: str, code: str) -> SignIn:
        _, user = self._session(token, Stage.SECOND_STEP)
        kept = list(user.backup_hashes)
        result = super().use_backup_code(token, code)
        user.backup_hashes = kept
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
        self._plain: dict[str, list[str]] = {}

    def _new_backup_codes(self, user: User, fresh: backup_codes.Issue) -> list[str]:
        codes = super()._new_backup_codes(user, fresh)
        self._plain[user.email] = codes
        return codes

    def security(self, token: str) -> SecurityStatus:
        status = super().security(token)
        return _LeakyStatus(**vars(status), extra={"backup_codes": self._plain.get(status.email)})


@defect("secret-disclosed", ("SECRET-NOT-DISCLOSED",),
        "the Security page returns the TOTP secret after enrolment")
class SecretDisclosed(Clinic):
    def security(self, token: str) -> SecurityStatus:
        status = super().security(token)
        user = self._users[status.email]
        return _LeakyStatus(**vars(status), extra={"totp_secret": user.totp_secret})


# -- sign-in ------------------------------------------------------------------------------------

@defect("second-step-skipped", ("SIGNIN-SECOND-STEP", "SAME-STRENGTH-ALL-PATHS"),
        "the password alone signs in a user who has 2FA on")
class SecondStepSkipped(Clinic):
    def sign_in(self, email: str, password: str) -> SignIn:
        result = super().sign_in(email, password)
        if result.stage is Stage.SECOND_STEP:
            self._promote(self._sessions[result.token])
            return SignIn(result.token, Stage.SIGNED_IN)
        return result


@defect("pending-grants-access", ("SIGNIN-PENDING-GRANTS-NOTHING",),
        "a sign-in waiting for its second step already reaches the clinic")
class PendingGrantsAccess(Clinic):
    def _session(self, token: str, *open_to: Stage) -> Any:
        return super()._session(token, *open_to, Stage.SECOND_STEP)


# -- disabling and enforcement ------------------------------------------------------------------

@defect("disable-without-password", ("DISABLE-REAUTH",),
        "Disable 2FA works without re-entering the password")
class DisableWithoutPassword(Clinic):
    def _require_password(self, user: User, password: str) -> None:
        return None


@defect("disable-under-enforcement", ("DISABLE-ENFORCED",),
        "a user disables their own 2FA while the owner enforces it")
class DisableUnderEnforcement(Clinic):
    def disable_2fa(self, token: str, password: str) -> None:
        with _swapped(self, "enforcement_required", False):
            super().disable_2fa(token, password)


def _as_role(clinic: Clinic, token: str, role: Role) -> Any:
    """Let the caller act with another role for one call."""
    session = clinic._sessions.get(token)
    user = clinic._users[session.email] if session else None
    return _swapped(user, "role", role) if user else nullcontext()


@defect("admin-changes-enforcement", ("ENFORCE-OWNER-ONLY",),
        "an admin (or staff) can change 2FA enforcement")
class AdminChangesEnforcement(Clinic):
    def set_enforcement(self, token: str, required: bool) -> None:
        with _as_role(self, token, Role.OWNER):
            super().set_enforcement(token, required)


@defect("enforcement-not-forcing", ("ENFORCE-FORCES-ENROLMENT",),
        "under enforcement a user without 2FA signs in straight to the clinic")
class EnforcementNotForcing(Clinic):
    def sign_in(self, email: str, password: str) -> SignIn:
        with _swapped(self, "enforcement_required", False):
            return super().sign_in(email, password)


@defect("staff-disables-others", ("ADMIN-DISABLE-ROLES",),
        "staff can disable another user's 2FA from Settings -> Staff")
class StaffDisablesOthers(Clinic):
    def disable_2fa_for(self, token: str, email: str) -> None:
        with _as_role(self, token, Role.ADMIN):
            super().disable_2fa_for(token, email)


@defect("admin-disables-owner", ("ADMIN-DISABLE-ROLES",),
        "an admin can disable the owner's 2FA")
class AdminDisablesOwner(Clinic):
    def disable_2fa_for(self, token: str, email: str) -> None:
        session = self._sessions.get(token)
        actor = self._users[session.email] if session else None
        if actor is not None and actor.role is Role.ADMIN:
            with _as_role(self, token, Role.OWNER):
                return super().disable_2fa_for(token, email)
        return super().disable_2fa_for(token, email)


@defect("disable-keeps-sessions", ("ADMIN-DISABLE-ENDS-SESSIONS",),
        "disabling a user's 2FA leaves their signed-in sessions alive")
class DisableKeepsSessions(Clinic):
    def _end_sessions(self, email: str, keep: str | None = None) -> None:
        return None


# -- what is kept: storage and the audit log -----------------------------------------------------

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


@defect("audit-log-leaks-codes", ("AUDIT-LOG",),
        "the audit log records the backup code a person signed in with")
class AuditLogLeaksCodes(Clinic):
    def use_backup_code(self, token: str, code: str) -> SignIn:
        signed = super().use_backup_code(token, code)
        with self._lock:
            email = self._sessions[signed.token].email
            self._log(Event.BACKUP_CODE_USED, email, detail=f"code {code}")
        return signed


# -- passkeys -----------------------------------------------------------------------------------

class _ChallengeReusable(Passkeys):
    def _take_challenge(self, key: str, ceremony: Ceremony) -> bytes:
        pending = self._pending.get((key, ceremony))  # never consumed
        if pending is None:
            return super()._take_challenge(key, ceremony)
        return pending.challenge


class _AnyOrigin(Passkeys):
    def _check_client(self, client: CollectedClientData, kind: ClientDataType,
                      expected: bytes) -> None:
        self.origin = client.origin  # whatever page the passkey was used on is fine
        super()._check_client(client, kind, expected)


class _AnyRpId(Passkeys):
    def verify_authentication(self, key: str, user: User, credential: object) -> PasskeyCredential:
        """Checks challenge, origin and signature, never the RP ID hash."""
        expected = self._take_challenge(key, Ceremony.SIGN_IN)
        parsed = parse_authentication_credential_json(credential)  # type: ignore[arg-type]
        stored = next((p for p in user.passkeys if p.credential_id == parsed.raw_id), None)
        if stored is None:
            raise TwoFactorError(ErrorCode.PASSKEY_UNKNOWN_CREDENTIAL, "Not this user's passkey.")
        response = parsed.response
        self._check_client(parse_client_data_json(response.client_data_json),
                           ClientDataType.WEBAUTHN_GET, expected)
        public = decode_credential_public_key(stored.public_key)
        verify_signature(public_key=decoded_public_key_to_cryptography(public),
                         signature_alg=public.alg, signature=response.signature,
                         data=response.authenticator_data
                         + hashlib.sha256(response.client_data_json).digest())
        count = parse_authenticator_data(response.authenticator_data).sign_count
        if (count or stored.sign_count) and count <= stored.sign_count:
            raise TwoFactorError(ErrorCode.PASSKEY_SIGN_COUNT, "Sign count did not increase.")
        stored.sign_count = count
        return stored


class _SignCountIgnored(Passkeys):
    def verify_authentication(self, key: str, user: User, credential: object) -> PasskeyCredential:
        for passkey in user.passkeys:
            passkey.sign_count = 0  # forget the count, so a clone's lower count passes
        return super().verify_authentication(key, user, credential)


class _AnyUsersPasskey(Passkeys):
    everyone: Callable[[], list[PasskeyCredential]]

    def verify_authentication(self, key: str, user: User, credential: object) -> PasskeyCredential:
        presented = parse_authentication_credential_json(credential)  # type: ignore[arg-type]
        borrowed = replace(user, passkeys=self.everyone())
        handle = presented.response.user_handle
        with _swapped(self, "_handles", {**self._handles, user.email: handle}
                      if handle else self._handles):
            return super().verify_authentication(key, borrowed, credential)


def _passkey_defect(name: str, violates: tuple[str, ...], summary: str,
                    relying_party: type[Passkeys]) -> None:
    """Register a clinic whose relying party is the broken one."""

    def build(**kwargs: Any) -> Clinic:
        clinic = Clinic(**kwargs)
        clinic._passkeys.__class__ = relying_party
        if relying_party is _AnyUsersPasskey:
            clinic._passkeys.everyone = lambda: [  # type: ignore[attr-defined]
                p for u in clinic._users.values() for p in u.passkeys]
        return clinic

    CATALOGUE[name] = Defect(name, violates, summary, build)


_passkey_defect("passkey-challenge-reusable", ("PASSKEY-CHALLENGE",),
                "a passkey challenge can be answered twice", _ChallengeReusable)
_passkey_defect("passkey-any-origin", ("PASSKEY-ORIGIN-RPID",),
                "a passkey used on another site's page (origin) is accepted", _AnyOrigin)
_passkey_defect("passkey-any-rp-id", ("PASSKEY-ORIGIN-RPID",),
                "a passkey assertion for another RP ID is accepted", _AnyRpId)
_passkey_defect("passkey-sign-count-ignored", ("PASSKEY-SIGN-COUNT",),
                "a sign count that does not increase (a clone) is accepted", _SignCountIgnored)
_passkey_defect("passkey-other-users-credential", ("PASSKEY-OWN-CREDENTIAL",),
                "another user's passkey passes this user's second step", _AnyUsersPasskey)


# -- concurrency --------------------------------------------------------------------------------

class _Inside:
    """Stands where the clinic's lock was: every caller goes straight in, and is counted, so a
    caller between its check and its act knows whether anyone else may race with it."""

    def __init__(self, cond: threading.Condition) -> None:
        self._cond = cond
        self._depth = threading.local()  # nested public calls of one thread count once
        self.callers = 0  # threads inside the clinic now

    def __enter__(self) -> None:
        depth = getattr(self._depth, "n", 0)
        self._depth.n = depth + 1
        if depth == 0:
            with self._cond:
                self.callers += 1

    def __exit__(self, *exc: object) -> None:
        self._depth.n -= 1
        if self._depth.n == 0:
            with self._cond:
                self.callers -= 1
                self._cond.notify_all()  # a waiter may now be the only one left inside


class _Rendezvous:
    """Holds a caller between its check and its act until a second caller for the same thing
    arrives, so two parallel requests both check before either acts: the race, every time.

    A caller goes on alone when nobody else can come: at once in a process with no other
    thread (a sequential run in memory); else once every thread inside the clinic waits here
    too and nobody came in for `grace` seconds (the rest of a burst may still be on its way);
    and at the latest after `patience` seconds. So a sequential flow on this defect is about
    as fast as the reference, never stuck, and answers as it does.
    """

    grace = 0.05  # seconds a lone caller waits for company when other threads could call

    def __init__(self, patience: float) -> None:
        self.patience = patience
        self.meetings = 0  # pairs that met: proof that two requests were inside at once
        self._cond = threading.Condition()
        self.inside = _Inside(self._cond)
        self._waiting: dict[tuple[str, ...], list[bool]] = {}

    def _alone(self) -> bool:
        """Nobody inside is on the way here: everyone inside already waits (each key one)."""
        return self.inside.callers <= len(self._waiting)

    def meet(self, *key: str) -> None:
        with self._cond:
            partner = self._waiting.pop(key, None)
            if partner is not None:
                partner[0] = True
                self.meetings += 1
                self._cond.notify_all()
                return
            mine = [False]
            self._waiting[key] = mine
            self._cond.notify_all()  # the other waiters may now all be waiting: let them see
            start = time.monotonic()
            only_thread = not _other_callers()
            settled = start + (0.0 if only_thread else min(self.grace, self.patience))
            deadline = start + self.patience
            while not mine[0]:
                now = time.monotonic()
                if now >= deadline or (now >= settled and self._alone()):
                    break
                self._cond.wait(timeout=(settled if now < settled else deadline) - now)
            if not mine[0]:
                self._waiting.pop(key, None)  # nobody came; only a partner removes it otherwise
                self._cond.notify_all()


def _other_callers() -> bool:
    """Whether a thread besides this one could call the clinic (the hashing pool's cannot)."""
    me = threading.current_thread()
    return any(t is not me and not t.name.startswith(POOL_THREADS) for t in threading.enumerate())


def _uri_secret(uri: str) -> str:
    return parse_qs(urlsplit(uri).query)["secret"][0]


@defect("no-locking", ("BACKUP-SINGLE-USE", "TOTP-REPLAY", "TOTP-RATE-LIMIT", "SETUP-FRESH-SECRET"),
        "no lock around check-then-act: parallel requests spend one code twice, lose "
        "wrong-code counts and leave two setup secrets pending")
class NoLocking(Clinic):
    """The reference without its lock, each check-then-act step held open for a second request.

    One at a time it answers as the reference does; in parallel, every request that passed a
    check waits for another before it acts, so both act on what they checked.
    """

    patience = 1.0  # seconds a caller alone between check and act waits for a second one

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.gap = _Rendezvous(self.patience)
        self._lock = self.gap.inside  # type: ignore[assignment]
        self._setups: dict[str, set[str]] = {}  # the secrets of setups still pending, per user

    def _accept_totp(self, user: User, secret: str, code: str) -> None:
        """TOTP-REPLAY: the last step is checked as read, and written after the meeting."""
        seen = replace(user)
        super()._accept_totp(seen, secret, code)
        self.gap.meet("totp", user.email)
        user.last_step = seen.last_step

    @_locked  # counted inside, so the rendezvous sees it
    def use_backup_code(self, token: str, code: str) -> SignIn:
        """BACKUP-SINGLE-USE: the code is found unspent, and marked spent after the meeting."""
        session, user = self._session(token, Stage.SECOND_STEP)
        self._check_lockout(user)
        seen = list(user.backup_hashes)
        if not backup_codes.spend(seen, code, self._hasher):
            refusal = TwoFactorError(ErrorCode.CODE_REJECTED, "That backup code is not valid.",
                                     Reason.WRONG_CODE)
            self._count_failure(user, refusal)
            raise refusal
        self.gap.meet("backup", user.email)
        user.backup_hashes = seen
        self._log(Event.BACKUP_CODE_USED, user.email, detail=f"{user.backup_codes_left} left")
        return self._pass_second_step(session, user, "backup code")

    def _count_failure(self, user: User, refusal: TwoFactorError) -> None:
        """TOTP-RATE-LIMIT: the count is read, and written back plus one after the meeting."""
        seen = user.failures
        self.gap.meet("failures", user.email)
        user.failures = seen
        super()._count_failure(user, refusal)

    @_locked  # counted inside, so the rendezvous sees it
    def start_authenticator_setup(self, token: str) -> Setup:
        """SETUP-FRESH-SECRET: revokes the setups it saw pending, after the meeting: the other
        request's secret was not among them, so both stay valid."""
        _, user = self._session(token, Stage.SIGNED_IN, Stage.ENROLMENT)
        pending = self._setups.setdefault(user.email, set())
        seen = set(pending)
        setup = super().start_authenticator_setup(token)
        self.gap.meet("setup", user.email)
        pending.difference_update(seen)
        pending.add(_uri_secret(setup.uri))
        return setup

    @_locked  # counted inside, so the rendezvous sees it
    def confirm_authenticator(self, token: str, code: str) -> list[str]:
        """Any pending setup's secret confirms; without a match, the reference's refusal."""
        session, user = self._session(token, Stage.SIGNED_IN, Stage.ENROLMENT)
        pending = self._setups.get(user.email, set())
        now = totp.step_of(self.clock.now(), self.params)
        secret = next((s for s in list(pending) if totp.match_step(
            s, "".join(code.split()), now, self.policy.window, self.params) is not None), None)
        if secret is None:
            return super().confirm_authenticator(token, code)
        if user.totp_secret is None:
            user.last_step = -1
        self._accept_totp(user, secret, code)
        pending.discard(secret)
        user.totp_secret, user.pending_secret = secret, None
        codes = self._new_backup_codes(user, self._fresh_backup_codes())
        if session.stage is Stage.ENROLMENT:
            self._promote(session)
        self._log(Event.ENROLMENT_CONFIRMED, user.email)
        return codes
