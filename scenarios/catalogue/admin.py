"""Settings -> Staff: who may disable whose 2FA, what that ends, and the record of it."""

from __future__ import annotations

from typing import Any

from clinic2fa.scenarios.catalogue.disable import nothing_old_survives
from clinic2fa.scenarios.core import stored
from clinic2fa.scenarios.core.context import Context, Enrolled
from clinic2fa.scenarios.core.model import Level, Needs, scenario


@scenario("ADMIN-DISABLE-ROLES-ALLOWED", verifies=["ADMIN-DISABLE-ROLES"], level=Level.MUST,
          quote="let the Owner disable 2FA for any other user and an Admin for any other user "
                "except the Owner from Settings -> Staff")
def owner_and_admin_may(ctx: Context) -> None:
    """The owner and an admin each disable a staff member's 2FA from Settings -> Staff"""
    # Staff subjects only: a deployment has one owner and one admin, shared by all scenarios.
    actors = {"owner": ctx.signed_in(ctx.account("owner")),
              "admin": ctx.signed_in(ctx.account("admin"))}
    for actor, session in actors.items():
        subject = ctx.enrol(ctx.account("staff"))
        ctx.step(f"The {actor}: Settings -> Staff -> disable the staff member's 2FA")
        with ctx.accepted(f"the {actor} disabling a staff member's 2FA"):
            ctx.target.disable_2fa_for(session, subject.account.email)
        ctx.check(not _two_factor(ctx, session, subject.account.email),
                  "Settings -> Staff still shows 2FA on for the staff member")
        result = ctx.target.sign_in(subject.account.email, subject.account.password)
        ctx.check(result.stage == "signed_in",
                  f"the staff member's sign-in still asks a second factor (stage {result.stage})")


@scenario("ADMIN-DISABLE-ROLES-REFUSED", verifies=["ADMIN-DISABLE-ROLES"], level=Level.MUST,
          quote="MUST refuse the action from Staff, from an Admin against the Owner, and against "
                "one's own account")
def staff_and_self_refused(ctx: Context) -> None:
    """Staff cannot disable anyone's 2FA, an admin not the owner's, nobody their own"""
    owner = ctx.enrol(ctx.account("owner"))  # owner and admin get their 2FA off again after
    admin = ctx.enrol(ctx.account("admin"))
    staff = ctx.enrol(ctx.account("staff"))
    colleague = ctx.enrol(ctx.account("staff"))
    attempts: list[tuple[str, Enrolled, Enrolled]] = [
        ("a staff member disabling a colleague's 2FA", staff, colleague),
        ("an admin disabling the owner's 2FA", admin, owner),
        ("an admin disabling their own 2FA from Settings -> Staff", admin, admin),
        ("the owner disabling their own 2FA from Settings -> Staff", owner, owner),
    ]
    for what, actor, subject in attempts:
        ctx.step(what)
        with ctx.refused("not_permitted", why=what):
            ctx.target.disable_2fa_for(actor.session, subject.account.email)
    ctx.step("Everyone still has 2FA")
    for person in (owner, admin, staff, colleague):
        ctx.check(_two_factor(ctx, owner.session, person.account.email),
                  f"{person.account.role} {person.account.email} lost 2FA after a refusal")


@scenario("ADMIN-DISABLE-ENDS-SESSIONS", verifies=["ADMIN-DISABLE-ENDS-SESSIONS"],
          level=Level.MUST,
          quote="the deployment MUST end all of that user's sessions and pending sign-ins and "
                "remove their TOTP secret, backup codes and passkeys at once")
def reset_ends_sessions(ctx: Context) -> None:
    """After an admin disables a user's 2FA, their sessions are gone and so are their factors"""
    admin_session = ctx.signed_in(ctx.account("admin"))
    enrolled = ctx.enrol(ctx.account("staff"))
    if ctx.offers("passkeys"):
        ctx.add_passkey(enrolled.session, name="Security key")
    ctx.step("The user has two open sessions and a half-finished sign-in")
    second = ctx.target.sign_in(enrolled.account.email, enrolled.account.password)
    second_full = ctx.target.use_backup_code(second.session, enrolled.backup_codes[0]).session
    pending = ctx.target.sign_in(enrolled.account.email, enrolled.account.password)
    ctx.step("The admin disables the user's 2FA (the phone was stolen)")
    ctx.target.disable_2fa_for(admin_session, enrolled.account.email)
    for label, session in (("the session they enrolled from", enrolled.session),
                           ("their other session", second_full)):
        with ctx.refused("not_signed_in", why=f"{label} after the admin's reset"):
            ctx.target.profile(session)
    with ctx.refused(("not_signed_in", "sign_in_expired"),
                     why="the half-finished sign-in after the admin's reset"):
        ctx.target.enter_code(pending.session, ctx.fresh_code(enrolled))
    ctx.step("Signing in again: no factor is left")
    fresh = ctx.target.sign_in(enrolled.account.email, enrolled.account.password)
    ctx.check(fresh.stage == "signed_in",
              f"after the reset the password should be enough, got {fresh.stage}")
    security = ctx.target.security(fresh.session)
    ctx.check(not security.authenticator_app, "the authenticator app is still set up")
    ctx.check(security.backup_codes_left == 0,
              f"{security.backup_codes_left} backup codes are still valid")
    ctx.check(not security.passkeys, f"passkeys {security.passkeys} are still registered")


@scenario("ADMIN-DISABLE-NOTHING-OLD-SURVIVES", verifies=["ADMIN-DISABLE-ENDS-SESSIONS"],
          level=Level.MUST,
          quote="remove their TOTP secret, backup codes and passkeys at once")
def nothing_old_after_admin_reset(ctx: Context) -> None:
    """After an admin's reset and a new setup, the old app's codes, backup codes and passkey fail"""
    admin_session = ctx.signed_in(ctx.account("admin"))
    enrolled = ctx.enrol(ctx.account("staff"))
    old_key = ctx.add_passkey(enrolled.session, name="Old key") \
        if ctx.offers("passkeys") else None
    ctx.step("The admin disables the user's 2FA from Settings -> Staff")
    ctx.target.disable_2fa_for(admin_session, enrolled.account.email)
    nothing_old_survives(ctx, enrolled, old_key)


@scenario("AUDIT-LOG-RECORDED", verifies=["AUDIT-LOG"], level=Level.SHOULD,
          quote="The deployment SHOULD record each 2FA security event (enrolment, second-step "
                "success and failure, lock-out, backup code use and regeneration, self and "
                "admin disable, enforcement change, passkey added or removed) with when, who "
                "and to whom, and never with a password, secret, code or backup code.",
          needs=frozenset({Needs.INSPECT}))
def events_recorded(ctx: Context) -> None:
    """Enrolment, second steps, backup codes, enforcement and an admin's disable are recorded,
    each with when, who and to whom, no password, secret or code in any of them, and no lock-out
    that did not happen"""
    owner, admin, staff = ctx.account("owner"), ctx.account("admin"), ctx.account("staff")
    owner_session, admin_session = ctx.signed_in(owner), ctx.signed_in(admin)
    enrolled = ctx.enrol(staff)
    secrets = [staff.password, owner.password, admin.password,
               enrolled.phone.accounts[-1].secret, *enrolled.backup_codes]
    ctx.step("At the second step: a wrong code, then a right one")
    pending = ctx.target.sign_in(staff.email, staff.password)
    with ctx.refused("code_rejected", why="a wrong code"):
        ctx.target.enter_code(pending.session, ctx.wrong_code(enrolled.phone))
    right = ctx.fresh_code(enrolled)
    secrets.append(right)
    ctx.target.enter_code(pending.session, right)
    ctx.step("Sign in with a backup code, then regenerate the codes")
    pending = ctx.target.sign_in(staff.email, staff.password)
    session = ctx.target.use_backup_code(pending.session, enrolled.backup_codes[0]).session
    secrets += ctx.target.regenerate_backup_codes(session, staff.password)
    ctx.step("The owner enforces 2FA, then makes it optional again")
    ctx.target.set_enforcement(owner_session, True)
    ctx.cleanup(lambda: ctx.target.set_enforcement(owner_session, False), "enforcement off")
    ctx.target.set_enforcement(owner_session, False)
    ctx.step("The admin disables the staff member's 2FA (a lost phone)")
    ctx.target.disable_2fa_for(admin_session, staff.email)
    ctx.step("Read the audit log")
    now = ctx.target.server_time()
    entries = [e for e in ctx.audit_log()
               if {_folded(e.get("actor")), _folded(e.get("subject"))}
               & {_folded(p.email) for p in (owner, staff)}]
    for event, actor, subject in (
            ("enrolment_confirmed", staff, staff), ("second_step_failed", staff, staff),
            ("second_step_passed", staff, staff), ("backup_code_used", staff, staff),
            ("backup_codes_regenerated", staff, staff), ("enforcement_changed", owner, owner),
            ("two_factor_disabled", admin, staff)):
        ctx.check(any(e.get("event") == event and _folded(e.get("actor")) == _folded(actor.email)
                      and _folded(e.get("subject")) == _folded(subject.email)
                      and isinstance(e.get("at"), int | float) and abs(e["at"] - now) < 3600
                      for e in entries),
                  f"no {event} entry by {actor.role} for {subject.role} with its time")
    limit = ctx.policy.rate_limit
    if limit.model == "lockout" and limit.max_failures > 1:  # one wrong code locked nothing
        untrue = [str(e.get("event")) for e in entries
                  if e.get("event") in ("locked_out", "blocked")
                  and _folded(e.get("subject")) == _folded(staff.email)]
        ctx.check(not untrue, f"after one wrong code (the lock-out comes after "
                              f"{limit.max_failures}) the audit log records {untrue}")
    said = [str(v) for e in entries for k, v in e.items() if k != "at"]  # times hold digits
    leaked = len(stored.mentioned(said, secrets))
    ctx.check(leaked == 0, f"the audit log holds {leaked} passwords, secrets or codes")


def _folded(value: object) -> str:
    return str(value or "").strip().casefold()


def _two_factor(ctx: Context, session: str, email: str) -> bool:
    rows: list[dict[str, Any]] = ctx.target.staff(session)
    row = next((r for r in rows if str(r.get("email", "")).casefold() == email.casefold()), None)
    ctx.check(row is not None, f"Settings -> Staff does not list {email}")
    return bool(row and row.get("two_factor_enabled"))
