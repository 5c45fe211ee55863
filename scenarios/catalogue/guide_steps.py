"""The guide's eight steps (STEP-1..STEP-8), each walked as a person would."""

from __future__ import annotations

from clinic2fa.scenarios.core import params
from clinic2fa.scenarios.core.context import Context
from clinic2fa.scenarios.core.model import Level, Needs, scenario

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@scenario("STEP-1-SECURITY-SETTINGS", verifies=["STEP-1"], level=Level.MUST,
          quote="Open Security settings. Avatar → My Profile → Security, or Settings → Security.")
def open_security_settings(ctx: Context) -> None:
    """Security settings open for a signed-in user and show 2FA off before setup"""
    account = ctx.account("staff")
    ctx.step("Sign in with the password and open Settings -> Security")
    session = ctx.signed_in(account)
    with ctx.accepted("opening Security settings"):
        security = ctx.target.security(session)
    ctx.check(not security.two_factor_enabled, "Security shows 2FA on before any setup")
    ctx.check(not security.authenticator_app,
              "Security shows an authenticator app before any was set up")
    ctx.check(security.backup_codes_left == 0,
              f"Security shows {security.backup_codes_left} backup codes before any setup")


@scenario("STEP-2-SETUP-SCREEN", verifies=["STEP-2"], level=Level.MUST,
          quote='Click "Set up authenticator app". A QR code displays with a manual-entry secret '
                "beside it.")
def setup_screen(ctx: Context) -> None:
    """"Set up authenticator app" shows a QR code with a manual-entry secret beside it"""
    account = ctx.account("staff")
    session = ctx.signed_in(account)
    ctx.step('Click "Set up authenticator app"')
    with ctx.accepted('"Set up authenticator app"'):
        setup = ctx.target.start_authenticator_setup(session)
    ctx.check(setup.qr_png.startswith(PNG_SIGNATURE), "the setup screen shows no QR code image")
    ctx.check(bool(setup.manual_entry.strip()), "the setup screen shows no manual-entry secret")
    ctx.check(setup.uri.startswith("otpauth://"), "the setup screen's QR code holds no Key URI")


@scenario("STEP-3-SCAN-QR", verifies=["STEP-3"], level=Level.MUST,
          quote="Open your authenticator app. Tap +Scan QR code. Scan the code on screen.")
def scan_qr(ctx: Context) -> None:
    """The authenticator app scans the QR code and adds an entry under the declared issuer"""
    account = ctx.account("staff")
    session = ctx.signed_in(account)
    setup = ctx.target.start_authenticator_setup(session)
    ctx.step("Open the authenticator app, tap +, Scan QR code")
    phone = ctx.phone()
    entry = ctx.scan(phone, setup.qr_png)
    ctx.check(entry.issuer == ctx.policy.issuer, f"the app lists the entry under "
              f"{entry.issuer!r}, not the declared issuer {ctx.policy.issuer!r}")
    ctx.check(entry.account.casefold() == account.email.casefold(),
              f"the app's entry names {entry.account!r}, not the user's email")
    ctx.check(len(phone.code()) == params.DIGITS,
              f"the app shows no {params.DIGITS}-digit code for the scanned entry")


@scenario("STEP-4-CONFIRM-ENROLMENT", verifies=["STEP-4"], level=Level.MUST,
          quote="Confirm enrolment. The app shows a 6-digit rotating code. Type it into the "
                "platform's verification field.")
def confirm_enrolment(ctx: Context) -> None:
    """Typing the app's 6-digit code confirms enrolment; a wrong code does not"""
    account = ctx.account("staff")
    session = ctx.signed_in(account)
    setup = ctx.target.start_authenticator_setup(session)
    phone = ctx.phone()
    ctx.scan(phone, setup.qr_png)
    ctx.step("Type a code the app does not show into the verification field")
    wrong = ctx.wrong_code(phone)
    with ctx.refused("code_rejected", "wrong_code", why="a wrong code at confirmation"):
        ctx.target.confirm_enrolment(session, wrong)
    ctx.check(not ctx.target.security(session).two_factor_enabled,
              "a wrong confirmation code turned 2FA on")
    ctx.step("Type the app's current code")
    with ctx.accepted("the app's current code at confirmation"):
        ctx.confirm_again(session, phone, phone.code)
    security = ctx.target.security(session)
    ctx.check(security.two_factor_enabled and security.authenticator_app,
              "confirming with the app's code did not turn 2FA on")


@scenario("STEP-5-BACKUP-CODES", verifies=["STEP-5"], level=Level.MUST,
          quote="Save backup codes. A list of 10 one-time-use codes appears.")
def backup_codes(ctx: Context) -> None:
    """A list of distinct backup codes appears, as many as declared (the guide's 10)"""
    enrolled = ctx.enrol(ctx.account("staff"))
    codes, count = enrolled.backup_codes, ctx.policy.backup_codes
    ctx.check(len(codes) == count, f"{len(codes)} backup codes appeared, not {count}")
    ctx.check(len({_normal(c) for c in codes}) == len(codes), "the backup codes repeat")
    left = ctx.target.security(enrolled.session).backup_codes_left
    ctx.check(left == count, f"Security counts {left} backup codes left, not {count}")


@scenario("STEP-6-SIGN-IN-TEST", verifies=["STEP-6"], level=Level.MUST,
          quote="Sign out, sign in. After password, the platform asks for the 6-digit code. "
                "Enter it.")
def sign_out_and_in(ctx: Context) -> None:
    """After signing out, sign-in asks for the 6-digit code after the password"""
    enrolled = ctx.enrol(ctx.account("staff"))
    ctx.step("Sign out")
    ctx.target.sign_out(enrolled.session)
    with ctx.refused("not_signed_in", why="the signed-out session"):
        ctx.target.profile(enrolled.session)
    ctx.step("Sign in: password first")
    pending = ctx.target.sign_in(enrolled.account.email, enrolled.account.password)
    ctx.check(pending.stage == "second_step",
              f"after the password the platform should ask for the code, got {pending.stage}")
    ctx.step("Enter the 6-digit code")
    with ctx.accepted("the app's 6-digit code at sign-in"):
        done = ctx.target.enter_code(pending.session, ctx.fresh_code(enrolled))
    ctx.check(done.stage == "signed_in", f"the code should complete sign-in, got {done.stage}")
    with ctx.accepted("My Profile after the second step"):
        ctx.target.profile(done.session)


@scenario("STEP-7-ADD-PASSKEY", verifies=["STEP-7"], level=Level.MUST,
          quote="Optionally add a passkey too.", needs=(Needs.PASSKEYS,))
def add_passkey(ctx: Context) -> None:
    """A passkey added next to the app is listed and completes the second step"""
    enrolled = ctx.enrol(ctx.account("staff"))
    ctx.step("Security -> Set up passkey")
    with ctx.accepted("Set up passkey"):
        device = ctx.add_passkey(enrolled.session, name="Laptop")
    security = ctx.target.security(enrolled.session)
    ctx.check("Laptop" in security.passkeys, f"Security lists passkeys {security.passkeys}, "
              "without the one just added")
    ctx.step("Sign out, sign in, and use the passkey as the second step")
    ctx.target.sign_out(enrolled.session)
    with ctx.accepted("the passkey at the second step"):
        ctx.passkey_second_step(enrolled.account, device)


@scenario("STEP-8-ENFORCE", verifies=["STEP-8"], level=Level.MUST,
          quote="Owner only. Settings → Security → 2FA enforcement: Required. After change, "
                "every user must enable 2FA on their next sign-in.")
def owner_enforces(ctx: Context) -> None:
    """The owner sets 2FA enforcement to Required; a user without 2FA must enrol next sign-in"""
    owner = ctx.account("owner")
    staff = ctx.account("staff")
    owner_session = ctx.signed_in(owner)
    ctx.step("Owner: Settings -> Security -> 2FA enforcement: Required")
    with ctx.accepted("the owner setting 2FA enforcement to Required"):
        ctx.target.set_enforcement(owner_session, True)
    ctx.cleanup(lambda: ctx.target.set_enforcement(owner_session, False), "enforcement off")
    ctx.check(ctx.target.security(owner_session).enforcement_required,
              "Security does not show enforcement as Required after the owner set it")
    ctx.step("A user without 2FA signs in")
    result = ctx.target.sign_in(staff.email, staff.password)
    ctx.check(result.stage == "enrolment_required",
              f"a user without 2FA should have to enrol, got {result.stage}")


def _normal(code: str) -> str:
    return "".join(code.split()).replace("-", "").lower()

