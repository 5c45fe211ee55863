"""Guessing: wrong passwords throttled, a cap on failures in a row, unknown emails told nothing."""

from __future__ import annotations

import secrets
import statistics
import time
from collections.abc import Callable

from clinic2fa.scenarios.contract import THROTTLED as LOCKED_OUT
from clinic2fa.scenarios.contract import Account, Inconclusive, Refused
from clinic2fa.scenarios.core import params
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
    for number in range(1, params.FAILURE_CAP_MAX + 1):
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
    ctx.check(False, f"{what}: {params.FAILURE_CAP_MAX} wrong passwords in a row were all "
                     "checked, none throttled (NIST SP 800-63B s5.2.2 allows at most 100)")
    return 0


def _right_one_refused_too(ctx: Context, what: str, attempt: Callable[[], object]) -> None:
    with ctx.refused(THROTTLED, why=f"{what}: the right password while throttled"):
        attempt()


@scenario("PASSWORD-RATE-LIMIT-SIGN-IN", verifies=["PASSWORD-RATE-LIMIT"], level=Level.MUST,
          quote="so that well within 100 consecutive wrong passwords further attempts are "
                "refused for a while, the right password included")
def sign_in_throttled(ctx: Context) -> None:
    """Wrong passwords at sign-in are throttled within 100, and then the right one is too"""
    # the throttle is what these checks are after: never waited out (core/guard.py)
    with ctx.expect(LOCKED_OUT):
        _sign_in_throttled(ctx)


def _sign_in_throttled(ctx: Context) -> None:
    account = ctx.account("staff")
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
    session, account = enrolled.session, enrolled.account
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
                "restores it; waiting alone MUST NOT lift it", needs=(Needs.CLOCK,))
def second_step_capped(ctx: Context) -> None:
    """100 wrong codes, lock-outs waited out between them, block the second step for good"""
    # the throttle is what these checks are after: never waited out (core/guard.py)
    with ctx.expect(LOCKED_OUT):
        _second_step_capped(ctx)


def _second_step_capped(ctx: Context) -> None:
    enrolled = ctx.enrol(ctx.account("staff"))
    wrong = ctx.wrong_code(enrolled.phone)
    ctx.step(f"Wrong codes, waiting out each lock-out, up to {params.FAILURE_CAP_MAX} in a row")
    failed, pending = 0, None
    while failed < params.FAILURE_CAP_MAX:
        if pending is None:
            pending = _pending_after_waiting(ctx, enrolled)
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
    ctx.step("Wait a day beyond any lock-out, then sign in with the right code")
    ctx.advance_clock(DAY + params.LOCKOUT_SECONDS)
    with ctx.refused(("locked_out", "sign_in_expired", "not_signed_in", "code_rejected"),
                     why=f"the right code a day after {failed} wrong ones in a row"):
        again = ctx.target.sign_in(enrolled.account.email, enrolled.account.password)
        ctx.target.enter_code(again.session, ctx.fresh_code(enrolled))


def _pending_after_waiting(ctx: Context, enrolled: Enrolled) -> str | None:
    """A new pending sign-in once the lock-out is over, waiting longer each time it is not;
    None when even a day of waiting leaves the second step locked (a block)."""
    waited = 0.0
    for wait in (0.0, params.LOCKOUT_SECONDS + 1.0, 3600.0, DAY):
        if wait:
            ctx.advance_clock(wait)
            waited += wait
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
    medians = _timing_sample(ctx, known, messages)
    ctx.check(messages["known"] == messages["unknown"] and len(messages["known"]) == 1,
              f"an unknown email is refused otherwise than a wrong password: "
              f"{sorted(messages['unknown'])} against {sorted(messages['known'])}")
    if not _close(medians):
        ctx.step("The medians are far apart: a second sample, to confirm it")
        medians = _timing_sample(ctx, known, messages)
    ctx.check(_close(medians),
              f"an unknown email's sign-in takes {medians['unknown'] * 1000:.2f} ms against "
              f"{medians['known'] * 1000:.2f} ms for a known one (median): more than "
              f"{params.TIMING_MARGIN_PERCENT}% apart in two samples, so timing tells which "
              "accounts exist")


def _close(medians: dict[str, float]) -> bool:
    """Neither median below (100 - margin)% of the other."""
    least = 1 - params.TIMING_MARGIN_PERCENT / 100
    return min(medians.values()) >= least * max(medians.values())


def _timing_sample(ctx: Context, known: Account,
                   messages: dict[str, set[str]]) -> dict[str, float]:
    """One bounded sample: the median time of each kind of refused sign-in, interleaved."""
    domain = known.email.rpartition("@")[2]
    group = max(1, min(3, params.PASSWORD_MAX_FAILURES - 1))  # never near the throttle
    timings: dict[str, list[float]] = {"known": [], "unknown": []}

    def attempt(kind: str) -> float:
        email = known.email if kind == "known" else f"nobody-{secrets.token_hex(6)}@{domain}"
        started = time.perf_counter()
        try:
            ctx.target.sign_in(email, _wrong(known))
        except Refused as refusal:
            took = time.perf_counter() - started
            if refusal.code in THROTTLED:
                raise Inconclusive("a sign-in was throttled during the timing sample: a "
                                   "throttled answer says nothing about timing") from None
            messages[kind].add(f"{refusal.code}: {refusal.message}")
            return took
        ctx.check(False, f"a wrong password for the {kind} email signed in")
        return 0.0

    attempt("known"), attempt("unknown")  # warm-up: first-use costs fall on neither kind
    for turn in range(params.TIMING_SAMPLES):
        order = ("known", "unknown") if turn % 2 == 0 else ("unknown", "known")
        for kind in order:
            timings[kind].append(attempt(kind))
        if (turn + 1) % group == 0:  # the right password resets the count of wrong ones
            ctx.target.sign_out(ctx.signed_in(known))
    medians = {kind: statistics.median(values) for kind, values in timings.items()}
    ctx.trace.note(f"median of {params.TIMING_SAMPLES}: known account "
                   f"{medians['known'] * 1000:.2f} ms, unknown email "
                   f"{medians['unknown'] * 1000:.2f} ms")
    return medians


def _wrong(account: Account) -> str:
    """A password that is not the account's (random, so no guessing list is needed)."""
    return f"not-{secrets.token_urlsafe(9)}"
