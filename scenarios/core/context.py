"""What a scenario holds while it runs: the target, virtual devices, checks and the trace."""

from __future__ import annotations

import time
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
    PasswordStore,
    Refused,
    SessionReplay,
    Target,
)
from clinic2fa.scenarios.core import params
from clinic2fa.scenarios.core.accounts import Known, Unsettled, settle
from clinic2fa.scenarios.core.guard import guarded
from clinic2fa.scenarios.core.policy import REFERENCE, Policy, Seen
from clinic2fa.scenarios.core.trace import Trace, traced
from clinic2fa.simulator.virtual.authenticator_app import Account as AppAccount
from clinic2fa.simulator.virtual.authenticator_app import AuthenticatorApp, DeviceError

__all__ = ["Context", "Enrolled", "NonConformance", "NotApplicable"]

# What a half-finished sign-in answers where a full one is needed: the deployment asks for the
# second step, or (a site whose pages know only signed in or not) treats it as not signed in.
HALF_SIGNED_IN = ("second_step_required", "not_signed_in")
STEP_MARGIN = 1.0  # seconds past a step boundary before its code is sent (the clock estimate)


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
    """The scenario's handle on one target; every exchange goes through the guard and the trace.

    `policy` is what the deployment declared (the reference's by default); what a scenario reads
    of it is kept in the trace for the report. `wait` lets real time pass where the target's
    clock cannot be moved, at most `max_wait` seconds at a time.
    """

    def __init__(self, target: Target, trace: Trace, capabilities: frozenset[Needs],
                 policy: Policy | None = None, *, wait: Callable[[float], None] = time.sleep,
                 max_wait: float = 60.0, reset: Callable[[], None] | None = None) -> None:
        self.trace = trace
        # Reused accounts lent to this scenario (email folded -> what is known of it), the
        # sessions signed in with them, and the config's reset hook (None: it names none).
        self.known: dict[str, Known] = {}
        self.sessions: dict[str, Known] = {}
        self.reset = reset
        self.target: Target = guarded(traced(target, trace), self)
        self.capabilities = capabilities
        self.policy = Seen(policy or REFERENCE, trace.policy)
        self.max_wait = max_wait
        self.expecting: frozenset[str] = frozenset()  # refusal codes the open check asks for
        self._pause = wait
        self._cleanups: list[tuple[str, Callable[[], object]]] = []

    # -- people and devices -------------------------------------------------------------------

    def account(self, role: str = "staff") -> Account:
        """An account of that role in the test clinic, as found: a fresh one (the reference),
        or one of the config's, put back first if an earlier scenario left it otherwise, and
        put back again once this scenario is over (a failure there is this scenario's error)."""
        account = self.target.account(role)
        self.trace.note(f"account: {role} {account.email}")
        if account.known is None or account.email.casefold() in self.known:
            return account
        self.known[account.email.casefold()] = account.known
        try:
            settle(self, account, before=True)
        except Unsettled as exc:
            raise Inconclusive(f"not started from an account in an unknown state: {exc}") from None
        self.cleanup(lambda: settle(self, account, before=False),
                     f"{account.email} put back as found")
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

    def stored_password(self, session: str, email: str) -> str | None:
        """How the clinic keeps `email`'s password, as shown to the owner signed in at
        `session`: whole where the target lays its store open, else as the owner's page shows
        it (masked, perhaps)."""
        self.require(Needs.PASSWORD_STORE)
        if Needs.INSPECT in self.capabilities:
            return cast(Inspection, self.target).stored_credentials(email).get("password")
        return cast(PasswordStore, self.target).stored_password(session, email)

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
    def replay(self) -> SessionReplay:
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

    def offers(self, feature: str) -> bool:
        """Whether the deployment offers one of the guide's features (and the target reaches it).

        For a scenario whose point lies elsewhere: without the feature it checks what it can
        and records the rest as not verified (`unverified`).
        """
        reachable = feature != "passkeys" or Needs.PASSKEYS in self.capabilities
        return reachable and self.policy.offers(feature)

    def unverified(self, text: str) -> None:
        """Record a part of the check that the deployment gives no answer to."""
        self.trace.unverified(text)

    # -- time -------------------------------------------------------------------------------------

    def wait(self, seconds: float, why: str) -> None:
        """Let `seconds` pass on the server: its clock moved where the target lends it, else
        real time, at most max_wait (beyond it the scenario is not applicable here)."""
        if seconds <= 0:
            return
        if Needs.CLOCK in self.capabilities:
            self.trace.note(f"the server's clock moves {seconds:g} s ({why})")
            self.advance_clock(seconds)
            return
        self.require_wait(seconds, why)
        self.trace.note(f"waiting {seconds:g} s of real time ({why})")
        self._pause(seconds)

    def require_wait(self, seconds: float, why: str) -> None:
        """Not applicable unless `seconds` can pass here: say so before doing anything else."""
        if Needs.CLOCK not in self.capabilities and seconds > self.max_wait:
            raise NotApplicable(f"it needs {seconds:g} s to pass ({why}) on a clock the harness "
                                f"cannot move, more than its max_wait of {self.max_wait:g} s")

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

    def confirm_again(self, session: str, phone: AuthenticatorApp,
                      code: Callable[[], str]) -> list[str]:
        """Confirm enrolment with `code()` after a refused confirmation.

        The guide leaves open whether a refused code ends the setup; where it did (the page
        shows no setup in progress), a person sets up again (TROUBLE-5), scans the new QR code
        and confirms with its code.
        """
        try:
            return self.target.confirm_enrolment(session, code())
        except Refused as refusal:
            if refusal.code != "no_setup_in_progress":
                raise
        self.trace.note("the refused code ended this setup: set up again, as a person would")
        self.scan(phone, self.target.start_authenticator_setup(session).qr_png)
        return self.target.confirm_enrolment(session, code())

    # -- checks -------------------------------------------------------------------------------

    def step(self, text: str) -> None:
        """A step as a person would describe it; shows in the report between exchanges."""
        self.trace.step(text)

    def check(self, ok: bool, message: str, *, expected: str = "", got: str = "") -> None:
        """Fail the scenario with `message` (what the target did wrong) unless `ok`.

        `expected` and `got`, when given, are shown apart in the reports (JUnit's failure body).
        """
        detail = {"expected": expected, "got": got} if expected or got else None
        self.trace.check(message, ok, detail)
        if not ok:
            raise NonConformance(message)

    @contextmanager
    def refused(self, code: str | tuple[str, ...], reason: str | tuple[str, ...] | None = None,
                why: str = "", *, essential: bool = False) -> Iterator[None]:
        """The block must be refused with this error code (and reason, if given).

        A tuple accepts any of its codes (or reasons), for rules the spec leaves open. The
        refusal is checked whatever its message; the reason only where the deployment declares
        it tells that reason apart, else that part is recorded as not verified. `essential`:
        telling the reason is the rule itself (SKEW-REASON), so not telling it fails.
        """
        codes = (code,) if isinstance(code, str) else code
        reasons = (reason,) if isinstance(reason, str) else reason
        what = f"refused with {' or '.join(codes)}"
        try:
            with self.expect(*codes):
                yield
        except Refused as refusal:
            got = f"{refusal.code}{f' ({refusal.reason})' if refusal.reason else ''}"
            if refusal.code == "unknown":  # a page whose words no mapping names: say them
                got += f" (the page said: {refusal.message!r})"
            self.check(refusal.code in codes, f"{why or 'expected'}: {what}, got {got}",
                       expected=what, got=f"refused with {got}")
            if reasons:
                self._reason(refusal, reasons, why or "the refusal", essential)
            return
        if reasons:
            what += f" ({' or '.join(reasons)})"
        self.check(False, f"{why or 'expected'}: {what}, but it was accepted", expected=what,
                   got="accepted")

    def refused_somehow(self, what: str, action: Callable[[], object], *codes: str) -> None:
        """A refusal of any kind (`codes` are the ones expected, so a throttle among them is not
        waited out): where the rule is the effect, checked afterwards, not the refusal's words."""
        try:
            with self.expect(*codes):
                action()
        except Refused as refusal:
            self.trace.check(f"{what}: refused ({refusal.code})", True)
            return
        self.check(False, f"{what}: should be refused, but it was accepted",
                   expected="refused", got="accepted")

    @contextmanager
    def expect(self, *codes: str) -> Iterator[None]:
        """Refusals with these codes are the answer the block is after: a throttle among them
        is passed to the scenario, not waited out (core/guard.py)."""
        outer, self.expecting = self.expecting, self.expecting | frozenset(codes)
        try:
            yield
        finally:
            self.expecting = outer

    def _reason(self, refusal: Refused, reasons: tuple[str, ...], why: str,
                essential: bool) -> None:
        """The reason part of a refusal: checked where the deployment tells it apart."""
        wanted = " or ".join(reasons)
        told = [r for r in reasons if self.policy.tells(r)]
        if told:
            self.check(refusal.reason in told, f"{why}: refused, but as "
                                               f"{refusal.reason or 'a refusal without reason'}"
                                               f", not {' or '.join(told)}")
        elif essential:
            self.check(False, f"{why}: refused, but the deployment does not tell {wanted} "
                              "apart (its [policy] reasons), which is what this rule asks")
        else:
            self.unverified(f"{why}: refused; that it was for {wanted}: not verified, the "
                            "deployment does not say why")

    @contextmanager
    def accepted(self, what: str) -> Iterator[None]:
        """The block must not be refused: here a refusal is the target breaking the rule."""
        try:
            yield
        except Refused as refusal:
            got = f"{refusal.code}{f' ({refusal.reason})' if refusal.reason else ''}"
            self.check(False, f"{what} should be accepted, got {got}: {refusal.message}",
                       expected=f"{what}: accepted", got=f"refused with {got}")

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
        enrolled = Enrolled(account, phone, [], session)
        step = self._unused_step(enrolled)  # read once: the code and its step must agree
        try:
            codes = self.target.confirm_enrolment(session, phone.code_at_step(step))
        except Refused as refusal:
            if refusal.code != "code_rejected" or refusal.reason not in ("already_used", None):
                raise
            self.trace.note("the confirming code was refused as (maybe) already used by this "
                            "account: the next time step's code, as a person would wait for it")
            enrolled.used_steps.add(step)
            step = self._unused_step(enrolled)
            try:
                codes = self.target.confirm_enrolment(session, phone.code_at_step(step))
            except Refused as again:
                if (again.code, again.reason) == ("code_rejected", "already_used"):
                    raise Inconclusive(
                        f"{account.email} already spent this and the next time step (a shared "
                        "owner or admin enrolled by earlier scenarios): run it again") from None
                raise
        enrolled.used_steps.add(step)
        if account.role in ("owner", "admin") and account.known is None:
            self.cleanup(lambda: self._two_factor_off(enrolled),
                         f"the {account.role}'s 2FA off again")
        when = "when enrolment was confirmed"
        if self.policy.backup_codes_issued == "on_request":
            self.step("Generate backup codes (this deployment hands them out on request)")
            codes = self.target.regenerate_backup_codes(session, account.password)
            when = "when asked for"
        self.check(bool(codes), f"no backup codes were handed out {when} (the deployment "
                                f"declares them issued {self.policy.backup_codes_issued})")
        enrolled.backup_codes = codes
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
        """A code the target has not seen for this user, spent by the caller.

        The current step's, else a later one inside the declared window; when the window has
        no unused step left, the next time step is waited for (the server's clock moved where
        the target lends it), as a person waits for the next code.
        """
        step = self._unused_step(enrolled)
        enrolled.used_steps.add(step)
        return self._code(enrolled, step)

    def valid_code(self, enrolled: Enrolled) -> str:
        """A code the target would accept now, not marked spent: for "refused while locked"."""
        return self._code(enrolled, self._unused_step(enrolled))

    def _code(self, enrolled: Enrolled, step: int) -> str:
        code = enrolled.phone.code_at_step(step)
        self.trace.secrets.add(code)  # scrubbed from reports even if never sent
        return code

    def _unused_step(self, enrolled: Enrolled) -> int:
        return self.unused_step(enrolled.used_steps)

    def unused_step_now(self, used: set[int]) -> int | None:
        """The first step from now, inside the declared window, later than every step in
        `used`; None when the window holds none."""
        now, last = self.server_step(), max(used, default=-1)
        return next((s for s in range(now, now + self.policy.window + 1) if s > last), None)

    def unused_step(self, used: set[int]) -> int:
        """As unused_step_now, waiting for the next time step when the window holds none."""
        for _ in range(2):
            found = self.unused_step_now(used)
            if found is not None:
                return found
            now = self.server_step()
            boundary = (now + 1) * params.PERIOD - self.target.server_time()
            self.wait(boundary + STEP_MARGIN, "the next time step: this one's code is spent")
        raise Inconclusive("no unused TOTP step inside the window even after waiting for the "
                           "next one: run it again")

    @property
    def skew_steps(self) -> int:
        """How many steps off a skewed phone is: outside the declared window, inside the skew
        horizon where the deployment looks for skew."""
        return min(self.policy.window + 2, max(self.policy.skew_horizon, self.policy.window + 1))

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
        known = self.sessions.get(session)
        if known is not None:  # a reused account: the next scenario's sign-in may need it
            known.devices[name] = device
        return device

    def holds_passkey(self, account: Account, name: str, device: PasskeyDevice) -> None:
        """`device` holds `account`'s passkey `name` (registered without add_passkey, or a
        clone whose sign count the deployment stored last): a reused account's next sign-in
        may have to answer with it."""
        known = self.known.get(account.email.casefold())
        if known is not None:
            known.devices[name] = device

    def passkey_second_step(self, account: Account, device: PasskeyDevice) -> str:
        """Sign in with the password, then the passkey; the full session."""
        pending = self.target.sign_in(account.email, account.password)
        self.check(pending.stage == "second_step",
                   f"after the password the second step must be asked, got {pending.stage}")
        options = self.passkeys.begin_passkey_sign_in(pending.session)
        done = self.passkeys.finish_passkey_sign_in(pending.session, device.get(options))
        self.check(done.stage == "signed_in", f"a valid passkey must sign in, got {done.stage}")
        return done.session


def staff_page(ctx: Context, session: str) -> dict[str, Any]:
    """Settings -> Staff as an owner or admin sees it, for checks that read every page; empty
    (and noted) where the deployment offers no staff page (feature admin_reset)."""
    if not ctx.offers("admin_reset"):
        ctx.unverified("Settings -> Staff: the deployment offers none, so it was not read")
        return {}
    return {"Settings -> Staff": ctx.target.staff(session)}
