"""The virtual authenticator app against the reference: QR and typed round trips, bad URIs, skew."""

from __future__ import annotations

import base64
from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from clinic2fa.simulator.clinic import Clinic, Setup, Stage
from clinic2fa.simulator.clock import FakeClock
from clinic2fa.simulator.errors import ErrorCode, Reason, TwoFactorError
from clinic2fa.simulator.policy import FAST_HASH, Policy
from clinic2fa.simulator.users import Role
from clinic2fa.simulator.virtual.authenticator_app import AuthenticatorApp, DeviceError, parse_uri

EMAIL, PASSWORD = "nurse@clinic.test", "nurse-Pa55-gentle-floss"
PERIOD = 30
START = 1_800_000_000.0  # a multiple of 30: step edges are easy to reach
RFC_SHA256_SEED = base64.b32encode(b"12345678901234567890123456789012").decode()

Edit = Callable[[str], str]


def fresh_clinic(start: float = START) -> tuple[Clinic, FakeClock]:
    """A clinic with one staff member and a frozen server clock."""
    clock = FakeClock(start)
    clinic = Clinic(clock=clock, policy=Policy(hash_cost=FAST_HASH))
    clinic.add_user(EMAIL, PASSWORD, Role.STAFF)
    return clinic, clock


def start_setup(clinic: Clinic) -> tuple[str, Setup]:
    token = clinic.sign_in(EMAIL, PASSWORD).token
    return token, clinic.start_authenticator_setup(token)


def enrolled(start: float = START) -> tuple[Clinic, FakeClock, AuthenticatorApp]:
    """Enrolled by scanning the QR code with an exact phone clock."""
    clinic, clock = fresh_clinic(start)
    token, setup = start_setup(clinic)
    phone = AuthenticatorApp(clock.now)
    phone.scan(setup.qr_png)
    clinic.confirm_authenticator(token, phone.code())
    return clinic, clock, phone


def second_step(clinic: Clinic) -> str:
    signed = clinic.sign_in(EMAIL, PASSWORD)
    assert signed.stage is Stage.SECOND_STEP
    return signed.token


def refusal(clinic: Clinic, token: str, code: str) -> TwoFactorError:
    with pytest.raises(TwoFactorError) as caught:
        clinic.enter_code(token, code)
    return caught.value


# -- round trips --------------------------------------------------------------------------------


def test_KEY_URI_qr_png_scanned_then_code_accepted_at_setup_and_sign_in() -> None:
    clinic, clock, phone = enrolled()
    token = second_step(clinic)
    clock.advance(PERIOD)
    done = clinic.enter_code(token, phone.code())
    assert done.stage is Stage.SIGNED_IN
    assert clinic.profile(done.token).email == EMAIL  # the new token (SESSION-NEW-TOKEN)


@pytest.mark.parametrize("typed", [
    lambda grouped: grouped,  # "ABCD EFGH ..." as shown
    lambda grouped: grouped.lower(),
    lambda grouped: grouped.replace(" ", ""),
    lambda grouped: "  " + grouped.lower().replace(" ", "  ") + " ",
    lambda grouped: grouped.replace(" ", "-"),
], ids=["as-shown", "lower-case", "no-spaces", "extra-spaces", "dashes"])
def test_MANUAL_SECRET_typed_secret_gives_codes_the_clinic_accepts(typed: Edit) -> None:
    clinic, clock = fresh_clinic()
    token, setup = start_setup(clinic)
    phone = AuthenticatorApp(clock.now)
    account = phone.type_secret(typed(setup.manual_entry), "MyDentalPractice", EMAIL)
    assert (account.algorithm, account.digits, account.period) == ("SHA1", 6, 30)
    assert len(clinic.confirm_authenticator(token, phone.code())) == 10


def test_MANUAL_SECRET_broken_camera_refuses_the_qr_but_typing_works() -> None:
    clinic, clock = fresh_clinic()
    token, setup = start_setup(clinic)
    phone = AuthenticatorApp(clock.now, camera_works=False)
    with pytest.raises(DeviceError, match="camera"):
        phone.scan(setup.qr_png)
    assert phone.accounts == []
    phone.type_secret(setup.manual_entry)
    clinic.confirm_authenticator(token, phone.code())
    assert clinic.security(token).two_factor_enabled


def test_KEY_URI_scan_refuses_a_picture_without_a_qr_code() -> None:
    with pytest.raises(DeviceError):
        AuthenticatorApp().scan(b"not a png")


def test_KEY_URI_every_parameter_is_read() -> None:
    """algorithm, digits and period change the code: RFC 6238 vector SHA-256, t=59."""
    uri = (f"otpauth://totp/Lab%20Co:ann%40lab.test?secret={RFC_SHA256_SEED}"
           "&issuer=Lab%20Co&algorithm=SHA256&digits=8&period=30")
    account = parse_uri(uri)
    assert (account.issuer, account.account) == ("Lab Co", "ann@lab.test")
    assert (account.algorithm, account.digits, account.period) == ("SHA256", 8, 30)
    assert AuthenticatorApp(lambda: 59.0).code(account) == "46119246"
    longer = parse_uri(uri.replace("period=30", "period=60"))
    assert longer.period == 60
    assert AuthenticatorApp(lambda: 59.0).step(longer) == 0


@pytest.mark.parametrize(("change", "reason"), [
    (lambda u: u.replace("otpauth://", "https://"), "otpauth://totp"),
    (lambda u: u.replace("otpauth://totp/", "otpauth://hotp/"), "otpauth://totp"),
    (lambda u: u.replace("secret=", "secrets="), "no secret"),
    (lambda u: u.replace("issuer=MyDentalPractice", "issuer=Evil%20Corp"), "issuer"),
    (lambda u: u.replace("digits=6", "digits=six"), "must be numbers"),
    (lambda u: u.replace("digits=6", "digits=5"), "unusable digits"),
    (lambda u: u.replace("digits=6", "digits=12"), "unusable digits"),
    (lambda u: u.replace("period=30", "period=0"), "period=0"),
    (lambda u: u.replace("SHA1", "MD5"), "algorithm"),
    (lambda u: u.replace("secret=", "secret=1"), "base32"),
    (lambda u: u.replace("secret=", "secret=A"), "base32"),
    (lambda u: u + "&secret=JBSWY3DPEHPK3PXPJBSWY3DPEH", "repeats"),
], ids=["https-scheme", "hotp", "no-secret", "issuer-mismatch", "digits-not-a-number",
        "digits-5", "digits-12", "period-0", "unknown-algorithm", "base32-digit-1",
        "base32-bad-length", "repeated-secret"])
def test_KEY_URI_malformed_uris_are_refused_with_a_reason(change: Edit, reason: str) -> None:
    clinic, _ = fresh_clinic()
    _, setup = start_setup(clinic)
    phone = AuthenticatorApp()
    with pytest.raises(DeviceError, match=reason):
        phone.add_uri(change(setup.uri))
    assert phone.accounts == []


@pytest.mark.parametrize(("secret", "reason"), [
    ("", "too short"), ("   ", "too short"), ("JBSWY3DPEHPK3PXP", "too short"),  # 80 bits
    ("JBSW Y3DP EHPK 3PX!", "base32"), ("0000 0000 0000 0000 0000 0000", "base32"),
])
def test_MANUAL_SECRET_unusable_typed_secrets_are_refused(secret: str, reason: str) -> None:
    with pytest.raises(DeviceError, match=reason):
        AuthenticatorApp().type_secret(secret)


def test_TOTP_STEP_code_for_any_step_and_per_device_offset() -> None:
    clinic, clock = fresh_clinic()
    _, setup = start_setup(clinic)
    exact, fast = AuthenticatorApp(clock.now), AuthenticatorApp(clock.now, offset=95)
    exact.scan(setup.qr_png)
    fast.scan(setup.qr_png)
    assert fast.step() == exact.step() + 3
    assert fast.code() == exact.code_at_step(exact.step() + 3)
    assert exact.code() == fast.code_at_step(exact.step())
    fast.sync_clock()
    assert fast.code() == exact.code()


# -- skew: the server's clock is frozen, only the phone's moves ---------------------------------


def signed_in_with_offset(server_time: float, offset: float) -> tuple[Clinic, AuthenticatorApp,
                                                                      str, str]:
    """Enrol long before `server_time`, then offer the code of a phone `offset` seconds off."""
    clinic, clock, phone = enrolled()
    clock.set(server_time)
    token = second_step(clinic)
    phone.offset = offset
    return clinic, phone, token, phone.code()


@pytest.mark.parametrize(("phase", "offset"), [
    (15, +30), (15, -30),  # mid-step, a whole step either way
    (0, +29), (0, -29), (29, +29), (29, -29),  # near the edges of a step
    (0, -30), (29, +30),  # exactly one step away at the edge
])
def test_TOTP_WINDOW_offsets_inside_one_step_are_accepted(phase: int, offset: int) -> None:
    clinic, _, token, code = signed_in_with_offset(START + 3600 + phase, offset)
    assert clinic.enter_code(token, code).stage is Stage.SIGNED_IN


@pytest.mark.parametrize(("phase", "offset"), [
    (15, +90), (15, -90), (0, -31), (29, +31), (15, +300), (15, -300),
])
def test_SKEW_REASON_offsets_outside_the_window_are_time_skew_until_the_phone_syncs(
        phase: int, offset: int) -> None:
    clinic, phone, token, code = signed_in_with_offset(START + 3600 + phase, offset)
    refused = refusal(clinic, token, code)
    assert (refused.code, refused.reason) == (ErrorCode.CODE_REJECTED, Reason.TIME_SKEW)
    assert "Sync your phone's clock" in refused.message
    phone.sync_clock()
    assert clinic.enter_code(token, phone.code()).stage is Stage.SIGNED_IN


@given(offset=st.integers(min_value=-600, max_value=600),
       phase=st.integers(min_value=0, max_value=PERIOD - 1))
def test_SKEW_REASON_accepted_iff_within_the_window_else_skew_or_wrong(offset: int,
                                                                        phase: int) -> None:
    server_time = START + 3600 + phase
    clinic, phone, token, code = signed_in_with_offset(server_time, offset)
    distance = phone.step() - int(server_time // PERIOD)
    if abs(distance) <= clinic.policy.window:
        assert clinic.enter_code(token, code).stage is Stage.SIGNED_IN
        return
    refused = refusal(clinic, token, code)
    expected = Reason.TIME_SKEW if abs(distance) <= clinic.policy.skew_horizon else \
        Reason.WRONG_CODE
    assert (refused.code, refused.reason) == (ErrorCode.CODE_REJECTED, expected)
