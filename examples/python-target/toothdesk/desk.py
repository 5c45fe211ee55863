"""Accounts, sign-in with a second step, the authenticator app, backup codes and enforcement."""

from __future__ import annotations

import base64
import hmac
import io
import secrets
import threading
import time
from dataclasses import dataclass, field
from urllib.parse import quote

import pyotp
import segno
from argon2 import PasswordHasher
from argon2.exceptions import VerificationError

ISSUER = "MyDentalPractice"
WINDOW = 1  # steps accepted either side of now
SKEW_REACH = 10  # steps either side that a code is recognised as the phone's clock being off
MAX_FAILURES, LOCKOUT = 5, 15 * 60
PENDING_TTL, SESSION_TTL = 5 * 60, 12 * 60 * 60
BACKUP_COUNT = 10
BACKUP_ALPHABET = "23456789abcdefghjkmnpqrstuvwxyz"  # no 0/o, 1/l/i: easy to read back
# Cheap argon2id for the example's speed; a real deployment uses OWASP's parameters.
HASHER = PasswordHasher(time_cost=1, memory_cost=64, parallelism=1)


class Denied(Exception):
    """ToothDesk says no: a stable `code`, for code_rejected a `reason`, and words for people."""

    def __init__(self, code: str, words: str, reason: str | None = None) -> None:
        super().__init__(words)
        self.code, self.reason, self.words = code, reason, words


@dataclass
class Person:
    email: str
    name: str
    role: str  # owner | admin | staff
    password_hash: str
    totp_secret: str | None = None
    pending_secret: str | None = None
    last_step: int = -1
    backup_hashes: list[str | None] = field(default_factory=list)
    failures: int = 0
    locked_until: float = 0.0

    @property
    def two_factor(self) -> bool:
        return self.totp_secret is not None


@dataclass
class Login:
    email: str
    stage: str  # signed_in | second_step | enrolment_required
    expires: float


class ToothDesk:
    """One clinic's back office. Thread-safe: one lock around each change."""

    def __init__(self) -> None:
        self._people: dict[str, Person] = {}
        self._logins: dict[str, Login] = {}
        self.require_2fa = False
        self._lock = threading.RLock()

    # -- people -----------------------------------------------------------------------------

    def invite(self, email: str, role: str, name: str = "") -> str:
        """A new account; answers its first password."""
        password = secrets.token_urlsafe(12)
        with self._lock:
            self._people[email.lower()] = Person(email.lower(), name or email.split("@")[0],
                                                 role, HASHER.hash(password))
        return password

    # -- signing in -------------------------------------------------------------------------

    def log_in(self, email: str, password: str) -> tuple[str, str]:
        person = self._people.get(email.strip().lower())
        if person is None or not _password_ok(person, password):
            raise Denied("invalid_credentials", "Wrong email or password.")
        with self._lock:
            if person.two_factor:
                stage, ttl = "second_step", PENDING_TTL
            elif self.require_2fa:
                stage, ttl = "enrolment_required", PENDING_TTL
            else:
                stage, ttl = "signed_in", SESSION_TTL
            token = secrets.token_urlsafe(32)
            self._logins[token] = Login(person.email, stage, time.time() + ttl)
            return token, stage

    def second_step_code(self, token: str, code: str) -> str:
        with self._lock:
            login, person = self._login(token, "second_step")
            self._not_locked(person)
            try:
                self._take_code(person, person.totp_secret or "", code)
            except Denied:
                self._failed(person)
                raise
            return self._passed(login, person)

    def second_step_backup(self, token: str, code: str) -> str:
        with self._lock:
            login, person = self._login(token, "second_step")
            self._not_locked(person)
            typed = "".join(code.split()).replace("-", "").lower()
            for index, stored in enumerate(person.backup_hashes):
                if stored is not None and _hash_ok(stored, typed):
                    person.backup_hashes[index] = None
                    return self._passed(login, person)
            self._failed(person)
            raise Denied("code_rejected", "That backup code is not valid.", "wrong_code")

    def log_out(self, token: str) -> None:
        with self._lock:
            self._logins.pop(token, None)

    def whoami(self, token: str) -> Person:
        with self._lock:
            return self._login(token, "signed_in")[1]

    # -- Security settings ------------------------------------------------------------------

    def security_page(self, token: str) -> dict[str, object]:
        with self._lock:
            _, person = self._login(token, "signed_in", "enrolment_required")
            return {"two_factor": person.two_factor, "app": person.two_factor,
                    "backup_left": sum(h is not None for h in person.backup_hashes),
                    "required": self.require_2fa}

    def begin_app_setup(self, token: str) -> tuple[str, str, bytes]:
        """(Key URI, manual-entry text, QR PNG) for a brand-new secret."""
        with self._lock:
            _, person = self._login(token, "signed_in", "enrolment_required")
            if person.two_factor:
                raise Denied("already_enrolled", "Turn 2FA off before adding another app.")
            person.pending_secret = base64.b32encode(secrets.token_bytes(20)).decode()
            secret = person.pending_secret
        label = quote(f"{ISSUER}:{person.email}")
        uri = (f"otpauth://totp/{label}?secret={secret}&issuer={ISSUER}"
               "&algorithm=SHA1&digits=6&period=30")
        png = io.BytesIO()
        segno.make(uri, error="m").save(png, kind="png", scale=4)
        grouped = " ".join(secret[i:i + 4] for i in range(0, len(secret), 4))
        return uri, grouped, png.getvalue()

    def finish_app_setup(self, token: str, code: str) -> list[str]:
        with self._lock:
            login, person = self._login(token, "signed_in", "enrolment_required")
            if person.pending_secret is None:
                raise Denied("no_setup_in_progress", "Start the setup first.")
            if not person.two_factor:
                person.last_step = -1  # a new secret's codes start afresh
            self._take_code(person, person.pending_secret, code)
            person.totp_secret, person.pending_secret = person.pending_secret, None
            codes = self._new_backup_codes(person)
            if login.stage == "enrolment_required":
                login.stage, login.expires = "signed_in", time.time() + SESSION_TTL
            return codes

    def renew_backup_codes(self, token: str, password: str) -> list[str]:
        with self._lock:
            _, person = self._login(token, "signed_in")
            if not _password_ok(person, password):
                raise Denied("password_required", "Enter your password again.")
            if not person.two_factor:
                raise Denied("not_enrolled", "2FA is off.")
            return self._new_backup_codes(person)

    def turn_off_2fa(self, token: str, password: str) -> None:
        with self._lock:
            _, person = self._login(token, "signed_in")
            if self.require_2fa:
                raise Denied("enforced", "The owner requires 2FA for everyone.")
            if not _password_ok(person, password):
                raise Denied("password_required", "Enter your password again.")
            if not person.two_factor:
                raise Denied("not_enrolled", "2FA is off.")
            self._strip(person, keep=token)

    # -- the owner and admins ---------------------------------------------------------------

    def set_require_2fa(self, token: str, required: bool) -> None:
        with self._lock:
            _, person = self._login(token, "signed_in")
            if person.role != "owner":
                raise Denied("not_permitted", "Only the owner decides that.")
            self.require_2fa = required

    def team(self, token: str) -> list[Person]:
        with self._lock:
            _, person = self._login(token, "signed_in")
            if person.role == "staff":
                raise Denied("not_permitted", "Only the owner and admins see the team.")
            return list(self._people.values())

    def reset_2fa_for(self, token: str, email: str) -> None:
        """For someone who lost their phone: the owner for anyone else, an admin not the owner."""
        with self._lock:
            _, actor = self._login(token, "signed_in")
            if actor.role == "staff":
                raise Denied("not_permitted", "Staff cannot reset 2FA.")
            person = self._people.get(email.strip().lower())
            if person is None:
                raise Denied("unknown_user", "Nobody here has that email.")
            if person is actor or (person.role == "owner" and actor.role != "owner"):
                raise Denied("not_permitted", "Not for that account.")
            self._strip(person)

    # -- inside -----------------------------------------------------------------------------

    def _login(self, token: str, *stages: str) -> tuple[Login, Person]:
        login = self._logins.get(token)
        if login is None:
            raise Denied("not_signed_in", "Sign in first.")
        if time.time() >= login.expires:
            del self._logins[token]
            full = login.stage == "signed_in"
            raise Denied("not_signed_in" if full else "sign_in_expired", "Sign in again.")
        if login.stage not in stages:
            if login.stage == "second_step":
                raise Denied("second_step_required", "Enter your 6-digit code first.")
            if login.stage == "enrolment_required":
                raise Denied("enrolment_required", "Set up 2FA first.")
            raise Denied("invalid_request", "You are already signed in.")
        return login, self._people[login.email]

    def _take_code(self, person: Person, secret: str, code: str) -> None:
        code = "".join(code.split())
        if not (code.isdigit() and len(code) == 6):
            raise Denied("code_rejected", "Codes have 6 digits.", "malformed")
        if not secret:
            raise Denied("not_enrolled", "No authenticator app is set up.")
        now = int(time.time() // 30)
        totp, found = pyotp.TOTP(secret), None
        for step in range(now - SKEW_REACH, now + SKEW_REACH + 1):
            if hmac.compare_digest(totp.generate_otp(step), code) and found is None:
                found = step
        if found is None:
            raise Denied("code_rejected", "That code is not right.", "wrong_code")
        if abs(found - now) > WINDOW:
            raise Denied("code_rejected", "Your phone's clock is off: sync it.", "time_skew")
        if found <= person.last_step:
            raise Denied("code_rejected", "That code was used already.", "already_used")
        person.last_step = found

    def _not_locked(self, person: Person) -> None:
        if time.time() < person.locked_until:
            raise Denied("locked_out", "Too many wrong codes: try again in 15 minutes.")

    def _failed(self, person: Person) -> None:
        person.failures += 1
        if person.failures >= MAX_FAILURES:
            person.failures, person.locked_until = 0, time.time() + LOCKOUT

    def _passed(self, login: Login, person: Person) -> str:
        person.failures = 0
        login.stage, login.expires = "signed_in", time.time() + SESSION_TTL
        return "signed_in"

    def _new_backup_codes(self, person: Person) -> list[str]:
        codes = ["".join(secrets.choice(BACKUP_ALPHABET) for _ in range(10))
                 for _ in range(BACKUP_COUNT)]
        person.backup_hashes = [HASHER.hash(c) for c in codes]
        return [f"{c[:5]}-{c[5:]}" for c in codes]

    def _strip(self, person: Person, keep: str | None = None) -> None:
        person.totp_secret = person.pending_secret = None
        person.backup_hashes = []
        for token in [t for t, login in self._logins.items()
                      if login.email == person.email and t != keep]:
            del self._logins[token]


def _password_ok(person: Person, password: str) -> bool:
    return _hash_ok(person.password_hash, password)


def _hash_ok(stored: str, typed: str) -> bool:
    try:
        return HASHER.verify(stored, typed)
    except VerificationError:
        return False
