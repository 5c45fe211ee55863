"""Setting up the authenticator app: confirmation first, and a fresh secret on every retry."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from clinic2fa.scenarios.contract import Refused
from clinic2fa.scenarios.core.context import Context, Enrolled
from clinic2fa.scenarios.core.model import Level, scenario


@scenario("SETUP-CONFIRM-OFF-UNTIL-CONFIRMED", verifies=["SETUP-CONFIRM"], level=Level.MUST,
          quote="until then MUST keep the previous sign-in behaviour and treat the pending secret "
                "as unconfirmed")
def off_until_confirmed(ctx: Context) -> None:
    """A started but unconfirmed setup, or a wrong code, leaves sign-in as it was"""
    account = ctx.account("staff")
    session = ctx.signed_in(account)
    ctx.step('Click "Set up authenticator app" and scan, but do not confirm yet')
    setup = ctx.target.start_authenticator_setup(session)
    phone = ctx.phone()
    ctx.scan(phone, setup.qr_png)
    ctx.check(not ctx.target.security(session).two_factor_enabled,
              "2FA is on before the code was confirmed")
    ctx.step("Meanwhile, sign in elsewhere: the password is still enough")
    result = ctx.target.sign_in(account.email, account.password)
    ctx.check(result.stage == "signed_in",
              f"an unconfirmed setup changed sign-in: stage {result.stage}")
    ctx.step("A wrong code does not confirm")
    with ctx.refused("code_rejected", "wrong_code", why="a wrong code at confirmation"):
        ctx.target.confirm_enrolment(session, ctx.wrong_code(phone))
    result = ctx.target.sign_in(account.email, account.password)
    ctx.check(result.stage == "signed_in",
              f"a refused confirmation changed sign-in: stage {result.stage}")
    ctx.step("The app's code confirms: from now on the code is asked")
    with ctx.accepted("the app's code at confirmation"):
        ctx.confirm_again(session, phone, phone.code)
    result = ctx.target.sign_in(account.email, account.password)
    ctx.check(result.stage == "second_step",
              f"after confirmation the code should be asked, got {result.stage}")


@scenario("SETUP-FRESH-SECRET-OLD-CODE-REFUSED", verifies=["SETUP-FRESH-SECRET"],
          level=Level.MUST,
          quote="MUST then reject codes from any earlier pending secret, including at confirmation")
def old_pending_secret_refused(ctx: Context) -> None:
    """Starting setup again, here or in another browser, shows a new secret; a code of an
    earlier one no longer confirms, even on the earlier screen still open in its own browser"""
    account = ctx.account("staff")
    session = ctx.signed_in(account)
    first = ctx.target.start_authenticator_setup(session)
    old_phone = ctx.phone()
    ctx.scan(old_phone, first.qr_png)
    ctx.step('In a second browser the same user signs in and clicks "Set up authenticator app"')
    other = ctx.signed_in(account)
    second = ctx.target.start_authenticator_setup(other)
    ctx.check(_secret(first.uri) != _secret(second.uri),
              "the setup in the second browser shows the first one's secret")
    phone = ctx.phone()
    ctx.scan(phone, second.qr_png)
    ctx.step("Back in the first browser, its screen still open: confirm with its QR code's code")
    with ctx.refused("code_rejected", "wrong_code",
                     why="a code of the earlier secret, on its own screen, after a new setup "
                         "in another browser"):
        ctx.target.confirm_enrolment(session, ctx.stale_code(old_phone, phone))
    ctx.check(not ctx.target.security(session).two_factor_enabled,
              "the abandoned secret's code turned 2FA on")
    ctx.step('Click "Set up authenticator app" again in the first browser')
    third = ctx.target.start_authenticator_setup(session)
    ctx.check(_secret(third.uri) not in (_secret(first.uri), _secret(second.uri)),
              "the third setup shows an earlier secret")
    newest = ctx.phone()
    ctx.scan(newest, third.qr_png)
    ctx.step("Confirm with the second QR code's code")
    with ctx.refused("code_rejected", "wrong_code", why="a code of the abandoned secret"):
        ctx.target.confirm_enrolment(session, ctx.stale_code(phone, newest))
    ctx.check(not ctx.target.security(session).two_factor_enabled,
              "the abandoned secret's code turned 2FA on")
    with ctx.accepted("the new secret's code at confirmation"):
        ctx.confirm_again(session, newest, newest.code)


@scenario("SETUP-FRESH-SECRET-KEEPS-CONFIRMED", verifies=["SETUP-FRESH-SECRET"],
          level=Level.MUST,
          quote="Each time a user starts \"Set up authenticator app\" the deployment MUST generate "
                "a new secret and QR code")
def confirmed_secret_not_replaced(ctx: Context) -> None:
    """A setup started while enrolled never shows the old secret nor replaces it unconfirmed"""
    enrolled = ctx.enrol(ctx.account("staff"))
    enrolled_secret = enrolled.phone.accounts[-1].secret
    ctx.step('Click "Set up authenticator app" while an app is already set up')
    new_phone = None
    try:
        setup = ctx.target.start_authenticator_setup(enrolled.session)
    except Refused as refusal:
        ctx.check(refusal.code == "already_enrolled",
                  f"a new setup while enrolled was refused with {refusal.code}, "
                  "not already_enrolled")
    else:
        ctx.check(_secret(setup.uri) != enrolled_secret,
                  "a new setup shows the enrolled secret again")
        new_phone = ctx.phone()
        ctx.scan(new_phone, setup.qr_png)
    ctx.step("Sign in: the confirmed app's code still works, an unconfirmed one's does not")
    pending = ctx.target.sign_in(enrolled.account.email, enrolled.account.password)
    if new_phone is not None:
        with ctx.refused("code_rejected", why="the unconfirmed new secret's code"):
            ctx.target.enter_code(pending.session, ctx.stale_code(new_phone, enrolled.phone))
    _sign_in_with(ctx, enrolled, pending.session)


def _sign_in_with(ctx: Context, enrolled: Enrolled, session: str) -> None:
    with ctx.accepted("the confirmed app's code"):
        done = ctx.target.enter_code(session, ctx.fresh_code(enrolled))
    ctx.check(done.stage == "signed_in", f"the code should sign in, got {done.stage}")


def _secret(uri: str) -> str:
    return parse_qs(urlsplit(uri).query).get("secret", [""])[0].upper().rstrip("=")
