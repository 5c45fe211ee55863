"""Consecutive wrong passwords per account, and unknown emails counted the same way.

PASSWORD-RATE-LIMIT: after `max_failures` wrong passwords in a row the account's password is
refused for `lockout_seconds`, the right one included; RATE-LIMIT-CAP: after `cap` in a row,
however far apart, it is refused until the owner or an admin unblocks the account. An attempt
is counted before its (slow) hash is checked, so parallel guesses cannot overtake the count.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass


@dataclass
class Strikes:
    """One account's (or one unknown email's) wrong passwords in a row."""

    failures: int = 0  # since the last lock-out: towards the next one
    in_a_row: int = 0  # since the last success: towards the cap
    checking: int = 0  # attempts counted but not yet judged (their hash is being checked)
    locked_until: float = 0.0


class Refusal(Exception):
    """A password attempt refused before it is checked; `retry_after` None for a block."""

    def __init__(self, retry_after: float | None) -> None:
        self.retry_after = retry_after
        super().__init__("password attempts throttled")


@dataclass(frozen=True)
class Limits:
    max_failures: int
    lockout_seconds: float
    cap: int


class PasswordGuard:
    """Counts attempts per key; a caller holds no lock of its own around these calls."""

    UNKNOWN_KEYS = 10_000  # unknown emails remembered at most (the oldest forgotten first)

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self._known: dict[str, Strikes] = {}
        self._unknown: OrderedDict[str, Strikes] = OrderedDict()
        self._lock = threading.Lock()

    def _strikes(self, key: str, known: bool) -> Strikes:
        if known:
            return self._known.setdefault(key, Strikes())
        strikes = self._unknown.pop(key, None) or Strikes()
        self._unknown[key] = strikes  # most recent last
        while len(self._unknown) > self.UNKNOWN_KEYS:
            self._unknown.popitem(last=False)
        return strikes

    def begin(self, key: str, known: bool, now: float) -> None:
        """Count one attempt before its hash is checked; Refusal if none may be made now."""
        with self._lock:
            s = self._strikes(key, known)
            if s.in_a_row + s.checking >= self.limits.cap:
                raise Refusal(None)
            if now < s.locked_until:
                raise Refusal(s.locked_until - now)
            if s.failures + s.checking >= self.limits.max_failures:  # the rest are in flight
                raise Refusal(self.limits.lockout_seconds)
            s.checking += 1

    def end(self, key: str, known: bool, now: float, right: bool) -> str | None:
        """Judge a counted attempt: "locked" or "blocked" when this failure started one."""
        with self._lock:
            s = self._strikes(key, known)
            s.checking = max(0, s.checking - 1)
            if right:
                s.failures = s.in_a_row = 0
                return None
            s.failures += 1
            s.in_a_row += 1
            if s.in_a_row >= self.limits.cap:
                return "blocked"
            if s.failures >= self.limits.max_failures:
                s.failures = 0
                s.locked_until = now + self.limits.lockout_seconds
                return "locked"
            return None

    def blocked(self, key: str) -> bool:
        """Whether the account's password is refused until someone unblocks it."""
        with self._lock:
            s = self._known.get(key)
            return s is not None and s.in_a_row >= self.limits.cap

    def clear(self, key: str) -> None:
        """The owner or an admin unblocked the account: its count starts again."""
        with self._lock:
            self._known.pop(key, None)
