"""The guide's expected outcome (OUTCOME-1..OUTCOME-3), each checked end to end."""

from __future__ import annotations

from clinic2fa.scenarios.core.context import HALF_SIGNED_IN, Context
from clinic2fa.scenarios.core.model import Level, scenario


@scenario("OUTCOME-1-EVERY-SIGN-IN", verifies=["OUTCOME-1"], level=Level.MUST,
          quote="Your account requires 2FA on every sign-in")
def every_sign_in(ctx: Context) -> None:
    """Each of three sign-ins in a row asks for the second factor, none is remembered"""
    enrolled = ctx.enrol(ctx.account("staff"))
    ctx.target.sign_out(enrolled.session)
    ctx.step("First sign-in: password, then the app's code")
    ctx.second_step(enrolled)
    ctx.step("Second sign-in: password, then a backup code")
    pending = ctx.target.sign_in(enrolled.account.email, enrolled.account.password)
    ctx.check(pending.stage == "second_step",
              f"the second sign-in skipped 2FA (stage {pending.stage})")
    with ctx.accepted("a backup code at the second step"):
        ctx.target.use_backup_code(pending.session, enrolled.backup_codes[0])
    ctx.step("Third sign-in: the password alone must not be enough")
    third = ctx.target.sign_in(enrolled.account.email, enrolled.account.password)
    ctx.check(third.stage == "second_step",
              f"the third sign-in skipped 2FA (stage {third.stage})")
    with ctx.refused(HALF_SIGNED_IN, why="My Profile before the second step"):
        ctx.target.profile(third.session)


@scenario("OUTCOME-2-BACKUP-CODE", verifies=["OUTCOME-2"], level=Level.MUST,
          quote="Backup codes available if you lose phone")
def backup_code_when_phone_lost(ctx: Context) -> None:
    """Without the phone, a saved backup code completes sign-in"""
    enrolled = ctx.enrol(ctx.account("staff"))
    ctx.target.sign_out(enrolled.session)
    ctx.step("The phone is lost: sign in with the password, then a saved backup code")
    pending = ctx.target.sign_in(enrolled.account.email, enrolled.account.password)
    ctx.check(pending.stage == "second_step", f"expected the second step, got {pending.stage}")
    with ctx.accepted("a saved backup code at the second step"):
        done = ctx.target.use_backup_code(pending.session, enrolled.backup_codes[3])
    ctx.check(done.stage == "signed_in", f"the backup code should sign in, got {done.stage}")
    left, count = ctx.target.security(done.session).backup_codes_left, ctx.policy.backup_codes
    ctx.check(left == count - 1, f"after using one of {count} backup codes, Security counts "
                                 f"{left} left")


@scenario("OUTCOME-3-CLINIC-WIDE", verifies=["OUTCOME-3"], level=Level.MUST,
          quote="Owner can enforce 2FA across the clinic")
def enforced_across_the_clinic(ctx: Context) -> None:
    """Once the owner enforces 2FA, staff and admins enrol before anything else"""
    owner_session = ctx.signed_in(ctx.account("owner"))
    staff, admin = ctx.account("staff"), ctx.account("admin")
    ctx.step("Owner: 2FA enforcement: Required")
    with ctx.accepted("the owner enforcing 2FA"):
        ctx.target.set_enforcement(owner_session, True)
    ctx.cleanup(lambda: ctx.target.set_enforcement(owner_session, False), "enforcement off")
    for person in (staff, admin):
        ctx.step(f"{person.role} without 2FA signs in")
        result = ctx.target.sign_in(person.email, person.password)
        ctx.check(result.stage == "enrolment_required",
                  f"a {person.role} without 2FA got stage {result.stage} under enforcement")
        with ctx.refused("enrolment_required", why=f"My Profile before the {person.role} enrols"):
            ctx.target.profile(result.session)
    ctx.step("The staff member enrols in that sign-in, then signs in again")
    pending = ctx.target.sign_in(staff.email, staff.password)
    with ctx.accepted("enrolment from the enrolment-only sign-in"):
        enrolled = ctx.enrol(staff, session=pending.session)
    with ctx.accepted("My Profile once enrolled"):
        ctx.target.profile(enrolled.session)
    again = ctx.target.sign_in(staff.email, staff.password)
    ctx.check(again.stage == "second_step",
              f"after enrolling, the next sign-in should ask the code, got {again.stage}")
