"""Sessions across a raise in privilege: a new token, and the old one refused (no fixation)."""

from __future__ import annotations

from collections.abc import Callable

from clinic2fa.scenarios.core.context import Context
from clinic2fa.scenarios.core.model import Level, Needs, scenario

DEAD = ("not_signed_in", "sign_in_expired")  # what a token the deployment let go answers


def _renewed(ctx: Context, session: str, before: tuple[str, ...], step: str,
             again: Callable[[str], object] | None = None) -> None:
    """After `step`: the client holds new credentials, the old ones reach nothing, the new do.

    "Refuse the previous token from then on" is strict: an old token that still reaches a
    step of its own (a second step, an enrolment) is alive, and whoever planted it passes that
    step as anyone would. Only a dead token's answers count as refused; `again` (the step
    itself, on the old token, with a wrong code: an alive token answers "wrong code") must be
    refused as dead too, whatever My Profile showed.
    """
    after = ctx.replay.session_credentials(session)
    ctx.check(after != before, f"after {step} the client holds the same session token (or "
                               "cookies) as before it: whoever held the old one is signed in too")
    ctx.step(f"Present the token (or cookies) from before {step} again, as its copier would")
    replayed = ctx.replay.replay_session(before)
    with ctx.refused(DEAD, why=f"the session token from before {step} (a token that still "
                               "reaches a step of its own is alive, not refused)"):
        ctx.target.profile(replayed)
    if again is not None:
        ctx.step(f"With the token from before {step}, try that step again, as its copier would")
        with ctx.refused(DEAD, why=f"{step} again on the session token from before it"):
            again(ctx.replay.replay_session(before))
    with ctx.accepted(f"My Profile with the session after {step}"):
        ctx.target.profile(session)


@scenario("SESSION-NEW-TOKEN-SECOND-STEP", verifies=["SESSION-NEW-TOKEN"], level=Level.MUST,
          quote="the deployment MUST issue a new session token (for the pages, a new session "
                "cookie) and MUST refuse the previous token from then on",
          needs=(Needs.SESSIONS,))
def new_token_at_the_second_step(ctx: Context) -> None:
    """Passing the second step (code or backup code) gives a new token; the pending one is dead"""
    enrolled = ctx.enrol(ctx.account("staff"))
    for how in ("a 6-digit code", "a backup code"):
        ctx.step(f"Sign in with the password, then {how}")
        pending = ctx.target.sign_in(enrolled.account.email, enrolled.account.password)
        ctx.check(pending.stage == "second_step",
                  f"after the password the second step must be asked, got {pending.stage}")
        before = ctx.replay.session_credentials(pending.session)
        with ctx.accepted(f"the second step with {how}"):
            if how == "a backup code":
                ctx.target.use_backup_code(pending.session, enrolled.backup_codes.pop(0))
            else:
                ctx.target.enter_code(pending.session, ctx.fresh_code(enrolled))
        _renewed(ctx, pending.session, before, f"the second step with {how}",
                 lambda old: ctx.target.enter_code(old, ctx.wrong_code(enrolled.phone)))


@scenario("SESSION-NEW-TOKEN-ENROLMENT", verifies=["SESSION-NEW-TOKEN"], level=Level.MUST,
          quote="and completing enrolment while 2FA is enforced", needs=(Needs.SESSIONS,))
def new_token_at_enrolment(ctx: Context) -> None:
    """Completing enrolment under enforcement gives a new token; the enrolment-only one is dead"""
    owner_session = ctx.signed_in(ctx.account("owner"))
    staff = ctx.account("staff")
    ctx.target.set_enforcement(owner_session, True)
    ctx.cleanup(lambda: ctx.target.set_enforcement(owner_session, False), "enforcement off")
    ctx.step("Under enforcement a user without 2FA signs in and must enrol")
    pending = ctx.target.sign_in(staff.email, staff.password)
    ctx.check(pending.stage == "enrolment_required",
              f"under enforcement a user without 2FA got stage {pending.stage}")
    before = ctx.replay.session_credentials(pending.session)
    with ctx.accepted("enrolment from the enrolment-only sign-in"):
        ctx.enrol(staff, session=pending.session)
    _renewed(ctx, pending.session, before, "completing enrolment")
