"""Wrong second-factor codes throttled per user, as the deployment declares (RFC 4226 s7.3)."""

# The declared model decides the checks: `lockout` (max_failures wrong codes, then every code is
# refused until lockout_seconds pass or an admin acts) or `backoff` (after each wrong code, codes
# are refused for a delay that grows). A deployment declaring no rate limit ("none", outside the
# spec's bounds) is checked as a lock-out at the spec's own limit, NIST's 100 failures, so the
# report shows what it does.

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from clinic2fa.scenarios.contract import THROTTLED, Inconclusive, NotApplicable, Refused
from clinic2fa.scenarios.core.context import Context, Enrolled
from clinic2fa.scenarios.core.model import Level, scenario
from clinic2fa.spec import load as load_spec

SPEC_CAP = load_spec().parameter("TOTP-RATE-LIMIT", "max_failures").max or 100
BACKUP_MISSES = 2  # wrong backup codes among the failures that lock


# -- TOTP-RATE-LIMIT ----------------------------------------------------------------------------


@scenario("TOTP-RATE-LIMIT-FIVE-WRONG", verifies=["TOTP-RATE-LIMIT"], level=Level.MUST,
          quote="the deployment MUST refuse every further code for that user, right or wrong")
def wrong_codes_lock(ctx: Context) -> None:
    """Wrong codes up to the declared limit lock the second step: right and backup codes too"""
    enrolled = ctx.enrol(ctx.account("staff"))
    pending = ctx.target.sign_in(enrolled.account.email, enrolled.account.password).session
    wrong = ctx.wrong_code(enrolled.phone)
    if _model(ctx) == "backoff":
        right = ctx.valid_code(enrolled)  # made first: no wait between failure and check
        since = _wrong_codes(ctx, pending, wrong, 1)
        delay = ctx.policy.rate_limit.delay_after(1)
        ctx.step(f"At once, within the declared back-off of {delay:g} s: the right code, a "
                 "backup code, a new sign-in")
        _during(ctx, since, delay, "the right code during the back-off",
                lambda: ctx.target.enter_code(pending, right))
        _during(ctx, since, delay, "a backup code during the back-off",
                lambda: ctx.target.use_backup_code(pending, enrolled.backup_codes[0]))
        _during(ctx, since, delay, "the right code in a new sign-in during the back-off",
                lambda: _new_sign_in(ctx, enrolled, right))
        _backoff_grows(ctx, enrolled, pending, wrong)
        return
    limit = _lock_after(ctx)
    _wrong_codes(ctx, pending, wrong, limit)
    ctx.step(f"The right code, attempt #{limit + 1}")
    with _locked(ctx, f"the right code after {limit} wrong ones"):
        ctx.target.enter_code(pending, ctx.valid_code(enrolled))
    with _locked(ctx, f"a backup code after {limit} wrong codes"):
        ctx.target.use_backup_code(pending, enrolled.backup_codes[0])
    ctx.step("A new sign-in does not lift the lock")
    with _locked(ctx, "the right code in a new sign-in of a locked user"):
        _new_sign_in(ctx, enrolled)


@scenario("TOTP-RATE-LIMIT-PER-USER", verifies=["TOTP-RATE-LIMIT"], level=Level.MUST,
          quote="it counts failures per user across all of that user's pending sign-ins rather "
                "than per pending sign-in")
def failures_counted_per_user(ctx: Context) -> None:
    """Failures in one sign-in hold in the next one of the same user, and only that user"""
    _counts_must_show(ctx, "how failures are counted across sign-ins")
    enrolled = ctx.enrol(ctx.account("staff"))
    other = ctx.enrol(ctx.account("staff"))
    wrong = ctx.wrong_code(enrolled.phone)
    if _model(ctx) == "backoff":
        ctx.step("A wrong code in one pending sign-in")
        right = ctx.valid_code(enrolled)
        first = ctx.target.sign_in(enrolled.account.email, enrolled.account.password).session
        since = _wrong_codes(ctx, first, wrong, 1)
        ctx.step("At once, the right code in a second sign-in of the same user")
        _during(ctx, since, ctx.policy.rate_limit.delay_after(1),
                "the right code in another sign-in during the back-off",
                lambda: _new_sign_in(ctx, enrolled, right))
    else:
        limit = _lock_after(ctx)
        ctx.step(f"Another user first types {limit - 1} wrong codes: not theirs to add")
        theirs = ctx.target.sign_in(other.account.email, other.account.password).session
        _wrong_codes(ctx, theirs, ctx.wrong_code(other.phone), limit - 1)
        first = (limit + 1) // 2  # the failures split over two sign-ins
        for count, label in ((first, "first"), (limit - first, "second")):
            ctx.step(f"{count} wrong codes in a {label} pending sign-in")
            pending = ctx.target.sign_in(enrolled.account.email, enrolled.account.password)
            _wrong_codes(ctx, pending.session, wrong, count, start=1 if label == "first"
                         else first + 1)
        ctx.step("A third sign-in with the right code")
        with _locked(ctx, "the right code in a new sign-in of a locked user"):
            _new_sign_in(ctx, enrolled)
    ctx.step("Another user is not locked")
    with ctx.accepted("another user's sign-in"):
        ctx.second_step(other)


@scenario("TOTP-RATE-LIMIT-BACKUP-CODES", verifies=["TOTP-RATE-LIMIT"], level=Level.MUST,
          quote="After a number of consecutive wrong second-factor codes for a user")
def wrong_backup_codes_count(ctx: Context) -> None:
    """Wrong backup codes count with wrong 6-digit codes towards the same limit"""
    _counts_must_show(ctx, "whether wrong backup codes count")
    enrolled = ctx.enrol(ctx.account("staff"))
    pending = ctx.target.sign_in(enrolled.account.email, enrolled.account.password).session
    misses = _wrong_backup_codes(enrolled.backup_codes, BACKUP_MISSES)
    if _model(ctx) == "backoff":
        ctx.step("A wrong backup code")
        right = ctx.valid_code(enrolled)
        since = _failed(ctx, "a wrong backup code",
                        lambda: ctx.target.use_backup_code(pending, misses[0]))
        _during(ctx, since, ctx.policy.rate_limit.delay_after(1),
                "the right code during the back-off after a wrong backup code",
                lambda: ctx.target.enter_code(pending, right))
        return
    limit = _lock_after(ctx)
    misses = misses[:min(BACKUP_MISSES, limit)]
    codes = limit - len(misses)
    ctx.step(f"{codes} wrong 6-digit codes, then {len(misses)} wrong backup codes")
    _wrong_codes(ctx, pending, ctx.wrong_code(enrolled.phone), codes)
    for number, code in enumerate(misses, codes + 1):
        _failed(ctx, f"wrong code #{number} (a backup code) of the declared {limit}",
                lambda c=code: ctx.target.use_backup_code(pending, c))
    ctx.step(f"A valid backup code, attempt #{limit + 1}")
    with _locked(ctx, f"a valid backup code after {limit} wrong codes"):
        ctx.target.use_backup_code(pending, enrolled.backup_codes[0])


@scenario("TOTP-RATE-LIMIT-LOCKOUT-ENDS", verifies=["TOTP-RATE-LIMIT"], level=Level.MUST,
          quote="until its declared lock-out period has passed or an owner or admin lifts the "
                "lock")
def lockout_ends(ctx: Context) -> None:
    """Once the declared lock-out (or back-off), or its Retry-After, has passed, the code works"""
    limit = ctx.policy.rate_limit
    backoff = _model(ctx) == "backoff"
    pause = limit.delay_after(1) if backoff else float(limit.lockout_seconds)
    ctx.require_wait(pause + 1, "the declared back-off" if backoff else
                     "the declared lock-out period")
    enrolled = ctx.enrol(ctx.account("staff"))
    pending = ctx.target.sign_in(enrolled.account.email, enrolled.account.password).session
    wrong = ctx.wrong_code(enrolled.phone)
    _wrong_codes(ctx, pending, wrong, 1 if backoff else _lock_after(ctx))
    wait, what = pause + 1, "the declared back-off" if backoff else "the declared lock-out period"
    if not backoff:
        with _locked(ctx, "the right code while locked") as refused:
            ctx.target.enter_code(pending, ctx.valid_code(enrolled))
        told = _retry_after(ctx, refused, pause)
        if told is not None and limit.lock_ends != "by_admin":
            wait, what = told + 1, "the lock's own Retry-After"
    ctx.step(f"Wait out {what} ({wait - 1:g} s)")
    ctx.wait(wait, what)
    if not backoff and limit.lock_ends == "by_admin":
        ctx.step("The lock does not end by itself (declared: an owner or admin lifts it)")
        with _locked(ctx, "the right code after the lock-out period (lifted only by an admin)"):
            _new_sign_in(ctx, enrolled)
        return
    # a throttle now is the answer (the lock did not end), not a pause to wait out
    with ctx.expect(THROTTLED), ctx.accepted("the right code once the lock has ended"):
        ctx.second_step(enrolled)


@scenario("TOTP-RATE-LIMIT-AFTER-RE-ENROLMENT", verifies=["TOTP-RATE-LIMIT"], level=Level.MUST,
          quote="After a number of consecutive wrong second-factor codes for a user (the "
                "deployment's declared max_failures, at most 100; the reference's 5), the "
                "deployment MUST refuse every further code for that user, right or wrong")
def counts_after_re_enrolment(ctx: Context) -> None:
    """After Disable 2FA and a new enrolment, the declared number of wrong codes locks: no sooner"""
    if _model(ctx) == "backoff":
        raise NotApplicable("the deployment declares a back-off: TOTP-RATE-LIMIT-FIVE-WRONG "
                            "checks how it grows", binds=False)
    old = ctx.enrol(ctx.account("staff"))
    ctx.step("Disable 2FA, then set up the authenticator app again")
    ctx.target.disable_2fa(old.session, old.account.password)
    enrolled = ctx.enrol(old.account, session=ctx.signed_in(old.account))
    pending = ctx.target.sign_in(enrolled.account.email, enrolled.account.password).session
    limit = _lock_after(ctx)
    _wrong_codes(ctx, pending, ctx.wrong_code(enrolled.phone), limit)
    ctx.step(f"The right code, attempt #{limit + 1}")
    with _locked(ctx, f"the right code after {limit} wrong ones since the new enrolment"):
        ctx.target.enter_code(pending, ctx.valid_code(enrolled))


def _retry_after(ctx: Context, refused: list[Refused], pause: float) -> float | None:
    """The Retry-After of the lock's refusal, if it gave one: a positive wait, at most the
    declared lock-out (HTTP contract: "with Retry-After (seconds) while the lock-out ends by
    itself"). Once it has passed the lock must be over: that is what a client waits for."""
    told = refused[0].retry_after if refused and refused[0].code == THROTTLED else None
    if told is None:
        return None
    ctx.check(0 < told <= pause + 1, f"the lock's Retry-After is {told:g} s: a wait of more "
                                     f"than 0 s and at most the declared lock-out of {pause:g} s",
              expected=f"0 < Retry-After <= {pause:g}", got=f"{told:g}")
    return min(max(told, 0.0), pause)


# -- SKEW-REASON ------------------------------------------------------------------------------


@scenario("SKEW-REASON-COUNTS-AS-FAILURE", verifies=["SKEW-REASON"], level=Level.SHOULD,
          quote="while still rejecting the code and counting it as a failure")
def skewed_codes_count(ctx: Context) -> None:
    """Codes rejected as time skew count towards the rate limit like wrong codes"""
    _counts_must_show(ctx, "whether a skewed code counts as a failure")
    enrolled = ctx.enrol(ctx.account("staff"))
    pending = ctx.target.sign_in(enrolled.account.email, enrolled.account.password).session
    skew = ctx.skew_steps
    backoff = _model(ctx) == "backoff"
    limit = 1 if backoff else _lock_after(ctx)
    right = ctx.valid_code(enrolled) if backoff else ""
    since = 0.0
    for attempt in range(1, limit + 1):
        ctx.step(f"Code from a phone {skew * 30} s fast, attempt {attempt}")
        code = enrolled.phone.code_at_step(ctx.server_step() + skew)
        since = _failed(ctx, f"skewed code #{attempt}",
                        lambda c=code: ctx.target.enter_code(pending, c), reason="time_skew")
    if backoff:
        _during(ctx, since, ctx.policy.rate_limit.delay_after(1),
                "the right code during the back-off after a skewed code",
                lambda: ctx.target.enter_code(pending, right))
        return
    with _locked(ctx, f"the right code after {limit} skewed ones"):
        ctx.target.enter_code(pending, ctx.valid_code(enrolled))


# -- helpers ------------------------------------------------------------------------------------


def _model(ctx: Context) -> str:
    return str(ctx.policy.rate_limit.model)


def _lock_after(ctx: Context) -> int:
    """Wrong codes before the lock: the declared number, or the spec's cap for "none"."""
    if _model(ctx) == "none":
        ctx.trace.note(f"the deployment declares no rate limit: checked against the spec's "
                       f"own limit of {SPEC_CAP} consecutive failures")
        return SPEC_CAP
    return int(ctx.policy.rate_limit.max_failures)


def _counts_must_show(ctx: Context, what: str) -> None:
    """Without any limit there is nothing to count towards: the check cannot be seen."""
    if _model(ctx) == "none":
        raise NotApplicable(f"the deployment declares no rate limit, so {what} cannot be seen "
                            "(TOTP-RATE-LIMIT-FIVE-WRONG shows whether it has one)",
                            binds=False)


def _failed(ctx: Context, what: str, action: Callable[[], object],
            reason: str = "wrong_code") -> float:
    """One judged failure: refused as a wrong code, not throttled. When it was made."""
    with ctx.expect(THROTTLED), ctx.refused("code_rejected", reason, why=what):
        action()
    return ctx.target.server_time()


def _wrong_codes(ctx: Context, pending: str, wrong: str, count: int, *, start: int = 1) -> float:
    """`count` wrong codes, each judged as wrong (an early lock fails: not as declared)."""
    since = 0.0
    backoff = _model(ctx) == "backoff"
    limit = _lock_after(ctx) if not backoff else count
    for attempt in range(start, start + count):
        if backoff and attempt > start:
            ctx.wait(ctx.policy.rate_limit.delay_after(attempt - 1), "the declared back-off")
        ctx.step(f"Wrong code #{attempt}")
        since = _failed(ctx, f"wrong code #{attempt} of the declared {limit} before the lock",
                        lambda: ctx.target.enter_code(pending, wrong))
    return since


@contextmanager
def _locked(ctx: Context, why: str) -> Iterator[list[Refused]]:
    """The block must be refused by the lock; a deployment that does not tell a lock from a
    wrong code may refuse it as wrong (that it was the lock is then not verified). The list
    it yields holds the refusal afterwards, for what it says (its Retry-After)."""
    codes = (THROTTLED,) if ctx.policy.tells("locked_out") else (THROTTLED, "code_rejected")
    seen: list[Refused] = []
    try:
        with ctx.expect(*codes):
            yield seen
    except Refused as refusal:
        seen.append(refusal)
        ctx.check(refusal.code in codes, f"{why}: expected the lock's refusal "
                                         f"({' or '.join(codes)}), got {refusal.code}")
        if refusal.code != THROTTLED:
            ctx.unverified(f"{why}: refused; that the lock refused it: not verified, the "
                           "deployment answers a lock as it answers a wrong code")
        return
    ctx.check(False, f"{why}: expected the lock's refusal, but it was accepted")


def _during(ctx: Context, since: float, delay: float, what: str,
            action: Callable[[], object]) -> None:
    """`action` right after a failure is refused by the back-off; a harness too slow to ask
    within the declared delay is inconclusive, not a verdict."""
    try:
        with ctx.expect(THROTTLED):
            action()
    except Refused as refusal:
        ok = refusal.code == THROTTLED or (refusal.code == "code_rejected"
                                           and not ctx.policy.tells("locked_out"))
        ctx.check(ok, f"{what}: expected the back-off's refusal, got {refusal.code}")
        return
    if ctx.target.server_time() - since >= delay:
        raise Inconclusive(f"{what}: accepted, but only after the declared {delay:g} s had "
                           "passed: the harness could not ask in time; run it again")
    ctx.check(False, f"{what}: accepted within the declared back-off of {delay:g} s")


def _backoff_grows(ctx: Context, enrolled: Enrolled, pending: str, wrong: str) -> None:
    """A second failure holds codes back longer than the first did."""
    limit = ctx.policy.rate_limit
    first, second = limit.delay_after(1), limit.delay_after(2)
    if second <= first:
        ctx.unverified("that the back-off grows: the declared back-off does not")
        return
    ctx.require_wait(first + second + 1, "the declared back-off, twice")
    ctx.step(f"After the first back-off ({first:g} s), a second wrong code: the next back-off "
             f"is {second:g} s")
    ctx.wait(first, "the declared back-off")
    since = _failed(ctx, "wrong code #2", lambda: ctx.target.enter_code(pending, wrong))
    ctx.wait(first, f"as long as the first back-off, less than the second ({second:g} s)")
    _during(ctx, since, second, "the right code after the first delay, within the second",
            lambda: ctx.target.enter_code(pending, ctx.valid_code(enrolled)))
    ctx.wait(second - first + 1, "the rest of the second back-off")
    with ctx.accepted("the right code after the second back-off"):
        ctx.target.enter_code(pending, ctx.fresh_code(enrolled))


def _new_sign_in(ctx: Context, enrolled: Enrolled, code: str | None = None) -> None:
    """A new sign-in with the right code (refused at the password or at the code)."""
    pending = ctx.target.sign_in(enrolled.account.email, enrolled.account.password)
    ctx.target.enter_code(pending.session, code or ctx.valid_code(enrolled))


def _wrong_backup_codes(codes: list[str], count: int) -> list[str]:
    """Codes shaped like the real ones (same characters, reversed) that are none of them."""
    real = {"".join(c.split()).replace("-", "").lower() for c in codes}
    wrong = [c[::-1] for c in codes if "".join(c[::-1].split()).replace("-", "").lower()
             not in real]
    return wrong[:count]
