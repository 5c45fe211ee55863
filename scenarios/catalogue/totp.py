"""TOTP codes: step and algorithm, the declared window, and replay (RFC 6238, RFC 4226)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import struct
from collections.abc import Callable
from typing import NoReturn
from urllib.parse import parse_qs, urlsplit

from clinic2fa.scenarios.contract import Inconclusive, NotApplicable, Refused
from clinic2fa.scenarios.core import params
from clinic2fa.scenarios.core.context import Context, Enrolled, NonConformance
from clinic2fa.scenarios.core.model import Level, Needs, scenario

NEAR = 30  # steps each way a code of other parameters must not match: wider than any search
OTHER_PARAMETERS = ("HMAC-SHA-256", "8 digits", "a 60-second step")  # each in place of SHA-1/6/30


# -- TOTP-STEP ----------------------------------------------------------------------------------


@scenario("TOTP-STEP-SHA1-6-30", verifies=["TOTP-STEP"], level=Level.MUST,
          quote="compute and verify TOTP codes with a 30-second time step counted from the Unix "
                "epoch, HMAC-SHA-1 and 6 digits")
def sha1_six_digits_thirty_seconds(ctx: Context) -> None:
    """Codes computed independently per RFC 6238 (SHA-1, 6 digits, 30 s) are accepted"""
    account = ctx.account("staff")
    session = ctx.signed_in(account)
    setup = ctx.target.start_authenticator_setup(session)
    key = _key(setup.uri)
    now = ctx.server_step()
    ctx.step(f"Confirm with HOTP(secret, floor(unix time / {params.PERIOD})), SHA-1, "
             f"{params.DIGITS} digits")
    with ctx.accepted("the RFC 6238 code for the current step at confirmation"):
        ctx.target.confirm_enrolment(session, _hotp(key, now))
    ctx.step("Sign in with the RFC 6238 code of a later step")
    later = ctx.unused_step({now})
    pending = ctx.target.sign_in(account.email, account.password)
    with ctx.accepted("the RFC 6238 code at sign-in"):
        done = ctx.target.enter_code(pending.session, _hotp(key, later))
    ctx.check(done.stage == "signed_in", f"the code should sign in, got {done.stage}")


@scenario("TOTP-STEP-OTHER-PARAMETERS-REFUSED", verifies=["TOTP-STEP"], level=Level.MUST,
          quote="HMAC-SHA-1 and 6 digits")
def other_parameters_refused(ctx: Context) -> None:
    """Codes computed with SHA-256, 8 digits or a 60-s step are refused"""
    account = ctx.account("staff")
    session = ctx.signed_in(account)
    key = _key(ctx.target.start_authenticator_setup(session).uri)
    for number, what in enumerate(OTHER_PARAMETERS):
        key = _refused_at_confirmation(ctx, session, key, what, ended=number > 0)
    ctx.check(not ctx.target.security(session).two_factor_enabled,
              "a code with other parameters turned 2FA on")


def _other_code(ctx: Context, key: bytes, what: str) -> str | None:
    """The code for now computed with `what` in place of SHA-1/6/30; None when it happens to
    be a valid SHA-1/6/30 code near now too."""
    now = ctx.server_step()
    code = {"HMAC-SHA-256": lambda: _hotp(key, now, digest=hashlib.sha256),
            "8 digits": lambda: _hotp(key, now, digits=8),
            "a 60-second step": lambda: _hotp(key, int(ctx.target.server_time() // 60)),
            }[what]()
    near = {_hotp(key, s) for s in range(now - NEAR, now + NEAR + 1)}
    return None if code in near else code


def _refused_at_confirmation(ctx: Context, session: str, key: bytes, what: str, *,
                             ended: bool) -> bytes:
    """Confirm with a code computed with `what`, which must be refused; the key of the setup
    it went to.

    The guide leaves open whether a refused code ends the setup (a deployment may also time it
    out): where an earlier one did (`ended`: a code went before), the page shows no setup in
    progress, and a person starts again (TROUBLE-5) and types the code there: the dropped setup
    is not this code's answer.
    """
    code = _other_code(ctx, key, what)
    if code is None:  # a one-in-a-million coincidence with a valid code: not a test
        ctx.trace.note(f"skipped {what}: its code is also a SHA-1/6/30 code near now")
        return key
    ctx.step(f"Confirm with a code computed with {what}")
    with ctx.refused("code_rejected", why=f"a code computed with {what}"):
        try:
            ctx.target.confirm_enrolment(session, code)
        except Refused as refusal:
            if not ended or refusal.code != "no_setup_in_progress":
                raise
            ctx.trace.note("the refused code ended this setup: set up again, as a person would")
            key = _key(ctx.target.start_authenticator_setup(session).uri)
            code = _other_code(ctx, key, what) or _coincidence(what)
            ctx.target.confirm_enrolment(session, code)
    return key


def _coincidence(what: str) -> NoReturn:
    raise Inconclusive(f"the new setup's code computed with {what} is also a SHA-1/6/30 code "
                       "near now (a one-in-a-million coincidence): not a test")


# -- TOTP-WINDOW --------------------------------------------------------------------------------


@scenario("TOTP-WINDOW-ADJACENT-STEPS", verifies=["TOTP-WINDOW"], level=Level.MUST,
          quote="accept a TOTP code only if it matches the current time step or a step within "
                "its declared window immediately before or after it")
def adjacent_steps_accepted(ctx: Context) -> None:
    """Codes at the declared window's edges work: before now at confirmation, after at sign-in"""
    account = ctx.account("staff")
    session = ctx.signed_in(account)
    setup = ctx.target.start_authenticator_setup(session)
    phone = ctx.phone()
    ctx.scan(phone, setup.qr_png)
    now = ctx.server_step()
    edge = ctx.policy.window
    ctx.step(f"Confirm with the code of {edge} step(s) before now, the declared window's edge "
             "(typed just as it changed)")
    try:
        codes = ctx.target.confirm_enrolment(session, phone.code_at_step(now - edge))
    except Refused as refusal:
        _inconclusive_if_moved(ctx, now)
        ctx.check(False, f"the previous step's code should be accepted, got {refusal}")
    enrolled = Enrolled(account, phone, codes, session, {now - edge})
    if edge == 0:
        ctx.step("The declared window is the current step alone: sign in with a fresh code")
        with ctx.accepted("a fresh code at sign-in"):
            ctx.second_step(enrolled)
        return
    ctx.step(f"Sign in with the code of {edge} step(s) after now (phone a little fast)")
    pending = ctx.target.sign_in(account.email, account.password)
    enrolled.used_steps.add(now + edge)
    with ctx.accepted("the code of the window's far edge at sign-in"):
        done = ctx.target.enter_code(pending.session, phone.code_at_step(now + edge))
    ctx.check(done.stage == "signed_in", f"the code should sign in, got {done.stage}")


@scenario("TOTP-WINDOW-TWO-STEPS-OUT", verifies=["TOTP-WINDOW"], level=Level.MUST,
          quote="reject codes from any other step")
def two_steps_out_refused(ctx: Context) -> None:
    """Codes just outside the declared window are refused, at sign-in and at confirmation"""
    enrolled = ctx.enrol(ctx.account("staff"))
    pending = ctx.target.sign_in(enrolled.account.email, enrolled.account.password)
    now = ctx.server_step()
    outside = ctx.policy.window + 1
    for steps in (outside, -outside):
        ctx.step(f"Sign in with the code of {steps:+d} steps ({steps * params.PERIOD:+d} s)")
        _code_refused(ctx, now, None, f"a code {steps:+d} steps away at sign-in",
                      lambda s=steps: ctx.target.enter_code(
                          pending.session, enrolled.phone.code_at_step(now + s)))
    account = ctx.account("staff")
    session = ctx.signed_in(account)
    phone = ctx.phone()
    ctx.scan(phone, ctx.target.start_authenticator_setup(session).qr_png)
    now = ctx.server_step()
    for number, steps in enumerate((outside, -outside)):
        ctx.step(f"Confirm with the code of {steps:+d} steps")
        code = lambda s=steps: phone.code_at_step(now + s)  # noqa: E731 - of the newest setup
        # a refused code may have ended the setup (FST): then set up again (confirm_again)
        confirm = (lambda c=code: ctx.confirm_again(session, phone, c)) if number else \
            (lambda c=code: ctx.target.confirm_enrolment(session, c()))
        _code_refused(ctx, now, None, f"a code {steps:+d} steps away at confirmation", confirm)


# -- SKEW-REASON's horizon: where the deployment looks for skew ----------------------------------


@scenario("SKEW-REASON-HORIZON", verifies=["SKEW-REASON"], level=Level.SHOULD,
          quote="a time step just outside the accepted window (within the deployment's declared "
                "skew horizon)")
def skew_named_to_the_declared_horizon(ctx: Context) -> None:
    """A code at the declared skew horizon is named as skew, each way; one a step beyond it is
    an ordinary wrong code (the horizon is as declared, not wider or narrower)"""
    horizon, window = ctx.policy.skew_horizon, ctx.policy.window
    if horizon <= window or not ctx.policy.tells("time_skew"):
        raise NotApplicable(f"the deployment names no clock skew outside its window "
                            f"(skew_horizon {horizon}, window {window}, time_skew "
                            f"{'told' if ctx.policy.tells('time_skew') else 'not told'} apart)",
                            binds=False)
    enrolled = ctx.enrol(ctx.account("staff"))
    pending = ctx.target.sign_in(enrolled.account.email, enrolled.account.password)
    checks = [(horizon, "time_skew"), (-horizon, "time_skew"), (horizon + 1, "wrong_code")]
    if Needs.CLOCK not in ctx.capabilities:  # the edge again from the next step needs it
        ctx.trace.note("the +horizon edge from one step only: the clock cannot be moved here")
    else:  # odd and even steps: a search range's end may depend on the step's parity
        checks.append((horizon, "time_skew"))
    for number, (steps, reason) in enumerate(checks):
        if number == 3:
            ctx.step("One time step later")
            ctx.advance_clock(params.PERIOD)
        now = ctx.server_step()
        ctx.step(f"Sign in with the code of {steps:+d} steps: refused as {reason}")
        _code_refused(ctx, now, reason, f"a code {steps:+d} steps away (skew_horizon {horizon})",
                      lambda s=steps, n=now: ctx.target.enter_code(
                          pending.session, enrolled.phone.code_at_step(n + s)))


# -- TOTP-REPLAY --------------------------------------------------------------------------------


@scenario("TOTP-REPLAY-CONFIRMING-CODE", verifies=["TOTP-REPLAY"], level=Level.MUST,
          quote="The verifier MUST NOT accept the second attempt of the OTP after the successful "
                "validation has been issued for the first OTP")
def confirming_code_not_reusable(ctx: Context) -> None:
    """The code that confirmed enrolment is refused at the next sign-in"""
    enrolled = ctx.enrol(ctx.account("staff"))
    step = max(enrolled.used_steps)
    ctx.step("Sign in at once with the code that just confirmed enrolment")
    pending = ctx.target.sign_in(enrolled.account.email, enrolled.account.password)
    _code_refused(ctx, step, "already_used", "the confirming code used again",
                  lambda: ctx.target.enter_code(pending.session,
                                                enrolled.phone.code_at_step(step)))


@scenario("TOTP-REPLAY-EARLIER-STEP", verifies=["TOTP-REPLAY"], level=Level.MUST,
          quote="refuse a TOTP code whose time step is the same as, or earlier than, the last "
                "step it accepted for that user")
def same_or_earlier_step_refused(ctx: Context) -> None:
    """After a later step's code is accepted, it and an unused earlier code are refused"""
    enrolled = ctx.enrol(ctx.account("staff"))
    ctx.step("Sign in with a later step's code")
    accepted = ctx.unused_step(enrolled.used_steps)
    enrolled.used_steps.add(accepted)
    pending = ctx.target.sign_in(enrolled.account.email, enrolled.account.password)
    with ctx.accepted("a later step's code"):
        ctx.target.enter_code(pending.session, enrolled.phone.code_at_step(accepted))
    now = ctx.server_step()
    unused = [s for s in range(now - ctx.policy.window, accepted)
              if s not in enrolled.used_steps]
    tries = [(accepted, "the same code again")]
    if unused:
        tries.append((unused[-1], "an earlier, never used code inside the window"))
    else:
        ctx.unverified("an earlier, never used code inside the window: the declared window "
                       f"({ctx.policy.window} steps each way) holds none")
    for step, what in tries:
        ctx.step(f"Sign in again with {what}")
        pending = ctx.target.sign_in(enrolled.account.email, enrolled.account.password)
        _code_refused(ctx, now, "already_used", what,
                      lambda s=step, p=pending.session: ctx.target.enter_code(
                          p, enrolled.phone.code_at_step(s)))


@scenario("TOTP-REPLAY-TWO-SIGN-INS", verifies=["TOTP-REPLAY"], level=Level.MUST,
          quote="on every path where codes are accepted")
def one_code_two_sign_ins(ctx: Context) -> None:
    """One code typed into two pending sign-ins signs in only the first"""
    enrolled = ctx.enrol(ctx.account("staff"))
    first = ctx.target.sign_in(enrolled.account.email, enrolled.account.password)
    second = ctx.target.sign_in(enrolled.account.email, enrolled.account.password)
    code = ctx.fresh_code(enrolled)
    ctx.step("Enter the code in the first sign-in")
    with ctx.accepted("a fresh code in the first sign-in"):
        ctx.target.enter_code(first.session, code)
    ctx.step("Enter the same code in the second sign-in")
    with ctx.refused("code_rejected", "already_used", why="the same code in a second sign-in"):
        ctx.target.enter_code(second.session, code)


@scenario("TOTP-REPLAY-PER-USER", verifies=["TOTP-REPLAY"], level=Level.MUST,
          quote="the last step it accepted for that user")
def replay_is_per_user(ctx: Context) -> None:
    """Two users sign in with codes of the same time step: one user's code uses up no other's"""
    first, second = ctx.enrol(ctx.account("staff")), ctx.enrol(ctx.account("staff"))
    step = _unused_by_both(ctx, first, second)
    for label, enrolled in (("The first user", first), ("The second user", second)):
        ctx.step(f"{label} signs in with the code of step {step}")
        code = enrolled.phone.code_at_step(step)
        ctx.trace.secrets.add(code)
        pending = ctx.target.sign_in(enrolled.account.email, enrolled.account.password)
        with ctx.accepted(f"{label.lower()}'s code of a step the other user may have used"):
            done = ctx.target.enter_code(pending.session, code)
        ctx.check(done.stage == "signed_in", f"{label.lower()}'s code gave stage {done.stage}")


def _unused_by_both(ctx: Context, *people: Enrolled) -> int:
    """A time step inside the window that none of `people` has spent, marked spent for all."""
    now = ctx.server_step()
    for step in range(now, now + ctx.policy.window + 1):  # within the declared window
        if all(step > max(p.used_steps, default=-1) for p in people):
            for person in people:
                person.used_steps.add(step)
            return step
    if Needs.CLOCK in ctx.capabilities:
        ctx.advance_clock(params.PERIOD)
        return _unused_by_both(ctx, *people)
    raise Inconclusive("no time step inside the window is unused by both users")


# -- helpers ------------------------------------------------------------------------------------


def _key(uri: str) -> bytes:
    """The raw secret from a Key URI, read here and not by the virtual phone."""
    secret = parse_qs(urlsplit(uri).query).get("secret", [""])[0].upper().rstrip("=")
    return base64.b32decode(secret + "=" * (-len(secret) % 8))


def _hotp(key: bytes, counter: int, digits: int = params.DIGITS,
          digest: Callable[..., object] = hashlib.sha1) -> str:
    """RFC 4226 HOTP (and RFC 6238 TOTP with counter = the time step), written out here."""
    mac = hmac.new(key, struct.pack(">Q", counter), digest).digest()  # type: ignore[arg-type]
    offset = mac[-1] & 0x0F
    value = struct.unpack(">I", mac[offset:offset + 4])[0] & 0x7FFFFFFF
    return f"{value % 10**digits:0{digits}d}"


def _inconclusive_if_moved(ctx: Context, step: int) -> None:
    """A step boundary passed during the exchange: the code's place in the window changed."""
    if ctx.server_step() != step:
        raise Inconclusive("the server's time step changed during the check; run it again")


def _code_refused(ctx: Context, step: int, reason: str | None, what: str,
                  action: Callable[[], object]) -> None:
    """`action` is refused as code_rejected (with `reason`), unless the step moved meanwhile."""
    try:
        with ctx.refused("code_rejected", reason, why=what):
            action()
    except NonConformance:
        _inconclusive_if_moved(ctx, step)
        raise
