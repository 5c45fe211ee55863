"""What a scenario holds while it runs: the target, virtual devices, checks and the trace."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from scenarios.model import Needs
from scenarios.target import Account, Refused, Target
from scenarios.trace import Trace, traced
from simulator.virtual.authenticator_app import AuthenticatorApp


class NonConformance(AssertionError):
    """The target broke the rule a scenario checks."""


class NotApplicable(Exception):
    """The target cannot offer what the scenario needs (e.g. moving a deployment's clock)."""


@dataclass
class Enrolled:
    """An account with an authenticator app enrolled, its phone and its backup codes."""

    account: Account
    phone: AuthenticatorApp
    backup_codes: list[str]
    session: str  # the signed-in session it enrolled from
    used_steps: set[int] = field(default_factory=set)


class Context:
    """The scenario's handle on one target; every exchange goes through the trace."""

    def __init__(self, target: Target, trace: Trace, capabilities: frozenset[Needs]) -> None:
        self.trace = trace
        self.target: Target = traced(target, trace)
        self.capabilities = capabilities

    # -- people and devices -------------------------------------------------------------------

    def account(self, role: str = "staff") -> Account:
        """A fresh account of that role in the test clinic."""
        account = self.target.account(role)
        self.trace.note(f"account: {role} {account.email}")
        return account

    def phone(self, *, offset: float = 0.0, camera_works: bool = True) -> AuthenticatorApp:
        """A virtual phone whose clock is the server's clock plus `offset` seconds."""
        return AuthenticatorApp(self.target.server_time, offset=offset, camera_works=camera_works)

    def advance_clock(self, seconds: float) -> None:
        """Move the server's clock; only a target that lends its clock can."""
        self.require(Needs.CLOCK)
        mover = getattr(self.target, "advance_clock", None)
        if mover is None:
            raise NotApplicable("the target's clock cannot be moved")
        mover(seconds)

    def require(self, need: Needs) -> None:
        if need not in self.capabilities:
            raise NotApplicable(f"the target does not offer {need.value}")

    # -- checks -------------------------------------------------------------------------------

    def step(self, text: str) -> None:
        """A step as a person would describe it; shows in the report between exchanges."""
        self.trace.step(text)

    def check(self, ok: bool, message: str) -> None:
        """Fail the scenario with `message` (what the target did wrong) unless `ok`."""
        self.trace.check(message, ok)
        if not ok:
            raise NonConformance(message)

    @contextmanager
    def refused(self, code: str, reason: str | None = None, why: str = "") -> Iterator[None]:
        """The block must be refused with exactly this error code (and reason, if given)."""
        what = f"refused with {code}{f' ({reason})' if reason else ''}"
        try:
            yield
        except Refused as refusal:
            got = f"{refusal.code}{f' ({refusal.reason})' if refusal.reason else ''}"
            ok = refusal.code == code and (reason is None or refusal.reason == reason)
            self.check(ok, f"{why or 'expected'}: {what}, got {got}")
            return
        self.check(False, f"{why or 'expected'}: {what}, but it was accepted")

    # -- the guide's steps, composed ----------------------------------------------------------

    def signed_in(self, account: Account) -> str:
        """Sign in with a password where no second step is expected."""
        result = self.target.sign_in(account.email, account.password)
        self.check(result.stage == "signed_in", f"sign-in should complete, got {result.stage}")
        return result.session

    def enrol(self, account: Account, phone: AuthenticatorApp | None = None,
              session: str | None = None) -> Enrolled:
        """Steps 1-5: open Security, set up the app, scan the QR code, confirm, get codes."""
        phone = phone or self.phone()
        if session is None:
            result = self.target.sign_in(account.email, account.password)
            session = result.session
        setup = self.target.start_authenticator_setup(session)
        phone.scan(setup.qr_png)
        codes = self.target.confirm_enrolment(session, phone.code())
        enrolled = Enrolled(account, phone, codes, session, {phone.step()})
        return enrolled

    def fresh_code(self, enrolled: Enrolled) -> str:
        """A code the target has not seen for this user, without waiting for a new TOTP step.

        Uses the next step inside the one-step window when the current one is spent; never
        sleeps. Raises NotApplicable when the window leaves no unused step.
        """
        now = enrolled.phone.step()
        for step in (now, now + 1):
            if step not in enrolled.used_steps and step > max(enrolled.used_steps, default=-1):
                enrolled.used_steps.add(step)
                return enrolled.phone.code_at_step(step)
        if Needs.CLOCK in self.capabilities:
            self.advance_clock(enrolled.phone.accounts[-1].period)
            return self.fresh_code(enrolled)
        raise NotApplicable("no unused TOTP step inside the window; a fresh account is needed")

    def second_step(self, enrolled: Enrolled) -> str:
        """Sign in with password then a fresh code; the full session."""
        pending = self.target.sign_in(enrolled.account.email, enrolled.account.password)
        self.check(pending.stage == "second_step",
                   f"after the password the code must be asked, got {pending.stage}")
        done = self.target.enter_code(pending.session, self.fresh_code(enrolled))
        self.check(done.stage == "signed_in", f"a valid code must sign in, got {done.stage}")
        return done.session
