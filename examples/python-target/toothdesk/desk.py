"""Accounts, sign-in with a second step, the authenticator app, backup codes and enforcement."""

from __future__ import annotations

import base64
import hmac
import io
import math
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
MAX_FAILURES, LOCKOUT = 5, 15 * 60  # wrong codes in a row, then a pause (seconds)
PASSWORD_FAILURES, PASSWORD_LOCKOUT = 10, 5 * 60  # wrong passwords in a row, then a pause
FAILURE_CAP = 100  # failures in a row at one factor, however far apart: blocked (NIST 800-63B)
STRANGERS_KEPT = 10_000  # unknown emails whose wrong passwords are counted, newest kept
PENDING_TTL, SESSION_TTL = 5 * 60, 12 * 60 * 60
BACKUP_COUNT = 10
BACKUP_ALPHABET = "23456789abcdefghjkmnpqrstuvwxyz"  # no 0/o, 1/l/i: easy to read back
# Cheap argon2id for the example's speed; a real deployment uses OWASP's parameters.
HASHER = PasswordHasher(time_cost=1, memory_cost=64, parallelism=1)
# Checked for an unknown email, so it costs what a known one does and says nothing.
NOBODY = HASHER.hash(secrets.token_urlsafe(16))


class Denied(Exception):
    """ToothDesk says no: a stable `code`, for code_rejected a `reason`, and words for people."""

    def __init__(self, code: str, words: str, reason: str | None = None,
                 retry_after: float | None = None) -> None:
        super().__init__(words)
        self.code, self.reason, self.words = code, reason, words
        self.retry_after = retry_after  # for locked_out: seconds until it is worth trying again


@dataclass
class Strikes:
    """Failures in a row at one factor: a pause after every `every`, and at FAILURE_CAP a block
    that waiting never lifts (the owner or an admin unblocks). A success clears them."""

    every: int
    pause: float
    what: str  # "wrong passwords", "wrong codes": for the words
    in_a_row: int = 0
    paused_until: float = 0.0

    @property
    def blocked(self) -> bool:
        return self.in_a_row >= FAILURE_CAP

    def hold(self) -> None:
        """Refuse the attempt unchecked while paused or blocked, the right answer included."""
        if self.blocked:
            raise Denied("locked_out", f"Too many {self.what} in a row: ask the owner or an "
                                       "admin to unblock your account.")
        left = self.paused_until - time.time()
        if left > 0:
            raise Denied("locked_out", f"Too many {self.what}: try again in "
                                       f"{math.ceil(left / 60)} minutes.", retry_after=left)

    def failed(self) -> None:
        self.in_a_row += 1
        if self.in_a_row % self.every == 0:
            self.paused_until = time.time() + self.pause

    def clear(self) -> None:
        self.in_a_row, self.paused_until = 0, 0.0


def password_strikes() -> Strikes:
    return Strikes(PASSWORD_FAILURES, PASSWORD_LOCKOUT, "wrong passwords")


def code_strikes() -> Strikes:
    """Codes and backup codes together: one count for the second step."""
    return Strikes(MAX_FAILURES, LOCKOUT, "wrong codes")


@dataclass
class Person:
    email: str
    name: str
    role: str  # owner | admin | staff
    password_hash: str
    totp_secret: str | None = None
    pending_secret: str | None = None
    last_step: int = -1
    skewed_steps: set[int] = field(default_factory=set)  # refused as skew: spent, never later
    backup_hashes: list[str | None] = field(default_factory=list)
    password_strikes: Strikes = field(default_factory=password_strikes)
    code_strikes: Strikes = field(default_factory=code_strikes)

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
        self._strangers: dict[str, Strikes] = {}  # unknown emails: counted like accounts
        self.require_2fa = False
        self._lock = threading.RLock()

    # -- people -----------------------------------------------------------------------------

    def invite(self, email: str, role: str, name: str = "") -> str:
        """A new account; answers its first password."""
        password = secrets.token_urlsafe(12)
        with self._lock:
            self._people[email.lower()] = Person(email.lower(), name or email.split("@")[0],
                                                 role, HASHER.hash(password))
            self._strangers.pop(email.lower(), None)
        return password

    # -- signing in -------------------------------------------------------------------------

    def log_in(self, email: str, password: str) -> tuple[str, str]:
        """An unknown email costs the same hash check and is counted the same: neither the time
        nor a lock-out tells which emails have an account."""
        email = email.strip().lower()
        with self._lock:
            person = self._people.get(email)
            strikes = person.password_strikes if person else self._stranger(email)
        stored = person.password_hash if person else NOBODY
        checked = self._password_ok(strikes, stored, password)  # for everyone: the same work
        if person is None or not checked:
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
            person.code_strikes.hold()
            try:
                self._take_code(person, person.totp_secret or "", code)
            except Denied:
                person.code_strikes.failed()
                raise
            return self._passed(login, person)

    def second_step_backup(self, token: str, code: str) -> str:
        with self._lock:
            login, person = self._login(token, "second_step")
            person.code_strikes.hold()
            typed = "".join(code.split()).replace("-", "").lower()
            for index, stored in enumerate(person.backup_hashes):
                if stored is not None and _hash_ok(stored, typed):
                    person.backup_hashes[index] = None
                    return self._passed(login, person)
            person.code_strikes.failed()
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
            person.last_step, person.skewed_steps = -1, set()  # a new secret's codes start afresh
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
            self._take_code(person, person.pending_secret, code)
            person.totp_secret, person.pending_secret = person.pending_secret, None
            codes = self._new_backup_codes(person)
            if login.stage == "enrolment_required":
                login.stage, login.expires = "signed_in", time.time() + SESSION_TTL
            return codes

    def renew_backup_codes(self, token: str, password: str) -> list[str]:
        with self._lock:
            _, person = self._login(token, "signed_in")
            if not self._password_ok(person.password_strikes, person.password_hash, password):
                raise Denied("password_required", "Enter your password again.")
            if not person.two_factor:
                raise Denied("not_enrolled", "2FA is off.")
            return self._new_backup_codes(person)

    def turn_off_2fa(self, token: str, password: str) -> None:
        with self._lock:
            _, person = self._login(token, "signed_in")
            if self.require_2fa:
                raise Denied("enforced", "The owner requires 2FA for everyone.")
            if not self._password_ok(person.password_strikes, person.password_hash, password):
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

    def unblock(self, token: str, email: str) -> None:
        """After FAILURE_CAP failures in a row an account stays blocked until the owner or an
        admin lifts it here (anyone's but their own), having checked it is really them."""
        with self._lock:
            _, actor = self._login(token, "signed_in")
            person = self._people.get(email.strip().lower())
            if actor.role == "staff" or person is actor:
                raise Denied("not_permitted", "Ask the owner or an admin.")
            if person is None:
                raise Denied("unknown_user", "Nobody here has that email.")
            person.password_strikes.clear()
            person.code_strikes.clear()

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

    def _password_ok(self, strikes: Strikes, stored: str, typed: str) -> bool:
        """One password attempt: refused unchecked while its strikes hold, counted as a failure
        before the (slow) hash check so that parallel guesses cannot slip past the count, and
        cleared by the right password."""
        with self._lock:
            strikes.hold()
            strikes.failed()
        if not _hash_ok(stored, typed):
            return False
        with self._lock:
            strikes.clear()
        return True

    def _stranger(self, email: str) -> Strikes:
        """The wrong-password count of an email nobody has, the oldest forgotten past a bound."""
        strikes = self._strangers.setdefault(email, password_strikes())
        if len(self._strangers) > STRANGERS_KEPT:
            del self._strangers[next(iter(self._strangers))]
        return strikes

    def _take_code(self, person: Person, secret: str, code: str) -> None:
        code = "".join(code.split())
        if not (len(code) == 6 and code.isascii() and code.isdigit()):  # isdigit: any script
            raise Denied("code_rejected", "Type the 6 digits 0-9 your app shows.", "malformed")
        if not secret:
            raise Denied("not_enrolled", "No authenticator app is set up.")
        now = int(time.time() // 30)
        totp, found = pyotp.TOTP(secret), None
        for step in range(now - SKEW_REACH, now + SKEW_REACH + 1):
            if hmac.compare_digest(totp.generate_otp(step), code) and found is None:
                found = step
        if found is None:
            raise Denied("code_rejected", "That code is not right.", "wrong_code")
        person.skewed_steps = {s for s in person.skewed_steps if s >= now - WINDOW}
        if abs(found - now) > WINDOW:
            if found > now:  # a code of the future: spent now, or this answer is an oracle
                person.skewed_steps.add(found)
            raise Denied("code_rejected", "Your phone's clock is off: sync it.", "time_skew")
        if found <= person.last_step or found in person.skewed_steps:
            raise Denied("code_rejected", "That code was used already: wait for the next one.",
                         "already_used")
        person.last_step = found

    def _passed(self, login: Login, person: Person) -> str:
        person.code_strikes.clear()
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
        person.code_strikes.clear()  # a new enrolment starts its count afresh
        for token in [t for t, login in self._logins.items()
                      if login.email == person.email and t != keep]:
            del self._logins[token]


def _hash_ok(stored: str, typed: str) -> bool:
    try:
        return HASHER.verify(stored, typed)
    except VerificationError:
        return False
