"""Races: codes, passkeys, setups and an admin's reset sent in parallel: each judged once."""

# A race scenario passes only on evidence: every burst's requests overlapped (each was sent
# before the first answer came back). A burst that did not overlap proves nothing, so the
# scenario tries again with a fresh account, and after ATTEMPTS such bursts it is inconclusive,
# never a pass. A broken rule fails at once, overlapped or not: it broke either way.

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

from clinic2fa.scenarios.contract import (
    Account,
    ConfigExhausted,
    Inconclusive,
    NotApplicable,
    Refused,
)
from clinic2fa.scenarios.core.context import Context, Enrolled
from clinic2fa.scenarios.core.model import Level, Needs, scenario
from clinic2fa.scenarios.core.parallel import Outcome, Overlap, overlap, together

PARALLEL = 20  # requests in each burst
ATTEMPTS = 5  # bursts tried for overlapping requests before the scenario is inconclusive
RESET_ROUNDS = 5  # resets an admin makes per attempt, each beside the user's new backup codes
RESET_BURST = 14  # requests beside each reset: every one costs the server argon2
REGENERATE_ROUNDS = 3  # regenerations per attempt: each gives sign-ins a chance to meet it halfway


class Bursts:
    """The bursts of one attempt and the evidence of each."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.seen: list[Overlap] = []

    def send(self, calls: Sequence[Callable[[], Any]], what: str, *,
             against_first: bool = False) -> list[Outcome[Any]]:
        """`calls` all at once; what their timing shows goes into the trace (`against_first`:
        the race is the first call against the rest, so it must overlap one of them)."""
        # A target whose calls cannot run in threads (a browser) sends them its own way.
        outcomes = getattr(self.ctx.target, "together", together)(calls)
        evidence = overlap(outcomes, against_first=against_first)
        self.seen.append(evidence)
        self.ctx.trace.note(f"{what}: {evidence}")
        return outcomes

    @property
    def overlapped(self) -> bool:
        """Every burst overlapped; of bursts that race their first request against the rest (a
        reset, a regeneration, round after round), one is enough: each round checks the rule,
        and one that raced is the evidence that it held in a race."""
        against = [e for e in self.seen if e.beside_first is not None]
        plain = [e for e in self.seen if e.beside_first is None]
        return bool(self.seen) and all(e.overlapped for e in plain) \
            and (not against or any(e.overlapped for e in against))

    def weakest(self) -> Overlap:
        """The evidence that fell short: the last burst that did not overlap, else the last."""
        return next((e for e in reversed(self.seen) if not e.overlapped), self.seen[-1])


def until_overlapped(ctx: Context, attempt: Callable[[Context, Bursts], None]) -> None:
    """`attempt` (a fresh account, its bursts, the checks) until its bursts overlapped."""
    tried = Bursts(ctx)
    for number in range(1, ATTEMPTS + 1):
        bursts = Bursts(ctx)
        try:
            attempt(ctx, bursts)
        except ConfigExhausted:
            if number == 1:
                raise
            break  # no account left for another try: what was seen stands, inconclusive
        tried = bursts
        if bursts.overlapped:
            ctx.trace.check(f"evidence of a race: {len(bursts.seen)} burst(s) overlapped", True)
            return
        if number < ATTEMPTS:
            ctx.step(f"The requests did not overlap (attempt {number} of {ATTEMPTS}): "
                     "again, with a fresh account")
    late = tried.weakest()
    raise Inconclusive(f"the rule held, but the parallel requests never all overlapped in "
                       f"{number} attempt(s) ({late}): no evidence for parallel requests")


def _pending(ctx: Context, enrolled: Enrolled, count: int) -> list[str]:
    """`count` sign-ins of one user waiting at the second step (one password each)."""
    sessions = []
    for _ in range(count):
        pending = ctx.target.sign_in(enrolled.account.email, enrolled.account.password)
        ctx.check(pending.stage == "second_step",
                  f"after the password the code must be asked, got {pending.stage}")
        sessions.append(pending.session)
    return sessions


def _tally(outcomes: Sequence[Outcome[Any]]) -> Counter[str]:
    """How the burst was answered: "accepted" or the refusal's code."""
    return Counter("accepted" if o.refusal is None else o.refusal.code for o in outcomes)


def _only_accepted_or(ctx: Context, tally: Counter[str], allowed: set[str], what: str) -> None:
    other = {code: n for code, n in tally.items() if code != "accepted" and code not in allowed}
    ctx.check(not other, f"{what} refused with {other}, expected only {' or '.join(allowed)}")


@scenario("RACE-BACKUP-CODE-ONCE", verifies=["BACKUP-SINGLE-USE"], level=Level.MUST,
          quote="A given secret from an authenticator SHALL be used successfully only once",
          needs=(Needs.PARALLEL,))
def backup_code_in_parallel(ctx: Context) -> None:
    """One backup code sent in 20 parallel second steps signs in exactly once"""
    until_overlapped(ctx, _one_backup_code_burst)


def _one_backup_code_burst(ctx: Context, bursts: Bursts) -> None:
    enrolled = ctx.enrol(ctx.account("staff"))
    sessions = _pending(ctx, enrolled, PARALLEL)
    code = enrolled.backup_codes[0]
    ctx.step(f"Send the same backup code in {PARALLEL} parallel second steps, "
             "each from its own pending sign-in")
    with ctx.expect("locked_out"):  # the lock-out may answer some
        outcomes = bursts.send([partial(ctx.target.use_backup_code, s, code) for s in sessions],
                               "the backup codes")
    tally = _tally(outcomes)
    ctx.trace.note(f"answers: {dict(tally)}")
    ctx.check(tally["accepted"] == 1, f"{tally['accepted']} of {PARALLEL} parallel uses of one "
                                      "backup code signed in, not exactly 1")
    _only_accepted_or(ctx, tally, {"code_rejected", "locked_out"}, "the spent backup code was")
    winner: Any = next(o.result for o in outcomes if o.accepted)
    left, count = ctx.target.security(winner.session).backup_codes_left, ctx.policy.backup_codes
    ctx.check(left == count - 1, f"after one backup code was used, Security counts {left} left, "
                                 f"not {count - 1}")


@scenario("RACE-TOTP-CODE-ONCE", verifies=["TOTP-REPLAY"], level=Level.MUST,
          quote="The verifier MUST NOT accept the second attempt of the OTP after the successful "
                "validation has been issued for the first OTP",
          needs=(Needs.PARALLEL,))
def totp_code_in_parallel(ctx: Context) -> None:
    """One TOTP code sent in 20 parallel second steps of one user signs in exactly once"""
    until_overlapped(ctx, _one_totp_code_burst)


def _one_totp_code_burst(ctx: Context, bursts: Bursts) -> None:
    enrolled = ctx.enrol(ctx.account("staff"))
    sessions = _pending(ctx, enrolled, PARALLEL)
    code = ctx.fresh_code(enrolled)
    ctx.step(f"Send the same 6-digit code in {PARALLEL} parallel second steps, "
             "each from its own pending sign-in")
    with ctx.expect("locked_out"):  # the lock-out may answer some
        outcomes = bursts.send([partial(ctx.target.enter_code, s, code) for s in sessions],
                               "the codes")
    tally = _tally(outcomes)
    ctx.trace.note(f"answers: {dict(tally)}")
    ctx.check(tally["accepted"] == 1, f"{tally['accepted']} of {PARALLEL} parallel uses of one "
                                      "TOTP code signed in, not exactly 1")
    _only_accepted_or(ctx, tally, {"code_rejected", "locked_out"}, "the used code was")


@scenario("RACE-LOCKOUT-COUNTS-EVERY-FAILURE", verifies=["TOTP-RATE-LIMIT"], level=Level.MUST,
          quote="The delay or lockout schemes MUST be across login sessions to prevent attacks "
                "based on multiple parallel guessing techniques.",
          needs=(Needs.PARALLEL,))
def wrong_codes_in_parallel(ctx: Context) -> None:
    """20 parallel wrong codes: exactly the declared limit are judged, the rest locked out"""
    if ctx.policy.rate_limit.model != "lockout":
        raise NotApplicable("the deployment declares no lock-out after a number of failures: "
                            "how many of a burst are judged is its back-off's to decide",
                            binds=False)
    until_overlapped(ctx, _one_wrong_code_burst)


def _one_wrong_code_burst(ctx: Context, bursts: Bursts) -> None:
    enrolled = ctx.enrol(ctx.account("staff"))
    sessions = _pending(ctx, enrolled, PARALLEL)
    wrong = ctx.wrong_code(enrolled.phone)
    ctx.step(f"Send a wrong code in {PARALLEL} parallel second steps of one user")
    with ctx.expect("locked_out"):  # the lock-out may answer some
        outcomes = bursts.send([partial(ctx.target.enter_code, s, wrong) for s in sessions],
                               "the wrong codes")
    tally = _tally(outcomes)
    ctx.trace.note(f"answers: {dict(tally)}")
    # Judged one at a time, the first max_failures are wrong codes and lock the user; the others
    # are refused unjudged. More judged means failures were lost or the lock came late.
    limit = ctx.policy.rate_limit.max_failures
    expected = {"code_rejected": limit, "locked_out": PARALLEL - limit}
    ctx.check(dict(tally) == expected,
              f"{PARALLEL} parallel wrong codes were answered {dict(tally)}, expected "
              f"{expected}: every failure counted and the lock-out after {limit}")
    ctx.step("The right code is refused now: the lock-out engaged")
    with ctx.refused("locked_out", why="the right code after the parallel wrong ones"):
        ctx.target.enter_code(sessions[0], ctx.fresh_code(enrolled))


@scenario("RACE-SETUP-ONE-PENDING-SECRET", verifies=["SETUP-FRESH-SECRET"], level=Level.MUST,
          quote="MUST then reject codes from any earlier pending secret, including at "
                "confirmation",
          needs=(Needs.PARALLEL,))
def setups_in_parallel(ctx: Context) -> None:
    """20 parallel setup starts show 20 fresh secrets, of which exactly one then confirms"""
    until_overlapped(ctx, _one_setup_burst)


def _one_setup_burst(ctx: Context, bursts: Bursts) -> None:
    account = ctx.account("staff")
    session = ctx.signed_in(account)
    ctx.step(f'Click "Set up authenticator app" {PARALLEL} times at once')
    started = bursts.send([partial(ctx.target.start_authenticator_setup, session)] * PARALLEL,
                          "the setup starts")
    screens: list[Any] = [o.result for o in started if o.accepted]
    ctx.check(bool(screens), f"all {PARALLEL} parallel setup starts were refused")
    phones = []
    for screen in screens:
        phone = ctx.phone()
        phone.add_uri(screen.uri)
        phones.append(phone)
    secrets = {phone.accounts[-1].secret for phone in phones}
    ctx.check(len(secrets) == len(screens), f"{len(screens)} setup screens showed only "
                                            f"{len(secrets)} different secrets: not a fresh "
                                            "secret each time")
    ctx.step("Confirm each screen's secret with its current code, all at once")
    now = ctx.server_step()
    codes = [phone.code_at_step(now) for phone in phones]
    ctx.trace.secrets.update(codes)
    confirmed = bursts.send([partial(ctx.target.confirm_enrolment, session, c) for c in codes],
                            "the confirmations")
    accepted = sum(o.accepted for o in confirmed)
    ctx.check(accepted <= 1, f"{accepted} of {len(screens)} setup secrets confirmed: an earlier "
                             "pending secret stayed valid beside the last one")
    ctx.check(accepted == 1, f"none of the {len(screens)} setup secrets shown confirmed: the "
                             "pending secret is not one the screens showed")
    ctx.check(ctx.target.security(session).authenticator_app,
              "after a confirmed setup, Security does not show the authenticator app")


@scenario("RACE-BACKUP-REGENERATE", verifies=["BACKUP-REGENERATE"], level=Level.MUST,
          quote="the deployment MUST make every earlier backup code invalid before showing the "
                "new list", needs=(Needs.PARALLEL,))
def regenerate_during_backup_codes(ctx: Context) -> None:
    """Backup codes regenerated while sign-ins with the old ones arrive: each old code is
    judged once, against the list it met, and afterwards only the new list works, all of it"""
    until_overlapped(ctx, _one_regenerate_burst)


def _one_regenerate_burst(ctx: Context, bursts: Bursts) -> None:
    enrolled = ctx.enrol(ctx.account("staff"))
    codes = enrolled.backup_codes
    for round_ in range(1, REGENERATE_ROUNDS + 1):
        codes = _regenerate_beside_sign_ins(ctx, bursts, enrolled, codes, round_)
    pending = ctx.target.sign_in(enrolled.account.email, enrolled.account.password)
    with ctx.refused("code_rejected", why="an old backup code after the regenerations"):
        ctx.target.use_backup_code(pending.session, enrolled.backup_codes[-1])


def _regenerate_beside_sign_ins(ctx: Context, bursts: Bursts, enrolled: Enrolled,
                                codes: list[str], round_: int) -> list[str]:
    """One regeneration beside sign-ins with codes of the list it replaces; the new list."""
    limit = ctx.policy.rate_limit.max_failures
    # fewer sign-ins than the lock-out's count: old codes refused in the race lock nobody out
    old = codes[:max(1, min(len(codes) - 1, limit - 1))]
    ctx.step(f"Regenerate the backup codes while {len(old)} sign-ins, each with its own code "
             f"of the list being replaced, arrive at once (round {round_})")
    regenerate = partial(ctx.target.regenerate_backup_codes, enrolled.session,
                         enrolled.account.password)
    uses = [partial(_sign_in_with_backup_code, ctx, enrolled, code) for code in old]
    with ctx.expect("locked_out"):  # a back-off may answer some
        outcomes = bursts.send([regenerate, *uses], "the regeneration and the sign-ins",
                               against_first=True)
    ctx.check(outcomes[0].accepted, f"regenerating was refused: {outcomes[0].refusal}")
    new: list[str] = list(outcomes[0].result or [])
    tally = _tally(outcomes[1:])
    ctx.trace.note(f"the old backup codes were answered: {dict(tally)}")
    _only_accepted_or(ctx, tally, {"code_rejected", "locked_out"}, "an old backup code was")
    if ctx.policy.rate_limit.model == "backoff":
        ctx.wait(ctx.policy.rate_limit.delay_after(len(old) - tally["accepted"]),
                 "the declared back-off after the old codes refused")
    count = ctx.policy.backup_codes
    left = ctx.target.security(enrolled.session).backup_codes_left
    ctx.check(left == count, f"after regenerating beside sign-ins with old codes, Security "
                             f"counts {left} codes left, not the new list's {count}")
    with ctx.accepted("a regenerated backup code after the race"):  # and the count starts again
        _sign_in_with_backup_code(ctx, enrolled, new[-1])
    return new


def _sign_in_with_backup_code(ctx: Context, enrolled: Enrolled, code: str) -> Any:
    """A sign-in (the password, then `code`): its password check keeps the code's second step
    from always coming before a regeneration's new hashes, so some meet it halfway."""
    pending = ctx.target.sign_in(enrolled.account.email, enrolled.account.password)
    return ctx.target.use_backup_code(pending.session, code)


@scenario("RACE-ADMIN-RESET-ENDS-SESSIONS", verifies=["ADMIN-DISABLE-ENDS-SESSIONS"],
          level=Level.MUST,
          quote="the deployment MUST end all of that user's sessions and pending sign-ins and "
                "remove their TOTP secret, backup codes and passkeys at once",
          needs=(Needs.PARALLEL,))
def admin_reset_during_backup_codes(ctx: Context) -> None:
    """An admin disables a user's 2FA while the user's backup codes arrive in parallel second
    steps: no session of the user outlives the reset, and no backup code is left"""
    until_overlapped(ctx, _one_admin_reset_burst)


def _one_admin_reset_burst(ctx: Context, bursts: Bursts) -> None:
    admin, staff = ctx.account("admin"), ctx.account("staff")
    ctx.signed_in(admin)  # the admin needs no second step, so signing in below is one request
    for round_ in range(1, RESET_ROUNDS + 1):  # one staff account, enrolled again each round:
        _reset_beside_backup_codes(ctx, bursts, admin, staff, round_)  # a test clinic has two


def _reset_beside_backup_codes(ctx: Context, bursts: Bursts, admin: Account, staff: Account,
                               round_: int) -> None:
    enrolled = ctx.enrol(staff)
    # half a burst: each code its own (none refused as spent), from the front of the list (a
    # match costs the hashes before it); then as many sign-ins (a password hash each)
    codes = enrolled.backup_codes[:RESET_BURST // 2]
    sessions = _pending(ctx, enrolled, len(codes))
    signing_in = RESET_BURST - 1 - len(codes)
    ctx.step(f"The admin signs in and disables the user's 2FA while {len(codes)} second steps, "
             f"each with its own backup code, and {signing_in} sign-ins of the user arrive at "
             f"once (round {round_})")
    reset = partial(_admin_reset, ctx, admin, enrolled.account.email)
    uses = [partial(ctx.target.use_backup_code, s, c) for s, c in zip(sessions, codes,
                                                                      strict=True)]
    sign_ins = [partial(ctx.target.sign_in, enrolled.account.email, enrolled.account.password)
                ] * signing_in
    with ctx.expect("locked_out"):  # the lock-out may answer some
        outcomes = bursts.send([reset, *uses, *sign_ins], "the reset, backup codes, sign-ins",
                               against_first=True)
    ctx.check(outcomes[0].accepted, f"the admin's reset was refused: {outcomes[0].refusal}")
    used, signed = outcomes[1:1 + len(uses)], outcomes[1 + len(uses):]
    tally = _tally(used)
    ctx.trace.note(f"the backup codes were answered: {dict(tally)}")
    _only_accepted_or(ctx, tally, {"code_rejected", "locked_out", "not_signed_in",
                                   "sign_in_expired"}, "a backup code during the reset was")
    stages = Counter(o.result.stage if o.accepted else o.refusal.code  # type: ignore[union-attr]
                     for o in signed)
    ctx.trace.note(f"the sign-ins were answered: {dict(stages)}")
    ctx.step("After the reset: every session the backup codes opened is ended, and so is "
             "every sign-in left at the second step")
    for outcome in used:
        if outcome.accepted:
            with ctx.refused("not_signed_in",
                             why="a session a backup code opened beside the admin's reset"):
                ctx.target.profile(outcome.result.session)  # type: ignore[union-attr]
    for outcome in signed:
        if outcome.accepted and outcome.result.stage == "second_step":  # type: ignore[union-attr]
            with ctx.refused(("not_signed_in", "sign_in_expired"),
                             why="a sign-in at the second step beside the admin's reset"):
                ctx.target.use_backup_code(outcome.result.session,  # type: ignore[union-attr]
                                           enrolled.backup_codes[-1])
    with ctx.refused("not_signed_in", why="the session the user enrolled from, after the reset"):
        ctx.target.profile(enrolled.session)
    fresh = ctx.target.sign_in(enrolled.account.email, enrolled.account.password)
    ctx.check(fresh.stage == "signed_in",
              f"after the reset the password should be enough, got {fresh.stage}")
    left = ctx.target.security(fresh.session).backup_codes_left
    ctx.check(left == 0, f"{left} backup codes are still valid after the reset")


def _admin_reset(ctx: Context, admin: Account, email: str) -> None:
    """Sign in, then Settings -> Staff -> Disable 2FA: the reset lands while the user's second
    steps are being judged (a password check's time after they arrived), not before them all."""
    session = ctx.target.sign_in(admin.email, admin.password).session
    ctx.target.disable_2fa_for(session, email)


@scenario("RACE-PASSKEY-SIGN-COUNT", verifies=["PASSKEY-SIGN-COUNT"], level=Level.MUST,
          quote="MUST reject a passkey assertion whose signature counter is not greater than the "
                "stored one", needs=(Needs.PARALLEL, Needs.PASSKEYS))
def cloned_passkeys_in_parallel(ctx: Context) -> None:
    """Clones of one passkey, each answering its own sign-in with the same next sign count, all
    at once: exactly one signs in, the rest are refused as a repeated count (or locked out)"""
    until_overlapped(ctx, _clones_at_once)


def _clones_at_once(ctx: Context, bursts: Bursts) -> None:
    # One holder per attempt: the refused clones count as failures and may lock the account
    # (the harness then waits the lock-out out or resets, as after any lock-out); the clone that
    # signed in holds the stored count afterwards, so it is the device the account is left with.
    account = ctx.account("staff")
    name = "Cloned passkey"
    device = ctx.add_passkey(ctx.signed_in(account), name=name)
    clones = [device.clone() for _ in range(PARALLEL)]
    ctx.step(f"{len(clones)} clones of the passkey each answer their own sign-in, with the "
             "same sign count; the answers are sent at once")
    answers = []
    for clone in clones:
        pending = ctx.target.sign_in(account.email, account.password)
        ctx.check(pending.stage == "second_step",
                  f"after the password the passkey must be asked, got {pending.stage}")
        answers.append((pending.session,
                        clone.get(ctx.passkeys.begin_passkey_sign_in(pending.session))))
    with ctx.expect("locked_out"):  # the lock-out may answer some
        outcomes = bursts.send([partial(ctx.passkeys.finish_passkey_sign_in, s, a)
                                for s, a in answers], "the cloned passkeys' answers")
    winners = [clone for clone, o in zip(clones, outcomes, strict=True) if o.accepted]
    if winners:
        ctx.holds_passkey(account, name, winners[-1])
    tally = _tally(outcomes)
    ctx.trace.note(f"answers: {dict(tally)}")
    ctx.check(tally["accepted"] == 1, f"{tally['accepted']} of {len(clones)} answers with one "
                                      "sign count signed in, not exactly 1")
    _only_accepted_or(ctx, tally, {"passkey_sign_count", "locked_out"},
                      "a repeated sign count was")


@scenario("RACE-PASSKEY-CHALLENGES", verifies=["PASSKEY-CHALLENGE"], level=Level.MUST,
          quote="For every passkey registration and sign-in the deployment MUST generate a fresh "
                "challenge of at least 16 random bytes from a CSPRNG, bind it to that ceremony",
          needs=(Needs.PARALLEL, Needs.PASSKEYS))
def passkey_ceremonies_begun_in_parallel(ctx: Context) -> None:
    """20 passkey setups, then 20 passkey sign-ins, of one user begun at once: each ceremony
    gets a challenge of its own and keeps it (its answer is accepted, none lost to another's)"""
    until_overlapped(ctx, _passkey_ceremonies_at_once)


def _passkey_ceremonies_at_once(ctx: Context, bursts: Bursts) -> None:
    account = ctx.account("staff")
    sessions = [ctx.signed_in(account) for _ in range(PARALLEL)]
    ctx.step(f'"Set up passkey" in {PARALLEL} signed-in sessions of the user at once')
    prompts = _prompts(ctx, bursts, [partial(ctx.passkeys.begin_passkey_setup, s)
                                     for s in sessions], "the passkey setups")
    ctx.step("Each session registers a passkey of its own, one after another")
    devices = []
    for number, (session, prompt) in enumerate(zip(sessions, prompts, strict=True), start=1):
        device, name = ctx.passkey(), f"Passkey {number}"
        try:
            ctx.passkeys.finish_passkey_setup(session, device.create(prompt), name)
        except Refused as refusal:
            ctx.trace.note(f"{name}: refused with {refusal.code}")
            continue
        ctx.holds_passkey(account, name, device)
        devices.append(device)
    ctx.check(len(devices) == len(prompts),
              f"of {len(prompts)} passkey setups begun at once, {len(prompts) - len(devices)} "
              "had their answer over their own challenge refused: their challenges were lost "
              "to one another's")
    pending = []
    for _ in range(PARALLEL):
        signing_in = ctx.target.sign_in(account.email, account.password)
        ctx.check(signing_in.stage == "second_step",
                  f"after the password the passkey must be asked, got {signing_in.stage}")
        pending.append(signing_in.session)
    ctx.step(f"{PARALLEL} pending sign-ins of the user ask for the passkey at once")
    prompts = _prompts(ctx, bursts, [partial(ctx.passkeys.begin_passkey_sign_in, s)
                                     for s in pending], "the passkey prompts")
    ctx.step("The first passkey answers each prompt, one after another")
    answered: Counter[str] = Counter()
    with ctx.expect("locked_out"):  # the lock-out may follow prompts whose answer is refused
        for session, prompt in zip(pending, prompts, strict=True):
            try:
                ctx.passkeys.finish_passkey_sign_in(session, devices[0].get(prompt))
                answered["accepted"] += 1
            except Refused as refusal:
                answered[refusal.code] += 1
    ctx.trace.note(f"answers: {dict(answered)}")
    ctx.check(answered["accepted"] == len(prompts),
              f"of {len(prompts)} passkey sign-ins begun at once, "
              f"{len(prompts) - answered['accepted']} had their answer over their own challenge "
              f"refused ({dict(answered)}): their challenges were lost to one another's")


def _prompts(ctx: Context, bursts: Bursts, calls: list[Callable[[], Any]],
             what: str) -> list[Any]:
    """The options of ceremonies begun at once, each with a challenge of its own."""
    asked = bursts.send(calls, what)
    refused = {o.refusal.code for o in asked if o.refusal is not None}
    ctx.check(not refused, f"{what} begun at once were refused: {refused}")
    prompts = [o.result for o in asked]
    challenges = {str(p.get("challenge", "")) for p in prompts}
    ctx.check(len(challenges) == len(prompts), f"{len(prompts)} of {what} begun at once carried "
                                               f"{len(challenges)} different challenges")
    return prompts
