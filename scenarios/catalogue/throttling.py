"""Guessing: wrong passwords throttled, a cap on failures in a row, unknown emails told nothing."""

from __future__ import annotations

import secrets
import statistics
from collections.abc import Callable

from clinic2fa.scenarios.contract import THROTTLED as LOCKED_OUT
from clinic2fa.scenarios.contract import Account, Inconclusive, NotApplicable, Refused
from clinic2fa.scenarios.core import params, realtime
from clinic2fa.scenarios.core.context import Context, Enrolled
from clinic2fa.scenarios.core.model import Level, Needs, scenario

THROTTLED = (LOCKED_OUT,)  # the contract's code for "not now", whatever the page says
DAY = 24 * 60 * 60.0


def _throttled_within(ctx: Context, what: str, attempt: Callable[[], object],
                      wrong_code: str) -> int:
    """Wrong passwords until one is throttled, at most the cap of them; the attempt it came at.

    A lock-out or a back-off both count, whatever their message: what counts is that a guess
    is turned away unchecked (THROTTLED) before the cap's worth were checked.
    """
    number = _first_throttled(ctx, what, attempt, wrong_code, params.FAILURE_CAP_MAX)
    ctx.check(number is not None, f"{what}: {params.FAILURE_CAP_MAX} wrong passwords in a row "
                                  "were all checked, none throttled (NIST SP 800-63B s5.2.2 "
                                  "allows at most 100)")
    return number or 0


def _first_throttled(ctx: Context, what: str, attempt: Callable[[], object], wrong_code: str,
                     most: int) -> int | None:
    """The number of the first of `most` wrong passwords to be throttled; None if none was."""
    for number in range(1, most + 1):
        try:
            attempt()
        except Refused as refusal:
            if refusal.code in THROTTLED:
                ctx.trace.note(f"{what}: throttled at wrong password #{number}")
                return number
            ctx.check(refusal.code == wrong_code,
                      f"{what}: wrong password #{number} refused with {refusal.code}, "
                      f"not {wrong_code} or a throttle")
            continue
        ctx.check(False, f"{what}: a wrong password was accepted")
    return None


def _right_ones_not_counted(ctx: Context, account: Account) -> None:
    """The throttle is for wrong passwords: more right ones than the spec's own number of
    wrong ones (PASSWORD_MAX_FAILURES) sign in every time. A throttle among them is waited
    out (a day: a pace on every sign-in would be over by then); one that outlasts the day
    refuses the right password of an account that made no mistake, for good."""
    count = params.PASSWORD_MAX_FAILURES + 1
    ctx.step(f"Sign in with the right password {count} times in a row: none is throttled")
    for number in range(1, count + 1):
        try:
            ctx.target.sign_out(ctx.target.sign_in(account.email, account.password).session)
        except Refused as refusal:
            ctx.check(refusal.code in THROTTLED, f"right password #{number} refused with "
                                                 f"{refusal.code}")
            ctx.trace.note(f"right password #{number} throttled: waiting a day")
            ctx.wait(DAY, "a throttle of right passwords")
            with ctx.accepted(f"right password #{number}, a day after it was throttled with "
                              "no wrong password before it"):
                ctx.target.sign_in(account.email, account.password)


def _right_one_refused_too(ctx: Context, what: str, attempt: Callable[[], object]) -> None:
    with ctx.refused(THROTTLED, why=f"{what}: the right password while throttled"):
        attempt()


@scenario("PASSWORD-RATE-LIMIT-SIGN-IN", verifies=["PASSWORD-RATE-LIMIT"], level=Level.MUST,
          quote="so that well within 100 consecutive wrong passwords further attempts are "
                "refused for a while, the right password included")
def sign_in_throttled(ctx: Context) -> None:
    """Wrong passwords at sign-in throttled within 100, then the right one too; right ones never"""
    # the throttle is what these checks are after: never waited out (core/guard.py)
    with ctx.expect(LOCKED_OUT):
        _sign_in_throttled(ctx)


def _sign_in_throttled(ctx: Context) -> None:
    account = ctx.account("staff")
    _right_ones_not_counted(ctx, account)
    ctx.step("Sign in with wrong passwords until the deployment throttles them")
    _throttled_within(ctx, "sign-in", lambda: ctx.target.sign_in(account.email, _wrong(account)),
                      "invalid_credentials")
    ctx.step("The right password, at once")
    _right_one_refused_too(ctx, "sign-in",
                           lambda: ctx.target.sign_in(account.email, account.password))


@scenario("PASSWORD-RATE-LIMIT-REENTRY", verifies=["PASSWORD-RATE-LIMIT"], level=Level.MUST,
          quote="on every path that takes a password (sign-in, and each re-entry such as "
                "regenerating backup codes or disabling 2FA), counted per account across "
                "sessions")
def reentry_throttled(ctx: Context) -> None:
    """Re-entering the password to regenerate backup codes is throttled like sign-in"""
    # the throttle is what these checks are after: never waited out (core/guard.py)
    with ctx.expect(LOCKED_OUT):
        _reentry_throttled(ctx)


def _reentry_throttled(ctx: Context) -> None:
    enrolled = ctx.enrol(ctx.account("staff"))
    account = enrolled.account
    # A session that re-entered its password moments ago (setup asks for it on some
    # deployments) may not ask again for a while: whether it must is BACKUP-REGENERATE's rule.
    # This one is about the re-entries that are asked, so they are made in a new sign-in.
    ctx.step("Sign in again: a session whose password re-entry is still to come")
    pending = ctx.target.sign_in(account.email, account.password)
    session = ctx.target.enter_code(pending.session, ctx.fresh_code(enrolled)).session
    ctx.step("Regenerate backup codes with wrong passwords until they are throttled")
    _throttled_within(ctx, "backup-code regeneration",
                      lambda: ctx.target.regenerate_backup_codes(session, _wrong(account)),
                      "password_required")
    ctx.step("The right password, at once, to regenerate and in a new sign-in")
    _right_one_refused_too(ctx, "backup-code regeneration",
                           lambda: ctx.target.regenerate_backup_codes(session, account.password))
    _right_one_refused_too(ctx, "sign-in after the re-entries",
                           lambda: ctx.target.sign_in(account.email, account.password))


@scenario("RATE-LIMIT-CAP-SECOND-STEP", verifies=["RATE-LIMIT-CAP"], level=Level.MUST,
          quote="however far apart in time, the deployment MUST refuse that factor for the "
                "account, right or wrong, until the owner or an admin acts or a recovery process "
                "restores it; waiting alone MUST NOT lift it")
def second_step_capped(ctx: Context) -> None:
    """100 wrong codes, lock-outs waited out between them, block the second step for good.

    The clock is asked for only when it is needed (a lock-out to wait out, the day after the
    cap): a deployment that takes 100 wrong codes in a row unthrottled and then the right one
    at once is seen breaking the rule on any target."""
    def wait(seconds: float) -> None:
        if Needs.CLOCK not in ctx.capabilities:  # asked only now: a lock-out to wait out
            raise NotApplicable(f"after a lock-out, counting on needs {seconds:g} s to pass on "
                                "a clock the harness cannot move")
        ctx.advance_clock(seconds)

    # the throttle is what these checks are after: never waited out (core/guard.py)
    with ctx.expect(LOCKED_OUT):
        _second_step_capped(ctx, wait)


def _second_step_capped(ctx: Context, wait: Callable[[float], None]) -> None:
    enrolled = ctx.enrol(ctx.account("staff"))
    wrong = ctx.wrong_code(enrolled.phone)
    ctx.step(f"Wrong codes, waiting out each lock-out, up to {params.FAILURE_CAP_MAX} in a row")
    failed, pending = 0, None
    while failed < params.FAILURE_CAP_MAX:
        if pending is None:
            pending = _pending_after_waiting(ctx, enrolled, wait)
            if pending is None:
                ctx.trace.note(f"blocked after {failed} wrong codes: waiting a day lifted "
                               "nothing")
                break
            failed += 1  # the wrong code that showed the lock was off was counted
            continue
        try:
            ctx.target.enter_code(pending, wrong)
        except Refused as refusal:
            if refusal.code == "code_rejected":
                failed += 1
                continue
            if refusal.code in THROTTLED or refusal.code in ("sign_in_expired",
                                                             "not_signed_in"):
                pending = None  # wait it out (a lock-out ends; a block does not)
                continue
            ctx.check(False, f"wrong code #{failed + 1} refused with {refusal.code}")
        else:
            ctx.check(False, "a wrong code signed in")
    ctx.trace.note(f"{failed} wrong codes were checked in a row")
    ctx.step("At once, sign in with the right code")
    with ctx.refused(("locked_out", "sign_in_expired", "not_signed_in", "code_rejected"),
                     why=f"the right code at once after {failed} wrong ones in a row"):
        again = ctx.target.sign_in(enrolled.account.email, enrolled.account.password)
        ctx.target.enter_code(again.session, ctx.valid_code(enrolled))
    ctx.step("Wait a day beyond any lock-out, then sign in with the right code")
    wait(DAY + params.LOCKOUT_SECONDS)
    with ctx.refused(("locked_out", "sign_in_expired", "not_signed_in", "code_rejected"),
                     why=f"the right code a day after {failed} wrong ones in a row"):
        again = ctx.target.sign_in(enrolled.account.email, enrolled.account.password)
        ctx.target.enter_code(again.session, ctx.fresh_code(enrolled))


def _pending_after_waiting(ctx: Context, enrolled: Enrolled,
                           wait: Callable[[float], None]) -> str | None:
    """A new pending sign-in once the lock-out is over, waiting longer each time it is not;
    None when even a day of waiting leaves the second step locked (a block)."""
    waited = 0.0
    for seconds in (0.0, params.LOCKOUT_SECONDS + 1.0, 3600.0, DAY):
        if seconds:
            wait(seconds)
            waited += seconds
        try:  # a wrong code tells whether the lock is still on; a right one would reset it
            pending = ctx.target.sign_in(enrolled.account.email, enrolled.account.password)
            ctx.target.enter_code(pending.session, ctx.wrong_code(enrolled.phone))
        except Refused as refusal:
            if refusal.code == "code_rejected":
                return pending.session  # the count goes on from here (this one was counted)
            if refusal.code not in THROTTLED:
                raise
        else:
            ctx.check(False, "a wrong code signed in")
        if waited >= DAY:
            return None
    return None


# -- SIGNIN-NO-ENUMERATION ----------------------------------------------------------------------


@scenario("SIGNIN-NO-ENUMERATION-TIMING", verifies=["SIGNIN-NO-ENUMERATION"], level=Level.SHOULD,
          alone=True,  # its medians time the target, not the scenarios beside it
          quote="with the same error and message, and in about the same time (over 15 "
                "interleaved attempts of each kind, neither median below half the other, a "
                "difference counting only when a second such sample shows it too)")
def unknown_and_known_alike(ctx: Context) -> None:
    """A wrong password and an unknown email are refused alike, in about the same time"""
    # the throttle is what these checks are after: never waited out (core/guard.py)
    with ctx.expect(LOCKED_OUT):
        _unknown_and_known_alike(ctx)


def _unknown_and_known_alike(ctx: Context) -> None:
    known = ctx.account("staff")
    messages: dict[str, set[str]] = {"known": set(), "unknown": set()}
    ctx.step(f"{params.TIMING_SAMPLES} wrong passwords for an account and as many for unknown "
             "emails, alternating; the right password between groups")
    lift = _Lifts(ctx)
    medians = _timing_sample(ctx, known, messages, lift)
    ctx.check(messages["known"] == messages["unknown"] and len(messages["known"]) == 1,
              f"an unknown email is refused otherwise than a wrong password: "
              f"{sorted(messages['unknown'])} against {sorted(messages['known'])}")
    if not _close(medians):
        ctx.step("The medians are far apart: a second sample, to confirm it")
        medians = _timing_sample(ctx, known, messages, lift)
    ctx.check(_close(medians),
              f"an unknown email's sign-in takes {medians['unknown'] * 1000:.2f} ms against "
              f"{medians['known'] * 1000:.2f} ms for a known one (median): more than "
              f"{params.TIMING_MARGIN_PERCENT}% apart in two samples, so timing tells which "
              "accounts exist")


@scenario("SIGNIN-NO-ENUMERATION-THROTTLE", verifies=["SIGNIN-NO-ENUMERATION"],
          level=Level.SHOULD, quote="SHOULD be refused alike")
def unknown_throttled_alike(ctx: Context) -> None:
    """An unknown email's wrong passwords meet the throttle an account's meet: one that only
    accounts meet tells a guesser which emails have one"""
    # the throttle is what these checks are after: never waited out (core/guard.py)
    with ctx.expect(LOCKED_OUT):
        _unknown_throttled_alike(ctx)


def _unknown_throttled_alike(ctx: Context) -> None:
    known = ctx.account("staff")
    ctx.step("Sign in with wrong passwords for an account until the deployment throttles them")
    at = _first_throttled(ctx, "sign-in", lambda: ctx.target.sign_in(known.email, _wrong(known)),
                          "invalid_credentials", params.FAILURE_CAP_MAX)
    if at is None:
        raise NotApplicable(f"{params.FAILURE_CAP_MAX} wrong passwords for an account were all "
                            "checked: no throttle to tell accounts apart by (PASSWORD-RATE-LIMIT "
                            "is the rule that wants one)", binds=False)
    email = _nobody(known)
    ctx.step(f"Up to {at} wrong passwords for an unknown email: one is throttled too")
    # a per-address throttle may turn the first away at once: alike too
    ctx.check(_first_throttled(ctx, "an unknown email", lambda: ctx.target.sign_in(
                  email, _wrong(known)), "invalid_credentials", at) is not None,
              f"{at} wrong passwords for an unknown email were all checked, none throttled, "
              f"where an account's #{at} was: a throttle that only accounts meet tells which "
              "emails have one")


def _close(medians: dict[str, float]) -> bool:
    """Neither median below (100 - margin)% of the other."""
    least = 1 - params.TIMING_MARGIN_PERCENT / 100
    return min(medians.values()) >= least * max(medians.values())


def _timing_sample(ctx: Context, known: Account, messages: dict[str, set[str]],
                   lift: _Lifts) -> dict[str, float]:
    """One bounded sample: the median time of each kind of refused sign-in, interleaved."""
    group = max(1, min(3, params.PASSWORD_MAX_FAILURES - 1))  # never near the throttle
    timings: dict[str, list[float]] = {"known": [], "unknown": []}

    def attempt(kind: str) -> float:
        email = known.email if kind == "known" else _nobody(known)
        for tried in range(2):
            started = realtime.monotonic()  # not perf_counter: freezegun freezes it
            try:
                ctx.target.sign_in(email, _wrong(known))
            except Refused as refusal:
                took = _answered_in(ctx, realtime.monotonic() - started)
                if refusal.code not in THROTTLED:
                    messages[kind].add(f"{refusal.code}: {refusal.message}")
                    return took
                lift(f"a wrong password for the {kind} email", tried)
                continue  # that answer was the throttle's: not a sample
            ctx.check(False, f"a wrong password for the {kind} email signed in")
        return 0.0

    def right_password() -> None:
        for tried in range(2):
            try:
                ctx.target.sign_out(ctx.signed_in(known))
                return
            except Refused as refusal:
                if refusal.code not in THROTTLED:
                    raise
                lift("the right password", tried)

    attempt("known"), attempt("unknown")  # warm-up: first-use costs fall on neither kind
    for turn in range(params.TIMING_SAMPLES):
        order = ("known", "unknown") if turn % 2 == 0 else ("unknown", "known")
        for kind in order:
            timings[kind].append(attempt(kind))
        if (turn + 1) % group == 0:  # the right password resets the count of wrong ones
            right_password()  # (where it does: not everywhere, _Lifts)
    medians = {kind: statistics.median(values) for kind, values in timings.items()}
    ctx.trace.note(f"median of {params.TIMING_SAMPLES}: known account "
                   f"{medians['known'] * 1000:.2f} ms, unknown email "
                   f"{medians['unknown'] * 1000:.2f} ms")
    return medians


class _Lifts:
    """The sample's own wrong passwords may meet the deployment's password throttle, one the
    right password does not lift (django-allauth rolls back only the success's own count). A
    throttled answer says nothing about timing, so where the config names a reset hook it lifts
    the throttle (once per attempt, and once more after the scenario, for those that follow)
    and the attempt is made again; otherwise the sample is inconclusive."""

    def __init__(self, ctx: Context) -> None:
        self.ctx, self.lifted = ctx, False

    def __call__(self, what: str, tried: int) -> None:
        ctx = self.ctx
        if ctx.reset is None or tried:
            raise Inconclusive(f"{what} was throttled during the timing sample"
                               f"{' again, after the reset hook' if tried else ''}: a "
                               "throttled answer says nothing about timing")
        if not self.lifted:
            self.lifted = True
            ctx.cleanup(ctx.reset, "the config's reset hook, for the password throttle the "
                                   "timing sample met")
        ctx.trace.note(f"{what} was throttled: the config's reset hook lifts the throttle, and "
                       "the attempt is made again")
        ctx.reset()


def _answered_in(ctx: Context, wall: float) -> float:
    """The deployment's own time to answer: the wait the client timed on the wire where the
    target keeps it (a browser's page work around a form would swamp a hash's milliseconds),
    else the call's wall time (in this process, or a bare HTTP client's)."""
    answer = ctx.http.last_answer() if Needs.HTTP in ctx.capabilities else None
    return answer.seconds if answer is not None and answer.seconds is not None else wall


def _nobody(account: Account) -> str:
    """An email with no account, in the account's domain (as a guesser's list would be)."""
    return f"nobody-{secrets.token_hex(6)}@{account.email.rpartition('@')[2]}"


def _wrong(account: Account) -> str:
    """A password that is not the account's (random, so no guessing list is needed)."""
    return f"not-{secrets.token_urlsafe(9)}"
