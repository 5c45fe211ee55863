"""A walk through the guide's steps on the reference, printed step by step: a smoke run."""

from __future__ import annotations

from collections.abc import Callable

from clinic2fa.simulator.clinic import Clinic, Stage
from clinic2fa.simulator.clock import FakeClock
from clinic2fa.simulator.errors import ErrorCode, TwoFactorError
from clinic2fa.simulator.policy import FAST_HASH, Policy
from clinic2fa.simulator.users import Role
from clinic2fa.simulator.virtual.authenticator_app import AuthenticatorApp


def run(say: Callable[[str], None] = print) -> bool:
    """Play the guide on a fresh clinic; True when every step behaved as the guide says."""
    clock = FakeClock()
    clinic = Clinic(clock=clock, policy=Policy(hash_cost=FAST_HASH))
    clinic.add_user("owner@clinic.test", "owner-pass", Role.OWNER)
    clinic.add_user("staff@clinic.test", "staff-pass", Role.STAFF)
    phone = AuthenticatorApp(clock.now)
    checks: list[tuple[str, bool]] = []

    def step(label: str, ok: bool) -> None:
        checks.append((label, ok))
        say(f"{'ok  ' if ok else 'FAIL'} {label}")

    session = clinic.sign_in("owner@clinic.test", "owner-pass").token
    step("STEP-1 Open Security settings", not clinic.security(session).two_factor_enabled)
    setup = clinic.start_authenticator_setup(session)
    step("STEP-2 Set up authenticator app: QR code and manual-entry secret",
         setup.manual_entry.replace(" ", "") in setup.uri)
    phone.scan(setup.qr_png)
    step("STEP-3 Scan the QR code", phone.accounts[-1].issuer == "MyDentalPractice")
    codes = clinic.confirm_authenticator(session, phone.code())
    step("STEP-4 Confirm enrolment with the 6-digit code",
         clinic.security(session).two_factor_enabled)
    step("STEP-5 Save backup codes: 10 one-time codes", len(codes) == 10)
    clinic.sign_out(session)
    clock.advance(30)
    pending = clinic.sign_in("owner@clinic.test", "owner-pass")
    signed = clinic.enter_code(pending.token, phone.code())
    step("STEP-6 Sign out and sign in to test: the code is asked after the password",
         pending.stage is Stage.SECOND_STEP and signed.stage is Stage.SIGNED_IN)
    clinic.set_enforcement(signed.token, required=True)
    staff = clinic.sign_in("staff@clinic.test", "staff-pass")
    try:
        clinic.profile(staff.token)
        forced = False
    except TwoFactorError as refusal:
        forced = refusal.code is ErrorCode.ENROLMENT_REQUIRED
    step("STEP-8 Owner enforces 2FA: staff must enrol at next sign-in", forced)
    again = clinic.sign_in("owner@clinic.test", "owner-pass")
    step("OUTCOME-2 A backup code signs in when the phone is lost",
         clinic.use_backup_code(again.token, codes[0]).stage is Stage.SIGNED_IN)
    passed = all(ok for _, ok in checks)
    say(f"{sum(ok for _, ok in checks)}/{len(checks)} guide steps behaved as the guide says")
    return passed
