"""Sign-in: the second step after the password, what a half-finished sign-in may do, all paths."""

from __future__ import annotations

from collections.abc import Callable

from clinic2fa.scenarios.contract import Refused
from clinic2fa.scenarios.core import params, stored
from clinic2fa.scenarios.core.context import HALF_SIGNED_IN, Context
from clinic2fa.scenarios.core.model import Level, Needs, scenario


@scenario("SIGNIN-SECOND-STEP-ASKED", verifies=["SIGNIN-SECOND-STEP"], level=Level.MUST,
          quote="after a correct password and before granting a session, ask for a second factor")
def second_factor_asked(ctx: Context) -> None:
    """With 2FA on, a correct password leads to the second step, not into the clinic"""
    enrolled = ctx.enrol(ctx.account("staff"))
    ctx.step("Sign in with the correct password")
    pending = ctx.target.sign_in(enrolled.account.email, enrolled.account.password)
    ctx.check(pending.stage == "second_step",
              f"a correct password alone gave stage {pending.stage}")
    with ctx.refused(HALF_SIGNED_IN, why="My Profile before the second factor"):
        ctx.target.profile(pending.session)
    ctx.step("Enter the code: now the session reaches the clinic")
    with ctx.accepted("a fresh code"):
        done = ctx.target.enter_code(pending.session, ctx.fresh_code(enrolled))
    with ctx.accepted("My Profile after the second factor"):
        ctx.target.profile(done.session)


@scenario("SIGNIN-SECOND-STEP-NO-REMEMBERED-DEVICE", verifies=["SIGNIN-SECOND-STEP"],
          level=Level.MUST, quote="on every sign-in, with no remember-this-device exemption")
def no_remembered_device(ctx: Context) -> None:
    """Right after a completed sign-in, the next sign-in asks for the second factor again"""
    enrolled = ctx.enrol(ctx.account("staff"))
    ctx.step("Complete a sign-in with the code")
    ctx.second_step(enrolled)
    ctx.step("Sign in again at once, from the same harness")
    again = ctx.target.sign_in(enrolled.account.email, enrolled.account.password)
    ctx.check(again.stage == "second_step",
              f"a sign-in right after a completed one skipped 2FA (stage {again.stage})")


@scenario("SIGNIN-SECOND-STEP-OWN-FACTOR", verifies=["SIGNIN-SECOND-STEP"], level=Level.MUST,
          quote="after a correct password and before granting a session, ask for a second factor")
def own_factor_only(ctx: Context) -> None:
    """Another user's current code and unused backup code do not pass this user's second step"""
    mine, theirs = ctx.enrol(ctx.account("staff")), ctx.enrol(ctx.account("staff"))
    pending = ctx.target.sign_in(mine.account.email, mine.account.password)
    ctx.step("Type the colleague's current 6-digit code")
    code = ctx.stale_code(theirs.phone, mine.phone)  # theirs, and never also one of mine
    ctx.trace.secrets.add(code)
    with ctx.refused("code_rejected", why="another user's current code"):
        ctx.target.enter_code(pending.session, code)
    ctx.step("Type one of the colleague's unused backup codes")
    with ctx.refused("code_rejected", why="another user's unused backup code"):
        ctx.target.use_backup_code(pending.session, theirs.backup_codes[0])
    ctx.step("The user's own code signs in")
    with ctx.accepted("the user's own code after the colleague's were refused"):
        done = ctx.target.enter_code(pending.session, ctx.fresh_code(mine))
    ctx.check(done.stage == "signed_in", f"the user's own code gave stage {done.stage}")


@scenario("SIGNIN-SECOND-STEP-ONLY-AFTER-PASSWORD", verifies=["SIGNIN-SECOND-STEP"],
          level=Level.MUST, quote="after a correct password")
def only_after_correct_password(ctx: Context) -> None:
    """A wrong password is refused the same way whether or not the account has 2FA"""
    enrolled = ctx.enrol(ctx.account("staff"))
    plain = ctx.account("staff")
    refusals = {}
    for label, email, password in (
            ("an account with 2FA", enrolled.account.email, enrolled.account.password + "x"),
            ("an account without 2FA", plain.email, plain.password + "x")):
        ctx.step(f"Sign in to {label} with a wrong password")
        with ctx.refused("invalid_credentials", why=f"a wrong password for {label}"):
            try:
                ctx.target.sign_in(email, password)
            except Refused as refusal:
                refusals[label] = refusal.message
                raise
    ctx.check(len(set(refusals.values())) == 1,
              "the wrong-password message differs with 2FA: it reveals which accounts have it")


@scenario("SIGNIN-PENDING-GRANTS-NOTHING", verifies=["SIGNIN-PENDING-GRANTS-NOTHING"],
          level=Level.MUST,
          quote="MUST allow only the second step itself (or, under enforcement, enrolment) and "
                "MUST refuse every other page and API call")
def pending_grants_nothing(ctx: Context) -> None:
    """Between password and code, every page and action is refused, and none takes effect.

    What a pending sign-in must not get is the action's effect: any refusal counts, whatever
    its reason (Flask-Security-Too's Disable answers "not enrolled": its pending session sees
    no 2FA to disable), and then the account is looked at: a refusal with the effect done
    fails, as an action let through does.
    """
    enrolled = ctx.enrol(ctx.account("staff"))
    other = ctx.enrol(ctx.account("staff"))
    before = {person.account.email: _account_state(ctx, person.session)
              for person in (enrolled, other)}
    enforced = bool(before[enrolled.account.email]["enforcement"])
    ctx.step("A user with 2FA enters the password only")
    pending = ctx.target.sign_in(enrolled.account.email, enrolled.account.password)
    ctx.check(pending.stage == "second_step", f"expected the second step, got {pending.stage}")
    token, password = pending.session, enrolled.account.password
    actions: dict[str, Callable[[], object]] = {
        "My Profile": lambda: ctx.target.profile(token),
        "Security settings": lambda: ctx.target.security(token),
        "Set up authenticator app": lambda: ctx.target.start_authenticator_setup(token),
        "confirming enrolment": lambda: ctx.target.confirm_enrolment(token, "123456"),
        "regenerating backup codes": lambda: ctx.target.regenerate_backup_codes(token, password),
        "Disable 2FA": lambda: ctx.target.disable_2fa(token, password),
    }
    if ctx.offers("passkeys"):
        actions["Set up passkey"] = lambda: ctx.passkeys.begin_passkey_setup(token)
    # Staff may not reach these anyway (a staff account is used because a deployment shares
    # its one owner and admin): a refusal of any kind has granted nothing.
    if ctx.offers("admin_reset"):
        actions["Settings -> Staff"] = lambda: ctx.target.staff(token)
        actions["disabling another user's 2FA"] = \
            lambda: ctx.target.disable_2fa_for(token, other.account.email)
    if ctx.offers("enforcement"):
        actions["2FA enforcement"] = lambda: ctx.target.set_enforcement(token, not enforced)
    for what, action in actions.items():
        ctx.step(f"Try {what} with the half-finished sign-in")
        ctx.refused_somehow(f"{what} before the second step", action, *HALF_SIGNED_IN)
    ctx.step("Nothing took effect: both accounts are as they were, and both still have 2FA")
    for person in (enrolled, other):
        email = person.account.email
        after = _account_state(ctx, person.session)
        ctx.check(after == before[email],
                  f"{email}'s account changed through a half-finished sign-in",
                  expected=str(before[email]), got=str(after))
        again = ctx.target.sign_in(email, person.account.password)
        ctx.check(again.stage == "second_step",
                  f"{email} lost 2FA through a half-finished sign-in")
    if enrolled.backup_codes:
        ctx.step("The backup codes were not replaced: one of the first list still signs in")
        again = ctx.target.sign_in(enrolled.account.email, password)
        with ctx.accepted("a backup code issued before the half-finished sign-in"):
            done = ctx.target.use_backup_code(again.session, enrolled.backup_codes[0])
        ctx.check(done.stage == "signed_in",
                  "the backup codes were replaced through a half-finished sign-in")


def _account_state(ctx: Context, session: str) -> dict[str, object]:
    """What a half-finished sign-in's actions would change, as the user's own session sees it."""
    seen = ctx.target.security(session)
    return {"2FA on": seen.two_factor_enabled, "authenticator app": seen.authenticator_app,
            "backup codes left": seen.backup_codes_left, "passkeys": sorted(seen.passkeys),
            "enforcement": seen.enforcement_required}


@scenario("SIGNIN-PENDING-EXPIRES", verifies=["SIGNIN-PENDING-EXPIRES"], level=Level.SHOULD,
          quote="A pending sign-in SHOULD expire after a short, fixed lifetime")
def pending_expires(ctx: Context) -> None:
    """A pending sign-in left for longer than its declared lifetime no longer takes a code"""
    lifetime = ctx.policy.pending_seconds
    ctx.require_wait(lifetime + 1, "the declared lifetime of a pending sign-in")
    enrolled = ctx.enrol(ctx.account("staff"))
    pending = ctx.target.sign_in(enrolled.account.email, enrolled.account.password)
    minutes = f"{lifetime / 60:g} minutes"
    ctx.step(f"Leave the code screen for {minutes} and a second")
    ctx.wait(lifetime + 1, "the declared lifetime of a pending sign-in")
    with ctx.refused(("sign_in_expired", "not_signed_in"),
                     why=f"a valid code in a pending sign-in older than {minutes}"):
        ctx.target.enter_code(pending.session, ctx.fresh_code(enrolled))
    ctx.step("Enter the password again, then the code")
    with ctx.accepted("a new sign-in after the expiry"):
        ctx.second_step(enrolled)


@scenario("SAME-STRENGTH-SECOND-STEP-PATHS", verifies=["SAME-STRENGTH-ALL-PATHS"],
          level=Level.MUST,
          quote="with no path that yields a session from the password alone")
def every_second_step_path_checks(ctx: Context) -> None:
    """Every way to finish the second step wants a valid factor: code, backup code, passkey"""
    enrolled = ctx.enrol(ctx.account("staff"))
    pending = ctx.target.sign_in(enrolled.account.email, enrolled.account.password)
    token = pending.session
    ctx.step("A wrong 6-digit code")
    with ctx.refused("code_rejected", why="a wrong 6-digit code"):
        ctx.target.enter_code(token, ctx.wrong_code(enrolled.phone))
    ctx.step("A wrong backup code")
    with ctx.refused("code_rejected", why="a wrong backup code"):
        ctx.target.use_backup_code(token, _reversed(enrolled.backup_codes[0]))
    ctx.step("An empty 6-digit code and an empty backup code")
    with ctx.refused(("code_rejected", "invalid_request"), why="an empty 6-digit code"):
        ctx.target.enter_code(token, "")
    with ctx.refused(("code_rejected", "invalid_request"), why="an empty backup code"):
        ctx.target.use_backup_code(token, "")
    if ctx.offers("passkeys"):
        ctx.step("A passkey sign-in for a user who has no passkey")
        # not_enrolled, or the one answer the deployment gives every bad second factor
        with ctx.refused(("not_enrolled", "code_rejected"),
                         why="a passkey second step without any passkey"):
            ctx.passkeys.begin_passkey_sign_in(token)
    with ctx.refused(HALF_SIGNED_IN, why="My Profile after the failed attempts"):
        ctx.target.profile(token)


@scenario("SAME-STRENGTH-ENROLMENT-NO-BYPASS", verifies=["SAME-STRENGTH-ALL-PATHS"],
          level=Level.MUST,
          quote="and enrolment under enforcement, as the web sign-in")
def enrolment_cannot_be_skipped(ctx: Context) -> None:
    """Under enforcement, the second-step endpoints do not let a user skip enrolment"""
    owner_session = ctx.signed_in(ctx.account("owner"))
    staff = ctx.account("staff")
    ctx.target.set_enforcement(owner_session, True)
    ctx.cleanup(lambda: ctx.target.set_enforcement(owner_session, False), "enforcement off")
    pending = ctx.target.sign_in(staff.email, staff.password)
    ctx.check(pending.stage == "enrolment_required",
              f"under enforcement a user without 2FA got stage {pending.stage}")
    token = pending.session
    attempts: dict[str, Callable[[], object]] = {
        "a 6-digit code": lambda: ctx.target.enter_code(token, "123456"),
        "a backup code": lambda: ctx.target.use_backup_code(token, "abcde-fghjk"),
    }
    if ctx.offers("passkeys"):
        attempts["a passkey sign-in"] = lambda: ctx.passkeys.begin_passkey_sign_in(token)
    for what, attempt in attempts.items():
        ctx.step(f"Try to finish sign-in with {what} instead of enrolling")
        with ctx.refused("enrolment_required", why=f"{what} in place of enrolment"):
            attempt()
    with ctx.refused("enrolment_required", why="My Profile before enrolling"):
        ctx.target.profile(token)


@scenario("PASSWORD-HASH-STORAGE", verifies=["PASSWORD-HASH"], level=Level.MUST,
          quote="The deployment MUST store passwords only as salted hashes of an approved "
                "password hashing function", needs=(Needs.PASSWORD_STORE,))
def passwords_hashed(ctx: Context) -> None:
    """Passwords are kept only as hashes of themselves by the declared approved function, each
    with its own salt

    Read from the store where the target lays it open, else as the owner's pages show it (a
    hash masked as Django's admin masks it). Masked, the function, cost and salt length are
    seen, which is what the rule is about; the hash is then not compared with the password (a
    check of the store's honesty where it is seen whole), and salts alike in the part shown are
    not called shared. The cost parameters are reported, not judged: a test clinic may run
    cheaper ones (the reference's defaults are OWASP's minimum, tests/test_core_signin.py)."""
    declared = ctx.policy.password_hash
    owner = "" if Needs.INSPECT in ctx.capabilities else ctx.signed_in(ctx.account("owner"))
    salts = []
    for account in (ctx.account("staff"), ctx.account("staff")):
        ctx.step(f"Read how the clinic stores {account.email}'s password")
        kept = ctx.stored_password(owner, account.email)
        found = stored.parse_password(kept)
        ctx.check(found is not None, "the stored password is not a hash of an approved password "
                                     f"hashing function ({', '.join(stored.PASSWORD_FUNCTIONS)})")
        if found is None or not isinstance(kept, str):
            return
        ctx.check(found.function == declared, f"the stored password is a {found.function} hash, "
                                              f"not {declared} as declared ([policy] "
                                              "password_hash)")
        shown = ", shown masked" if found.masked else ""
        ctx.trace.note(f"{found.function} {found.cost}, salt {len(found.salt)} bytes{shown}")
        least = params.PASSWORD_SALT_MIN_BITS
        ctx.check(len(found.salt) * 8 >= least,
                  f"the salt has {len(found.salt)} bytes, under {least} bits")
        ctx.check(not stored.plain(kept, account.password), "the password is stored in plain")
        same = stored.matches_password(kept, account.password)
        if found.masked:  # the rule is the form it is kept in, which the page shows
            ctx.trace.note("the hash itself is masked on the page: not compared with the "
                           "password")
        elif same is None:
            ctx.unverified(f"that the {found.function} hash is of the account's password: no "
                           "verifier for it here")
        else:
            ctx.check(same, "the stored hash is not a hash of the account's password")
        salts.append(found)
    if len(salts) == 2:
        first, second = (found.visible_salt() for found in salts)
        if first == second and (salts[0].masked or salts[1].masked):
            ctx.unverified("that the two accounts' salts differ: the parts shown are the same")
        else:
            ctx.check(first != second, "two accounts' password hashes share one salt")


def _reversed(code: str) -> str:
    """Same characters and shape as a real backup code, but not that code."""
    return code[::-1]
