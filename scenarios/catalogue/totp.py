"""TOTP codes: step and algorithm, window, replay, rate limit and skew (RFC 6238, RFC 4226)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import struct
from collections.abc import Callable
from urllib.parse import parse_qs, urlsplit

from clinic2fa.scenarios.contract import Inconclusive, Refused
from clinic2fa.scenarios.core import params
from clinic2fa.scenarios.core.context import Context, Enrolled
from clinic2fa.scenarios.core.model import Level, Needs, scenario

NEAR = 30  # steps each way a code of other parameters must not match: wider than any search
SKEW_STEPS = 3  # a skewed code's distance in steps: outside the window, inside the skew search
BACKUP_MISSES = 2  # wrong backup codes among the failures that lock (TOTP-RATE-LIMIT)


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
    ctx.step("Sign in with the RFC 6238 code of the next step")
    pending = ctx.target.sign_in(account.email, account.password)
    with ctx.accepted("the RFC 6238 code at sign-in"):
        done = ctx.target.enter_code(pending.session, _hotp(key, now + 1))
    ctx.check(done.stage == "signed_in", f"the code should sign in, got {done.stage}")


@scenario("TOTP-STEP-OTHER-PARAMETERS-REFUSED", verifies=["TOTP-STEP"], level=Level.MUST,
          quote="HMAC-SHA-1 and 6 digits")
def other_parameters_refused(ctx: Context) -> None:
    """Codes computed with SHA-256, 8 digits or a 60-s step are refused"""
    account = ctx.account("staff")
    session = ctx.signed_in(account)
    setup = ctx.target.start_authenticator_setup(session)
    key = _key(setup.uri)
    now = ctx.server_step()
    near = {_hotp(key, s) for s in range(now - NEAR, now + NEAR + 1)}
    others = {
        "HMAC-SHA-256": _hotp(key, now, digest=hashlib.sha256),
        "8 digits": _hotp(key, now, digits=8),
        "a 60-second step": _hotp(key, int(ctx.target.server_time() // 60)),
    }
    for what, code in others.items():
        if code in near:  # a one-in-a-million coincidence with a valid code: not a test
            ctx.trace.note(f"skipped {what}: its code is also a SHA-1/6/30 code near now")
            continue
        ctx.step(f"Confirm with a code computed with {what}")
        with ctx.refused("code_rejected", why=f"a code computed with {what}"):
            ctx.target.confirm_enrolment(session, code)
    ctx.check(not ctx.target.security(session).two_factor_enabled,
              "a code with other parameters turned 2FA on")


# -- TOTP-WINDOW --------------------------------------------------------------------------------


@scenario("TOTP-WINDOW-ADJACENT-STEPS", verifies=["TOTP-WINDOW"], level=Level.MUST,
          quote="accept a TOTP code only if it matches the current time step or the one step "
                "immediately before or after it")
def adjacent_steps_accepted(ctx: Context) -> None:
    """The code of the step just before (at confirmation) and just after (at sign-in) work"""
    account = ctx.account("staff")
    session = ctx.signed_in(account)
    setup = ctx.target.start_authenticator_setup(session)
    phone = ctx.phone()
    ctx.scan(phone, setup.qr_png)
    now = ctx.server_step()
    edge = params.WINDOW
    ctx.step("Confirm with the code of the previous step (typed just as it changed)")
    try:
        codes = ctx.target.confirm_enrolment(session, phone.code_at_step(now - edge))
    except Refused as refusal:
        _inconclusive_if_moved(ctx, now)
        ctx.check(False, f"the previous step's code should be accepted, got {refusal}")
    enrolled = Enrolled(account, phone, codes, session, {now - edge})
    ctx.step("Sign in with the code of the next step (phone a little fast)")
    pending = ctx.target.sign_in(account.email, account.password)
    enrolled.used_steps.add(now + edge)
    with ctx.accepted("the next step's code at sign-in"):
        done = ctx.target.enter_code(pending.session, phone.code_at_step(now + edge))
    ctx.check(done.stage == "signed_in", f"the code should sign in, got {done.stage}")


@scenario("TOTP-WINDOW-TWO-STEPS-OUT", verifies=["TOTP-WINDOW"], level=Level.MUST,
          quote="reject codes from any other step")
def two_steps_out_refused(ctx: Context) -> None:
    """Codes two steps before or after now are refused, at sign-in and at confirmation"""
    enrolled = ctx.enrol(ctx.account("staff"))
    pending = ctx.target.sign_in(enrolled.account.email, enrolled.account.password)
    now = ctx.server_step()
    outside = params.WINDOW + 1
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
    for steps in (outside, -outside):
        ctx.step(f"Confirm with the code of {steps:+d} steps")
        _code_refused(ctx, now, None, f"a code {steps:+d} steps away at confirmation",
                      lambda s=steps: ctx.target.confirm_enrolment(
                          session, phone.code_at_step(now + s)))


# -- TOTP-REPLAY --------------------------------------------------------------------------------


@scenario("TOTP-REPLAY-CONFIRMING-CODE", verifies=["TOTP-REPLAY"], level=Level.MUST,
          quote="The verifier MUST NOT accept the second attempt of the OTP after the successful "
                "validation has been issued for the first OTP")
def confirming_code_not_reusable(ctx: Context) -> None:
    """The code that confirmed enrolment is refused at the next sign-in"""
    enrolled = ctx.enrol(ctx.account("staff"))
    (step,) = enrolled.used_steps
    ctx.step("Sign in at once with the code that just confirmed enrolment")
    pending = ctx.target.sign_in(enrolled.account.email, enrolled.account.password)
    _code_refused(ctx, step, "already_used", "the confirming code used again",
                  lambda: ctx.target.enter_code(pending.session,
                                                enrolled.phone.code_at_step(step)))


@scenario("TOTP-REPLAY-EARLIER-STEP", verifies=["TOTP-REPLAY"], level=Level.MUST,
          quote="refuse a TOTP code whose time step is the same as, or earlier than, the last "
                "step it accepted for that user")
def same_or_earlier_step_refused(ctx: Context) -> None:
    """After the next step's code is accepted, it and an unused earlier code are refused"""
    enrolled = ctx.enrol(ctx.account("staff"))
    (now,) = enrolled.used_steps
    ctx.step("Sign in with the next step's code")
    enrolled.used_steps.add(now + 1)
    pending = ctx.target.sign_in(enrolled.account.email, enrolled.account.password)
    with ctx.accepted("the next step's code"):
        ctx.target.enter_code(pending.session, enrolled.phone.code_at_step(now + 1))
    for step, what in ((now + 1, "the same code again"),
                       (now - 1, "an earlier, never used code inside the window")):
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


# -- TOTP-RATE-LIMIT ----------------------------------------------------------------------------


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
    for step in (now, now + 1):
        if all(step > max(p.used_steps, default=-1) for p in people):
            for person in people:
                person.used_steps.add(step)
            return step
    if Needs.CLOCK in ctx.capabilities:
        ctx.advance_clock(params.PERIOD)
        return _unused_by_both(ctx, *people)
    raise Inconclusive("no time step inside the window is unused by both users")


@scenario("TOTP-RATE-LIMIT-FIVE-WRONG", verifies=["TOTP-RATE-LIMIT"], level=Level.MUST,
          quote="After 5 consecutive wrong second-factor codes for a user, the deployment MUST "
                "refuse every further code for that user, right or wrong")
def five_wrong_codes_lock(ctx: Context) -> None:
    """Five wrong codes lock the second step: the right code and a backup code are refused"""
    enrolled = ctx.enrol(ctx.account("staff"))
    pending = ctx.target.sign_in(enrolled.account.email, enrolled.account.password)
    wrong = ctx.wrong_code(enrolled.phone)
    for attempt in range(1, params.MAX_FAILURES + 1):
        ctx.step(f"Wrong code #{attempt}")
        with ctx.refused("code_rejected", "wrong_code", why=f"wrong code #{attempt}"):
            ctx.target.enter_code(pending.session, wrong)
    ctx.step(f"The right code, attempt #{params.MAX_FAILURES + 1}")
    with ctx.refused("locked_out", why=f"the right code after {params.MAX_FAILURES} wrong ones"):
        ctx.target.enter_code(pending.session, _right_code(enrolled))
    with ctx.refused("locked_out", why=f"a backup code after {params.MAX_FAILURES} wrong codes"):
        ctx.target.use_backup_code(pending.session, enrolled.backup_codes[0])
    ctx.step("A new sign-in does not lift the lock")
    _locked_in_new_sign_in(ctx, enrolled)


@scenario("TOTP-RATE-LIMIT-PER-USER", verifies=["TOTP-RATE-LIMIT"], level=Level.MUST,
          quote="counting failures per user across all of that user's pending sign-ins rather "
                "than per pending sign-in")
def failures_counted_per_user(ctx: Context) -> None:
    """Three wrong codes in one sign-in and two in another lock the user, and only that user"""
    enrolled = ctx.enrol(ctx.account("staff"))
    other = ctx.enrol(ctx.account("staff"))
    ctx.step(f"Another user first types {params.MAX_FAILURES - 1} wrong codes: not theirs to add")
    theirs = ctx.target.sign_in(other.account.email, other.account.password)
    for _ in range(params.MAX_FAILURES - 1):
        with ctx.refused("code_rejected", why="the other user's wrong code"):
            ctx.target.enter_code(theirs.session, ctx.wrong_code(other.phone))
    wrong = ctx.wrong_code(enrolled.phone)
    first = (params.MAX_FAILURES + 1) // 2  # the failures split over two sign-ins
    for count, label in ((first, "first"), (params.MAX_FAILURES - first, "second")):
        ctx.step(f"{count} wrong codes in a {label} pending sign-in")
        pending = ctx.target.sign_in(enrolled.account.email, enrolled.account.password)
        for _ in range(count):
            with ctx.refused("code_rejected", why=f"a wrong code in the {label} sign-in"):
                ctx.target.enter_code(pending.session, wrong)
    ctx.step("A third sign-in with the right code")
    _locked_in_new_sign_in(ctx, enrolled)
    ctx.step("Another user is not locked, their own wrong codes counted apart")
    with ctx.accepted("another user's right code"):
        ctx.target.enter_code(theirs.session, ctx.fresh_code(other))


@scenario("TOTP-RATE-LIMIT-BACKUP-CODES", verifies=["TOTP-RATE-LIMIT"], level=Level.MUST,
          quote="After 5 consecutive wrong second-factor codes for a user")
def wrong_backup_codes_count(ctx: Context) -> None:
    """Wrong backup codes count with wrong 6-digit codes towards the same lock"""
    enrolled = ctx.enrol(ctx.account("staff"))
    pending = ctx.target.sign_in(enrolled.account.email, enrolled.account.password)
    wrong = ctx.wrong_code(enrolled.phone)
    codes = params.MAX_FAILURES - BACKUP_MISSES
    ctx.step(f"{codes} wrong 6-digit codes, then {BACKUP_MISSES} wrong backup codes")
    for _ in range(codes):
        with ctx.refused("code_rejected", why="a wrong 6-digit code"):
            ctx.target.enter_code(pending.session, wrong)
    for code in _wrong_backup_codes(enrolled.backup_codes, BACKUP_MISSES):
        with ctx.refused("code_rejected", why="a wrong backup code"):
            ctx.target.use_backup_code(pending.session, code)
    ctx.step(f"A valid backup code, attempt #{params.MAX_FAILURES + 1}")
    with ctx.refused("locked_out",
                     why=f"a valid backup code after {params.MAX_FAILURES} wrong codes"):
        ctx.target.use_backup_code(pending.session, enrolled.backup_codes[0])


@scenario("TOTP-RATE-LIMIT-LOCKOUT-ENDS", verifies=["TOTP-RATE-LIMIT"], level=Level.MUST,
          quote="until a lock-out period has passed", needs=(Needs.CLOCK,))
def lockout_ends(ctx: Context) -> None:
    """After the lock-out period (15 minutes on the reference) the right code works again"""
    enrolled = ctx.enrol(ctx.account("staff"))
    pending = ctx.target.sign_in(enrolled.account.email, enrolled.account.password)
    wrong = ctx.wrong_code(enrolled.phone)
    for _ in range(params.MAX_FAILURES):
        with ctx.refused("code_rejected", why="a wrong code"):
            ctx.target.enter_code(pending.session, wrong)
    with ctx.refused("locked_out", why="the right code while locked"):
        ctx.target.enter_code(pending.session, _right_code(enrolled))
    ctx.step(f"Wait out the lock-out period (the server's clock moves "
             f"{params.LOCKOUT_SECONDS / 60:g} min)")
    ctx.advance_clock(params.LOCKOUT_SECONDS + 1)
    with ctx.accepted("the right code after the lock-out period"):
        ctx.second_step(enrolled)


@scenario("SKEW-REASON-COUNTS-AS-FAILURE", verifies=["SKEW-REASON"], level=Level.SHOULD,
          quote="while still rejecting the code and counting it as a failure")
def skewed_codes_count(ctx: Context) -> None:
    """Five codes rejected as time skew lock the second step like wrong codes"""
    enrolled = ctx.enrol(ctx.account("staff"))
    pending = ctx.target.sign_in(enrolled.account.email, enrolled.account.password)
    now = ctx.server_step()
    for attempt in range(1, params.MAX_FAILURES + 1):
        ctx.step(f"Code from a phone {SKEW_STEPS * params.PERIOD} s fast, attempt {attempt}")
        with ctx.refused("code_rejected", "time_skew", why=f"skewed code #{attempt}"):
            ctx.target.enter_code(pending.session,
                                  enrolled.phone.code_at_step(now + SKEW_STEPS))
    with ctx.refused("locked_out",
                     why=f"the right code after {params.MAX_FAILURES} skewed ones"):
        ctx.target.enter_code(pending.session, _right_code(enrolled))


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
        action()
    except Refused as refusal:
        right = refusal.code == "code_rejected" and reason in (None, refusal.reason)
        if not right:
            _inconclusive_if_moved(ctx, step)
        got = f"{refusal.code}{f' ({refusal.reason})' if refusal.reason else ''}"
        ctx.check(right, f"{what}: expected code_rejected{f' ({reason})' if reason else ''}, "
                         f"got {got}")
        return
    _inconclusive_if_moved(ctx, step)
    ctx.check(False, f"{what}: expected code_rejected, but it was accepted")


def _right_code(enrolled: Enrolled) -> str:
    """The next step's code: valid, and never accepted (so reusable) while the user is locked."""
    return enrolled.phone.code_at_step(max(enrolled.used_steps) + 1)


def _locked_in_new_sign_in(ctx: Context, enrolled: Enrolled) -> None:
    """A new sign-in of a locked user: refused at the password or at the right code."""
    with ctx.refused("locked_out", why="the right code in a new sign-in of a locked user"):
        pending = ctx.target.sign_in(enrolled.account.email, enrolled.account.password)
        ctx.target.enter_code(pending.session, _right_code(enrolled))


def _wrong_backup_codes(codes: list[str], count: int) -> list[str]:
    """Codes shaped like the real ones (same characters, reversed) that are none of them."""
    real = {"".join(c.split()).replace("-", "").lower() for c in codes}
    wrong = [c[::-1] for c in codes if "".join(c[::-1].split()).replace("-", "").lower()
             not in real]
    return wrong[:count]
