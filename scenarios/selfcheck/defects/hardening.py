"""Seeded defects in the hardening (issue 16): sessions, guessing, answers, codes and images."""

from __future__ import annotations

import io
from typing import Any

import segno

from clinic2fa.scenarios.selfcheck.defects.registry import WEB, defect, policy_defect
from clinic2fa.simulator import totp
from clinic2fa.simulator.clinic import Clinic, Session
from clinic2fa.simulator.errors import ErrorCode, TwoFactorError
from clinic2fa.simulator.throttle import PasswordGuard
from clinic2fa.simulator.users import User


@defect("session-kept", ("SESSION-NEW-TOKEN",),
        "the pending token is promoted as it is: no new token at the second step or enrolment")
class SessionKept(Clinic):
    def _renew(self, session: Session) -> Session:
        return session


policy_defect("password-not-throttled", ("PASSWORD-RATE-LIMIT",),
              "wrong passwords are never throttled (only the cap of 100 stops them)",
              password_max_failures=10**9)


@defect("reentry-not-throttled", ("PASSWORD-RATE-LIMIT",),
        "re-entering the password (backup codes, Disable 2FA) is not throttled or counted")
class ReentryNotThrottled(Clinic):
    def _require_password(self, user: User, password: str) -> None:
        if not self._hasher.verify(user.password_hash, password):
            raise TwoFactorError(ErrorCode.PASSWORD_REQUIRED, "Re-enter your password.")


@defect("unknown-email-skips-hash", ("SIGNIN-NO-ENUMERATION",),
        "an unknown email is refused without hashing the password: timing lists the accounts")
class UnknownEmailSkipsHash(Clinic):
    def _check_password(self, user: User | None, password: str) -> bool:
        return user is not None and super()._check_password(user, password)


class _AccountsOnly(PasswordGuard):
    """Counts the wrong passwords of accounts that exist, and nobody else's."""

    def begin(self, key: str, known: bool, now: float) -> None:
        if known:
            super().begin(key, known, now)

    def end(self, key: str, known: bool, now: float, right: bool) -> str | None:
        return super().end(key, known, now, right) if known else None


@defect("unknown-email-not-throttled", ("SIGNIN-NO-ENUMERATION",),
        "wrong passwords for an unknown email are never counted: only accounts meet the throttle")
class UnknownEmailNotThrottled(Clinic):
    def __init__(self, **made: Any) -> None:
        super().__init__(**made)
        self._passwords = _AccountsOnly(self._passwords.limits)


policy_defect("no-failure-cap", ("RATE-LIMIT-CAP",),
              "lock-outs end for ever: no cap on consecutive failures",
              max_consecutive_failures=10**9)


policy_defect("skew-horizon-wider", ("SKEW-REASON",),
              "clock skew is named up to 12 steps away, not the declared 10: a wider oracle",
              skew_horizon=12)


@defect("skew-oracle", ("TOTP-SKEW-NO-ORACLE",),
        "a code refused as time skew is accepted once the clock reaches its step")
class SkewOracle(Clinic):
    def _note_skewed(self, user: User, step: int, now_step: int) -> None:
        return None


@defect("unicode-digits", ("TOTP-ASCII-DIGITS",),
        "digits of any script pass the shape check (str.isdigit) and are refused as wrong")
class UnicodeDigits(Clinic):
    def _well_formed(self, code: str) -> bool:
        return len(code) == self.policy.digits and code.isdigit()


@defect("qr-svg-without-background", ("QR-READABLE",),
        "the SVG QR code has no background: black on nothing, unreadable off the page")
class QrSvgWithoutBackground(Clinic):
    def _qr_images(self, uri: str) -> tuple[str, bytes]:
        out = io.BytesIO()
        segno.make(uri, error="m").save(out, kind="svg", scale=4, xmldecl=False, svgns=True)
        return out.getvalue().decode("utf-8"), totp.qr_png(uri)


policy_defect("secret-cacheable", ("SECRET-NO-STORE",),
              "answers carrying tokens, secrets and backup codes may be cached for 10 minutes",
              shows_on=WEB, cache_control="private, max-age=600")
policy_defect("no-body-limit", ("REQUEST-SIZE-LIMIT",),
              "a request body of any size is read whole before it is judged",
              shows_on=WEB, max_body_bytes=10**12)
