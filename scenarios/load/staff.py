"""One virtual staff member's factors under load, and what the server must answer to each code.

Kept apart from Locust (which patches the standard library when imported) so the accounting can
be tested on its own. Several virtual staff may share one account and send one code at once
(`settle_many`): exactly one of them may sign in. The accounting is exact: a code is called
valid or invalid only when it is so whenever, inside the time the request was in flight, the
server read it; otherwise the answer is `UNCERTAIN` and counts neither way. Nothing the server
answers is trusted to update what the member knows beyond what the answer proves.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from enum import StrEnum

import pyotp

from clinic2fa.scenarios.core import params

PERIOD = params.PERIOD  # TOTP-STEP
DIGITS = params.DIGITS  # TOTP-STEP
WINDOW = params.WINDOW  # TOTP-WINDOW: steps accepted each way
LATENCY_ALLOWANCE = 5.0  # seconds a request may spend before the server reads its code
WRONG_REACH = 30  # a wrong code matches no step this far either way
PROBE_KINDS = ("spent 6-digit code", "wrong 6-digit code", "spent backup code",
               "replaced backup code")


class Verdict(StrEnum):
    RIGHT = "right"
    VALID_REFUSED = "valid code refused"
    INVALID_ACCEPTED = "spent or wrong code accepted"
    UNCERTAIN = "uncertain"  # the window moved while the request was in flight


@dataclass(frozen=True)
class Span:
    """When the server may have read a code: between `early` and `late`, its Unix time."""

    early: float
    late: float

    def steps(self) -> tuple[int, int]:
        return int(self.early // PERIOD), int(self.late // PERIOD)


@dataclass(frozen=True)
class Attempt:
    """One code sent at the second step: where, what it is, and whether it must be accepted."""

    what: str  # "6-digit code", "backup code", or one of PROBE_KINDS
    code: str
    backup: bool  # sent to /sign-in/backup-code rather than /sign-in/code
    valid: bool
    step: int | None = None  # a 6-digit code's time step


@dataclass
class StaffMember:
    """A staff account with an authenticator app and backup codes, as its owner knows them."""

    email: str
    password: str
    secret: str
    confirmed_step: int  # the last step the server surely accepted
    maybe_step: int = -1  # the last step it may have accepted (>= confirmed_step)
    unspent: list[str] = field(default_factory=list)
    spent: list[str] = field(default_factory=list)
    replaced: list[str] = field(default_factory=list)  # unspent when a new list replaced them
    probes: int = 0

    def __post_init__(self) -> None:
        self.maybe_step = max(self.maybe_step, self.confirmed_step)
        self._otp = pyotp.TOTP(self.secret, digits=DIGITS, interval=PERIOD)

    def code_at(self, step: int) -> str:
        return str(self._otp.generate_otp(step))

    # -- what to send -----------------------------------------------------------------------

    def fresh_step(self, span: Span) -> int | None:
        """The first unused step inside the window wherever in `span` the server reads it."""
        early, late = span.steps()
        first = max(self.maybe_step + 1, late - WINDOW)
        return first if first <= early + WINDOW else None

    def attempt(self, span: Span) -> Attempt | None:
        """A code that must sign in: a fresh 6-digit code, else the next backup code."""
        step = self.fresh_step(span)
        if step is not None:
            return Attempt("6-digit code", self.code_at(step), False, True, step)
        if self.unspent:
            return Attempt("backup code", self.unspent[0], True, True)
        return None

    def probe(self, span: Span) -> Attempt | None:
        """A code that must be refused, of the next kind that can be made, in turn."""
        for turn in range(len(PROBE_KINDS)):
            kind = PROBE_KINDS[(self.probes + turn) % len(PROBE_KINDS)]
            code = self._probe_code(kind, span)
            if code is not None:
                self.probes += turn + 1
                return Attempt(kind, code, "backup" in kind, False)
        return None

    def _probe_code(self, kind: str, span: Span) -> str | None:
        early, late = span.steps()
        if kind == "spent 6-digit code":
            if self.confirmed_step < 0:
                return None
            code = self.code_at(self.confirmed_step)
            # never one that a later step in reach also shows (one in a million): it would pass
            later = range(self.confirmed_step + 1, late + WINDOW + 1)
            return None if any(self.code_at(s) == code for s in later) else code
        if kind == "wrong 6-digit code":
            taken = {self.code_at(s) for s in range(early - WRONG_REACH, late + WRONG_REACH + 1)}
            drawn = (f"{secrets.randbelow(10**DIGITS):0{DIGITS}d}" for _ in range(100))
            return next((c for c in drawn if c not in taken), None)
        pool = self.spent if kind == "spent backup code" else self.replaced
        known_good = set(self.unspent)
        return next((c for c in reversed(pool) if c not in known_good), None)

    # -- what the answer means --------------------------------------------------------------

    def settle_many(self, attempt: Attempt, answers: list[bool | None],
                    span: Span) -> list[Verdict]:
        """Judge one code that several sign-ins of this account sent at once (a race).

        Of a valid code exactly one may sign in: each acceptance past the first is a wrong
        verdict (the check-then-act race TOTP-REPLAY and BACKUP-SINGLE-USE forbid), and the
        other refusals are right. None accepted: judged as one refused valid code. A code that
        must be refused is judged answer by answer. `span` covers all of them.
        """
        answered = [a for a in answers if a is not None]
        if not attempt.valid:
            verdicts = [self.settle(attempt, a, span) for a in answered]
            return [v for v in verdicts if v is not None]
        accepted = sum(answered)
        first = self.settle(attempt, (accepted > 0) if answered else None, span)
        if accepted == 0:
            return [first] if first is not None else []
        return [Verdict.RIGHT, *[Verdict.INVALID_ACCEPTED] * (accepted - 1),
                *[Verdict.RIGHT] * (len(answered) - accepted)]

    def settle(self, attempt: Attempt, accepted: bool | None, span: Span) -> Verdict | None:
        """Judge the answer and learn from it; `accepted` None: no answer (no verdict)."""
        if attempt.backup:
            return self._settle_backup(attempt, accepted)
        return self._settle_code(attempt, accepted, span)

    def _settle_code(self, attempt: Attempt, accepted: bool | None, span: Span) -> Verdict | None:
        early, late = span.steps()
        if not attempt.valid:
            if accepted:
                self.maybe_step = max(self.maybe_step, late + WINDOW)  # it moved somewhere
            return _probe_verdict(accepted)
        assert attempt.step is not None
        if accepted is None:
            self.maybe_step = max(self.maybe_step, attempt.step)
            return None
        if accepted:
            self.confirmed_step = max(self.confirmed_step, attempt.step)
            self.maybe_step = max(self.maybe_step, attempt.step)
            return Verdict.RIGHT
        surely_inside = late - WINDOW <= attempt.step <= early + WINDOW
        return Verdict.VALID_REFUSED if surely_inside else Verdict.UNCERTAIN

    def _settle_backup(self, attempt: Attempt, accepted: bool | None) -> Verdict | None:
        if not attempt.valid:
            if accepted:  # the server's list is now unknown: use none of it again
                self.unspent = []
            return _probe_verdict(accepted)
        self.unspent.remove(attempt.code)
        if accepted:
            self.spent.append(attempt.code)
            return Verdict.RIGHT
        return None if accepted is None else Verdict.VALID_REFUSED

    def new_backup_codes(self, codes: list[str] | None) -> None:
        """Regenerated: the old unspent codes are replaced; None: no answer, none known now."""
        if codes is None:
            self.unspent = []
            return
        self.replaced.extend(self.unspent)
        self.unspent = list(codes)
        self.replaced = self.replaced[-20:]
        self.spent = self.spent[-20:]


def _probe_verdict(accepted: bool | None) -> Verdict | None:
    """A code that must be refused: right when refused, wrong when accepted, none unanswered."""
    if accepted is None:
        return None
    return Verdict.INVALID_ACCEPTED if accepted else Verdict.RIGHT
