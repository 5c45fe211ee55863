"""Disabling one's own 2FA: the password again, and then every factor is gone."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from clinic2fa.scenarios.core.context import Context
from clinic2fa.scenarios.core.model import Level, scenario


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
