"""Owner's 2FA enforcement: who may set it, what it forces, and what it forbids."""

from __future__ import annotations

from collections.abc import Callable

from clinic2fa.scenarios.core.context import Context
from clinic2fa.scenarios.core.model import Level, scenario


@scenario("ENFORCE-OWNER-ONLY-ROLES", verifies=["ENFORCE-OWNER-ONLY"], level=Level.MUST,
          quote="The deployment MUST let only a user with the Owner role change Settings -> "
                "Security -> 2FA enforcement, and MUST refuse the change from Admin and Staff")
def owner_only(ctx: Context) -> None:
    """Admin and staff cannot switch enforcement on or off; the owner can"""
    owner_session = ctx.signed_in(ctx.account("owner"))
    others = {role: ctx.signed_in(ctx.account(role)) for role in ("admin", "staff")}
    for role, session in others.items():
        ctx.step(f"{role}: set 2FA enforcement to Required")
        with ctx.refused("not_permitted", why=f"a {role} enforcing 2FA"):
            ctx.target.set_enforcement(session, True)
    ctx.check(not ctx.target.security(owner_session).enforcement_required,
              "enforcement is Required although only an admin or staff member asked")
    latecomer = ctx.account("staff")
    result = ctx.target.sign_in(latecomer.email, latecomer.password)
    ctx.check(result.stage == "signed_in",
              f"a refused enforcement change still forced enrolment (stage {result.stage})")
    ctx.step("The owner sets it to Required")
    with ctx.accepted("the owner enforcing 2FA"):
        ctx.target.set_enforcement(owner_session, True)
    ctx.cleanup(lambda: ctx.target.set_enforcement(owner_session, False), "enforcement off")
    for role, session in others.items():
        ctx.step(f"{role}: set 2FA enforcement back to optional")
        with ctx.refused("not_permitted", why=f"a {role} lifting enforcement"):
            ctx.target.set_enforcement(session, False)
    ctx.check(ctx.target.security(owner_session).enforcement_required,
              "an admin or staff member switched enforcement off")


@scenario("ENFORCE-OWNER-ONLY-SWITCHES-BACK", verifies=["ENFORCE-OWNER-ONLY"], level=Level.MUST,
          quote="The deployment MUST let only a user with the Owner role change Settings -> "
                "Security -> 2FA enforcement")
def owner_switches_back(ctx: Context) -> None:
    """Set back to Optional by the owner, enforcement forces and forbids nothing any more"""
    owner_session = ctx.signed_in(ctx.account("owner"))
    enrolled = ctx.enrol(ctx.account("staff"))
    latecomer = ctx.account("staff")
    ctx.step("The owner sets 2FA enforcement to Required, then back to Optional")
    ctx.target.set_enforcement(owner_session, True)
    ctx.cleanup(lambda: ctx.target.set_enforcement(owner_session, False), "enforcement off")
    with ctx.accepted("the owner setting enforcement back to Optional"):
        ctx.target.set_enforcement(owner_session, False)
    ctx.check(not ctx.target.security(owner_session).enforcement_required,
              "Security still shows enforcement Required after the owner set it to Optional")
    ctx.step("A user without 2FA signs in")
    result = ctx.target.sign_in(latecomer.email, latecomer.password)
    ctx.check(result.stage == "signed_in", "enforcement set back to Optional still sends a user "
                                           f"without 2FA to stage {result.stage}")
    ctx.step("A user with 2FA may disable it again")
    with ctx.accepted("Disable 2FA once enforcement is Optional again"):
        ctx.target.disable_2fa(enrolled.session, enrolled.account.password)


@scenario("ENFORCE-FORCES-ENROLMENT-NEXT-SIGN-IN", verifies=["ENFORCE-FORCES-ENROLMENT"],
          level=Level.MUST,
          quote="a user without 2FA who signs in with a correct password MUST complete enrolment")
def enrol_at_next_sign_in(ctx: Context) -> None:
    """Under enforcement every role without 2FA is sent to enrolment, the owner included"""
    owner = ctx.account("owner")
    owner_session = ctx.signed_in(owner)
    admin, staff = ctx.account("admin"), ctx.account("staff")
    ctx.target.set_enforcement(owner_session, True)
    ctx.cleanup(lambda: ctx.target.set_enforcement(owner_session, False), "enforcement off")
    for person in (staff, admin, owner):
        ctx.step(f"The {person.role} signs in")
        result = ctx.target.sign_in(person.email, person.password)
        ctx.check(result.stage == "enrolment_required",
                  f"under enforcement the {person.role} without 2FA got stage {result.stage}")
    ctx.step("The staff member enrols; the same sign-in then reaches the clinic")
    pending = ctx.target.sign_in(staff.email, staff.password)
    with ctx.accepted("enrolment from the enrolment-only sign-in"):
        enrolled = ctx.enrol(staff, session=pending.session)
    with ctx.accepted("My Profile after enrolling"):
        ctx.target.profile(enrolled.session)


@scenario("ENFORCE-FORCES-ENROLMENT-ONLY-SETUP", verifies=["ENFORCE-FORCES-ENROLMENT"],
          level=Level.MUST,
          quote="before the deployment lets them reach anything else")
def only_setup_before_enrolling(ctx: Context) -> None:
    """An enrolment-only sign-in reaches the setup screen and nothing else"""
    owner_session = ctx.signed_in(ctx.account("owner"))
    admin = ctx.account("admin")
    other = ctx.enrol(ctx.account("staff"))
    ctx.target.set_enforcement(owner_session, True)
    ctx.cleanup(lambda: ctx.target.set_enforcement(owner_session, False), "enforcement off")
    pending = ctx.target.sign_in(admin.email, admin.password)
    ctx.check(pending.stage == "enrolment_required",
              f"under enforcement an admin without 2FA got stage {pending.stage}")
    token = pending.session
    actions: dict[str, Callable[[], object]] = {
        "My Profile": lambda: ctx.target.profile(token),
        "regenerating backup codes":
            lambda: ctx.target.regenerate_backup_codes(token, admin.password),
        "Disable 2FA": lambda: ctx.target.disable_2fa(token, admin.password),
    }
    if ctx.offers("admin_reset"):
        actions["Settings -> Staff"] = lambda: ctx.target.staff(token)
        actions["disabling another user's 2FA"] = \
            lambda: ctx.target.disable_2fa_for(token, other.account.email)
    for what, action in actions.items():
        ctx.step(f"Try {what} before enrolling")
        with ctx.refused("enrolment_required", why=f"{what} before enrolling"):
            action()
    # An admin may not change enforcement anyway; either refusal grants nothing.
    with ctx.refused(("enrolment_required", "not_permitted"),
                     why="2FA enforcement before enrolling"):
        ctx.target.set_enforcement(token, False)
    ctx.step('"Set up authenticator app" is open')
    with ctx.accepted('"Set up authenticator app" before enrolling'):
        ctx.target.start_authenticator_setup(token)


@scenario("DISABLE-ENFORCED-REFUSED", verifies=["DISABLE-ENFORCED"], level=Level.MUST,
          quote="While 2FA enforcement is Required, the deployment MUST refuse a user's request to "
                "disable their own 2FA, whatever their role")
def no_self_disable_when_enforced(ctx: Context) -> None:
    """Under enforcement, staff, admin and owner cannot disable their own 2FA"""
    owner_enrolled = ctx.enrol(ctx.account("owner"))  # its 2FA goes off again afterwards
    people = [ctx.enrol(ctx.account("staff")), ctx.enrol(ctx.account("admin")), owner_enrolled]
    ctx.target.set_enforcement(owner_enrolled.session, True)
    ctx.cleanup(lambda: ctx.target.set_enforcement(owner_enrolled.session, False),
                "enforcement off")
    for person in people:
        role = person.account.role
        ctx.step(f"The {role}: Settings -> Security -> Disable 2FA, with the password")
        with ctx.refused("enforced", why=f"the {role} disabling 2FA under enforcement"):
            ctx.target.disable_2fa(person.session, person.account.password)
        ctx.check(ctx.target.security(person.session).two_factor_enabled,
                  f"the {role}'s 2FA went off although the refusal said it is enforced")
