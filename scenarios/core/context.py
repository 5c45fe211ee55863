"""What a scenario holds while it runs: the target, virtual devices, checks and the trace."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, cast

from clinic2fa.scenarios.contract import (
    Account,
    ClockControl,
    HttpExchanges,
    Inconclusive,
    Inspection,
    Needs,
    NotApplicable,
    PasskeyCeremonies,
    PasskeyDevice,
    Refused,
    SessionReplay,
    Target,
)
from clinic2fa.scenarios.core import params
from clinic2fa.scenarios.core.trace import Trace, traced
from clinic2fa.simulator.virtual.authenticator_app import Account as AppAccount
from clinic2fa.simulator.virtual.authenticator_app import AuthenticatorApp, DeviceError

__all__ = ["Context", "Enrolled", "NonConformance", "NotApplicable"]


class NonConformance(AssertionError):
    """The target broke the rule a scenario checks."""


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
        self._cleanups: list[tuple[str, Callable[[], object]]] = []

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
        """Move the server's clock; only a target that lends its clock (Needs.CLOCK) can."""
        self.require(Needs.CLOCK)
        cast(ClockControl, self.target).advance_clock(seconds)

    def stored_credentials(self, email: str) -> dict[str, Any]:
        """What the clinic keeps at rest for one account: `password` and `backup_codes`."""
        self.require(Needs.INSPECT)
        return cast(Inspection, self.target).stored_credentials(email)

    def audit_log(self) -> list[dict[str, Any]]:
        """The clinic's audit log, oldest first: `at`, `event`, `actor`, `subject`, `detail`."""
        self.require(Needs.INSPECT)
        return cast(Inspection, self.target).audit_log()

    @property
    def passkeys(self) -> PasskeyCeremonies:
        """The target's passkey ceremonies (Needs.PASSKEYS)."""
        self.require(Needs.PASSKEYS)
        return cast(PasskeyCeremonies, self.target)

    @property
    def sessions(self) -> SessionReplay:
        """What a client holds for a session, and replaying it (Needs.SESSIONS)."""
        self.require(Needs.SESSIONS)
        return cast(SessionReplay, self.target)

    @property
    def http(self) -> HttpExchanges:
        """The deployment's HTTP answers themselves (Needs.HTTP)."""
        self.require(Needs.HTTP)
        return cast(HttpExchanges, self.target)

    def require(self, need: Needs) -> None:
        if need not in self.capabilities:
            raise NotApplicable(f"the target does not offer {need.value}")

    # -- restoring shared state ------------------------------------------------------------------

    def cleanup(self, fn: Callable[[], object], what: str = "") -> None:
        """Run `fn` after the scenario, pass or fail, last registered first.

        For what a scenario changes on accounts other scenarios share (the owner's enforcement
        setting on a deployment): register the undo right after the change. A failing cleanup
        makes the scenario an error, since later scenarios may then see a changed clinic.
        """
        self._cleanups.append((what or getattr(fn, "__name__", "cleanup"), fn))

    def run_cleanups(self) -> list[str]:
        """Run the registered cleanups (each once); what went wrong, one line each."""
        problems = []
        while self._cleanups:
            what, fn = self._cleanups.pop()
            self.trace.note(f"cleanup: {what}")
            try:
                fn()
            except Exception as exc:  # every cleanup runs; each failure is reported
                problems.append(f"cleanup {what} failed: {type(exc).__name__}: {exc}")
        return problems

    def scan(self, phone: AuthenticatorApp, qr_png: bytes) -> AppAccount:
        """Step 3 with a working camera: the QR code must scan into an account on the phone."""
        try:
            return phone.scan(qr_png)
        except DeviceError as exc:
            if not phone.camera_works:
                raise  # the harness's own broken camera, not the target's fault
            self.check(False, f"the authenticator app cannot use the QR code: {exc}")
            raise  # unreachable: check raised

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
    def refused(self, code: str | tuple[str, ...], reason: str | tuple[str, ...] | None = None,
                why: str = "") -> Iterator[None]:
        """The block must be refused with this error code (and reason, if given).

        A tuple accepts any of its codes (or reasons), for rules the spec leaves open.
        """
        codes = (code,) if isinstance(code, str) else code
        reasons = (reason,) if isinstance(reason, str) else reason
        what = f"refused with {' or '.join(codes)}"
        if reasons:
            what += f" ({' or '.join(reasons)})"
        try:
            yield
        except Refused as refusal:
            got = f"{refusal.code}{f' ({refusal.reason})' if refusal.reason else ''}"
            if refusal.code == "unknown":  # a page whose words no mapping names: say them
                got += f" (the page said: {refusal.message!r})"
            ok = refusal.code in codes and (not reasons or refusal.reason in reasons)
            self.check(ok, f"{why or 'expected'}: {what}, got {got}")
            return
        self.check(False, f"{why or 'expected'}: {what}, but it was accepted")

    @contextmanager
    def accepted(self, what: str) -> Iterator[None]:
        """The block must not be refused: here a refusal is the target breaking the rule."""
        try:
            yield
        except Refused as refusal:
            got = f"{refusal.code}{f' ({refusal.reason})' if refusal.reason else ''}"
            self.check(False, f"{what} should be accepted, got {got}: {refusal.message}")

    # -- the guide's steps, composed ----------------------------------------------------------

    def signed_in(self, account: Account) -> str:
        """Sign in with a password where no second step is expected."""
        result = self.target.sign_in(account.email, account.password)
        self.check(result.stage == "signed_in", f"sign-in should complete, got {result.stage}")
        return result.session

    def enrol(self, account: Account, phone: AuthenticatorApp | None = None,
              session: str | None = None) -> Enrolled:
        """Steps 1-5: open Security, set up the app, scan the QR code, confirm, get codes.

        A confirming code refused as already used (this user spent the time step moments ago:
        re-enrolling after a reset, or a shared account enrolled by the previous scenario) is
        retried once with the next step's code, as a person would wait for the next code.
        Owner and admin accounts are shared on a deployment, so their 2FA is disabled again
        after the scenario: enrol them before switching enforcement on.
        """
        phone = phone or self.phone()
        if session is None:
            session = self.target.sign_in(account.email, account.password).session
        setup = self.target.start_authenticator_setup(session)
        phone.scan(setup.qr_png)
        step = phone.step()  # read once: the code and the step it spends must agree
        try:
            codes = self.target.confirm_enrolment(session, phone.code_at_step(step))
        except Refused as refusal:
            if (refusal.code, refusal.reason) != ("code_rejected", "already_used"):
                raise
            step += 1
            try:
                codes = self.target.confirm_enrolment(session, phone.code_at_step(step))
            except Refused as again:
                if (again.code, again.reason) == ("code_rejected", "already_used"):
                    raise Inconclusive(
                        f"{account.email} already spent this and the next time step (a shared "
                        "owner or admin enrolled by earlier scenarios): run it again") from None
                raise
        enrolled = Enrolled(account, phone, codes, session, {step})
        if account.role in ("owner", "admin"):
            self.cleanup(lambda: self._two_factor_off(enrolled),
                         f"the {account.role}'s 2FA off again")
        return enrolled

    def _two_factor_off(self, enrolled: Enrolled) -> None:
        """Undo the enrolment of a shared account: Disable 2FA, signing in again if need be."""
        account = enrolled.account
        try:
            self.target.disable_2fa(enrolled.session, account.password)
            return
        except Refused as refusal:
            if refusal.code == "not_enrolled":
                return  # someone (the scenario) already took it off
            if refusal.code != "not_signed_in":
                raise
        result = self.target.sign_in(account.email, account.password)
        if result.stage != "second_step":
            return  # no second factor left: an owner or admin reset it
        spare = enrolled.backup_codes[-1]  # scenarios spend backup codes from the front
        full = self.target.use_backup_code(result.session, spare)
        self.target.disable_2fa(full.session, account.password)

    def fresh_code(self, enrolled: Enrolled) -> str:
        """A code the target has not seen for this user, without waiting for a new TOTP step.

        Uses the next step inside the one-step window when the current one is spent; never
        sleeps. Raises NotApplicable when the window leaves no unused step.
        """
        now = enrolled.phone.step()
        for step in (now, now + 1):
            if step not in enrolled.used_steps and step > max(enrolled.used_steps, default=-1):
                enrolled.used_steps.add(step)
                code = enrolled.phone.code_at_step(step)
                self.trace.secrets.add(code)  # scrubbed from reports even if never sent
                return code
        if Needs.CLOCK in self.capabilities:
            self.advance_clock(enrolled.phone.accounts[-1].period)
            return self.fresh_code(enrolled)
        raise Inconclusive("no unused TOTP step inside the window; a fresh account is needed")

    def second_step(self, enrolled: Enrolled) -> str:
        """Sign in with password then a fresh code; the full session."""
        pending = self.target.sign_in(enrolled.account.email, enrolled.account.password)
        self.check(pending.stage == "second_step",
                   f"after the password the code must be asked, got {pending.stage}")
        done = self.target.enter_code(pending.session, self.fresh_code(enrolled))
        self.check(done.stage == "signed_in", f"a valid code must sign in, got {done.stage}")
        return done.session

    # -- time steps and wrong codes -----------------------------------------------------------

    def server_step(self, period: int = params.PERIOD) -> int:
        """The server's current TOTP time step (TOTP-STEP: 30 s counted from the Unix epoch)."""
        return int(self.target.server_time() // period)

    def wrong_code(self, phone: AuthenticatorApp, reach: int = 30) -> str:
        """A well-formed 6-digit code that matches no step of the phone's secret near now.

        Wider than any window or skew search a deployment would use, so the target can only
        call it wrong, never a skewed or reused code.
        """
        now = self.server_step()
        taken = {phone.code_at_step(s) for s in range(now - reach, now + reach + 1)}
        codes = (f"{n:0{params.DIGITS}d}" for n in range(123_457, 10**params.DIGITS))
        return next(c for c in codes if c not in taken)

    def stale_code(self, old: AuthenticatorApp, new: AuthenticatorApp, reach: int = 30) -> str:
        """A code of the old phone's secret, inside the window, that the new secret never makes.

        For "the old secret's code is refused": without this, a coincidence (about one in
        16,000) would make the old code valid or skewed for the new secret too.
        """
        now = self.server_step()
        taken = {new.code_at_step(s) for s in range(now - reach, now + reach + 1)}
        code = next((c for c in (old.code_at_step(now + d) for d in (0, 1, -1))
                     if c not in taken), None)
        if code is None:
            raise Inconclusive("the two secrets share every code around now; run it again")
        return code

    # -- passkeys (STEP-7) --------------------------------------------------------------------

    def passkey(self, **flags: Any) -> PasskeyDevice:
        """The passkey a person would use on this target; it verifies its user, as Touch ID does.

        The target makes it (`new_passkey`): a virtual passkey for its origin, or, in a browser,
        the browser's own authenticator. `flags` ask for misbehaviour (a cloned key, ...).
        """
        ceremonies = self.passkeys
        if not self.target.origin:
            raise NotApplicable("the target does not say the origin its passkeys are used on")
        return ceremonies.new_passkey(**{"user_verified": True, **flags})

    def add_passkey(self, session: str, device: PasskeyDevice | None = None,
                    name: str = "Phone passkey") -> PasskeyDevice:
        """Step 7: Set up passkey, from options to the registered credential."""
        device = device or self.passkey()
        options = self.passkeys.begin_passkey_setup(session)
        self.passkeys.finish_passkey_setup(session, device.create(options), name)
        return device

    def passkey_second_step(self, account: Account, device: PasskeyDevice) -> str:
        """Sign in with the password, then the passkey; the full session."""
        pending = self.target.sign_in(account.email, account.password)
        self.check(pending.stage == "second_step",
                   f"after the password the second step must be asked, got {pending.stage}")
        options = self.passkeys.begin_passkey_sign_in(pending.session)
        done = self.passkeys.finish_passkey_sign_in(pending.session, device.get(options))
        self.check(done.stage == "signed_in", f"a valid passkey must sign in, got {done.stage}")
        return done.session
