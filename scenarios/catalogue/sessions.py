"""Sessions across a raise in privilege: a new token, and the old one refused (no fixation)."""

from __future__ import annotations

from clinic2fa.scenarios.core.context import Context
from clinic2fa.scenarios.core.model import Level, Needs, scenario

DEAD = ("not_signed_in", "sign_in_expired")  # what a token the deployment let go answers


def _renewed(ctx: Context, session: str, before: tuple[str, ...], step: str,
             still_there: tuple[str, ...]) -> None:
    """After `step`: the client holds new credentials, the old ones reach nothing, the new do."""
    after = ctx.replay.session_credentials(session)
    ctx.check(after != before, f"after {step} the client holds the same session token (or "
                               "cookies) as before it: whoever held the old one is signed in too")
    ctx.step(f"Present the token (or cookies) from before {step} again, as its copier would")
    replayed = ctx.replay.replay_session(before)
    with ctx.refused((*DEAD, *still_there), why=f"the session token from before {step}"):
        ctx.target.profile(replayed)
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
        # a pending token still alive refuses My Profile as second_step_required: it reaches
        # nothing but a second step of its own, which its holder has to pass as anyone would
        _renewed(ctx, pending.session, before, f"the second step with {how}",
                 ("second_step_required",))


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
    _renewed(ctx, pending.session, before, "completing enrolment", ("enrolment_required",))
