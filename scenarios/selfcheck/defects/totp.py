"""Seeded defects in TOTP codes: the window, replay, the rate limit, pending sign-ins, skew."""

from __future__ import annotations

from clinic2fa.scenarios.selfcheck.defects.registry import defect, policy_defect
from clinic2fa.simulator.clinic import Clinic, SignIn
from clinic2fa.simulator.users import User

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
