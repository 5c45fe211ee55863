"""Disabling one's own 2FA: the password again, and then every factor is gone."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import parse_qs, urlsplit

from clinic2fa.scenarios.contract import PasskeyDevice
from clinic2fa.scenarios.core.context import Context, Enrolled
from clinic2fa.scenarios.core.model import Level, Needs, scenario


@scenario("DISABLE-REAUTH-PASSWORD", verifies=["DISABLE-REAUTH"], level=Level.MUST,
          quote="disable a user's own 2FA only after the user re-enters their current password "
                "in that request")
def password_again(ctx: Context) -> None:
    """Disable 2FA is refused without the current password, even in a full session"""
    enrolled = ctx.enrol(ctx.account("staff"))
    for label, password in (("a wrong password", enrolled.account.password + "x"),
                            ("no password", "")):
        ctx.step(f"Disable 2FA with {label}")
        with ctx.refused("password_required", why=f"Disable 2FA with {label}"):
            ctx.target.disable_2fa(enrolled.session, password)
        ctx.check(ctx.target.security(enrolled.session).two_factor_enabled,
                  f"2FA went off with {label}")
    ctx.step("Disable 2FA with the current password")
    with ctx.accepted("Disable 2FA with the current password"):
        ctx.target.disable_2fa(enrolled.session, enrolled.account.password)
    ctx.check(not ctx.target.security(enrolled.session).two_factor_enabled,
              "2FA is still on after Disable 2FA with the password")


@scenario("DISABLE-REAUTH-REMOVES-FACTORS", verifies=["DISABLE-REAUTH"], level=Level.MUST,
          quote="MUST then remove their TOTP secret, backup codes and passkeys")
def factors_removed(ctx: Context) -> None:
    """After Disable 2FA no app, backup code or passkey is left, and a new setup is new"""
    enrolled = ctx.enrol(ctx.account("staff"))
    old_secret = enrolled.phone.accounts[-1].secret
    if ctx.offers("passkeys"):
        ctx.add_passkey(enrolled.session, name="Security key")
    ctx.step("Disable 2FA with the password")
    ctx.target.disable_2fa(enrolled.session, enrolled.account.password)
    security = ctx.target.security(enrolled.session)
    ctx.check(not security.authenticator_app, "the authenticator app is still set up")
    ctx.check(security.backup_codes_left == 0,
              f"{security.backup_codes_left} backup codes are still valid")
    ctx.check(not security.passkeys, f"passkeys {security.passkeys} are still registered")
    result = ctx.target.sign_in(enrolled.account.email, enrolled.account.password)
    ctx.check(result.stage == "signed_in",
              f"after Disable 2FA the password should be enough, got {result.stage}")
    ctx.step('"Set up authenticator app" again gives a new secret')
    setup = ctx.target.start_authenticator_setup(enrolled.session)
    new_secret = parse_qs(urlsplit(setup.uri).query).get("secret", [""])[0].upper()
    ctx.check(new_secret.rstrip("=") != old_secret, "the removed secret came back in a new setup")


@scenario("DISABLE-REAUTH-NOTHING-OLD-SURVIVES", verifies=["DISABLE-REAUTH"], level=Level.MUST,
          quote="MUST then remove their TOTP secret, backup codes and passkeys")
def nothing_old_after_self_disable(ctx: Context) -> None:
    """After Disable 2FA and a new setup, the old app's codes, backup codes and passkey fail"""
    enrolled = ctx.enrol(ctx.account("staff"))
    old_key = _with_passkey(ctx, enrolled)
    ctx.step("Disable 2FA with the password")
    ctx.target.disable_2fa(enrolled.session, enrolled.account.password)
    nothing_old_survives(ctx, enrolled, old_key)


def _with_passkey(ctx: Context, enrolled: Enrolled) -> PasskeyDevice | None:
    """A passkey beside the app, where the target has passkeys: it must go with the rest."""
    if Needs.PASSKEYS not in ctx.capabilities:
        return None
    return ctx.add_passkey(enrolled.session, name="Old key")


def nothing_old_survives(ctx: Context, old: Enrolled, old_key: PasskeyDevice | None) -> None:
    """Once 2FA was disabled, the user enrols a new phone: nothing of the old enrolment works.

    Shared by the self-disable and the admin's reset: whoever disabled it, every old secret,
    backup code and passkey is dead, also once a new enrolment is there to hide behind.
    """
    ctx.step("The user sets up the authenticator app again, on a new phone")
    again = ctx.enrol(old.account, session=ctx.signed_in(old.account))
    pending = ctx.target.sign_in(old.account.email, old.account.password)
    ctx.check(pending.stage == "second_step",
              f"after the new enrolment the code must be asked, got {pending.stage}")
    tries: list[tuple[str, Callable[[], object]]] = [
        ("a code of the old phone", lambda: ctx.target.enter_code(
            pending.session, ctx.stale_code(old.phone, again.phone))),
        ("a backup code of the old enrolment", lambda: ctx.target.use_backup_code(
            pending.session, old.backup_codes[-1]))]
    for label, attempt in tries:
        ctx.step(f"Sign in with {label}")
        with ctx.refused("code_rejected", why=f"{label} after 2FA was disabled and set up again"):
            attempt()
    if old_key is not None:
        ctx.step("Sign in with the old passkey")
        with ctx.refused(("not_enrolled", "passkey_unknown_credential"),
                         why="the old passkey after 2FA was disabled and set up again"):
            options = ctx.passkeys.begin_passkey_sign_in(pending.session)
            ctx.passkeys.finish_passkey_sign_in(pending.session, old_key.get(options))
    ctx.step("The new phone's code signs in")
    with ctx.accepted("the new phone's code"):
        ctx.target.enter_code(pending.session, ctx.fresh_code(again))


@scenario("DISABLE-ENFORCED-LAST-PASSKEY", verifies=["DISABLE-ENFORCED"], level=Level.MUST,
          quote="While 2FA enforcement is Required, the deployment MUST refuse a user's request "
                "to disable their own 2FA",
          needs=(Needs.PASSKEYS,))
def last_passkey_kept_under_enforcement(ctx: Context) -> None:
    """Under enforcement, removing one's only passkey (which would turn 2FA off) is refused"""
    owner_session = ctx.signed_in(ctx.account("owner"))
    account = ctx.account("staff")
    session = ctx.signed_in(account)
    ctx.add_passkey(session, name="Only key")
    ctx.step("The owner sets 2FA enforcement to Required")
    ctx.target.set_enforcement(owner_session, True)
    ctx.cleanup(lambda: ctx.target.set_enforcement(owner_session, False), "enforcement off")
    ctx.step("The user removes their only passkey, password given")
    with ctx.refused("enforced", why="removing the last factor under enforcement"):
        ctx.passkeys.remove_passkey(session, "Only key", account.password)
    security = ctx.target.security(session)
    ctx.check(security.two_factor_enabled and security.passkeys == ("Only key",),
              f"under enforcement the only passkey went: 2FA on {security.two_factor_enabled}, "
              f"passkeys {security.passkeys}")
