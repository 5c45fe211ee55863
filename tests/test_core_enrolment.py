"""Enrolment on the reference: secret, Key URI, QR codes, manual entry, confirmation, retries."""

from __future__ import annotations

import base64
import io
import re
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, urlsplit

import pyotp
import pytest
import zxingcpp
from PIL import Image

from clinic2fa.scenarios.core import qr
from clinic2fa.simulator.clinic import Clinic, Setup, Stage
from clinic2fa.simulator.errors import ErrorCode, Reason, TwoFactorError
from clinic2fa.simulator.virtual.authenticator_app import AuthenticatorApp, DeviceError

if TYPE_CHECKING:
    from conftest import Cast, Helpers, Person

BASE32 = re.compile(r"[A-Z2-7]+")


def decode(png: bytes) -> str:
    found = zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))
    assert len(found) == 1, "exactly one QR code expected"
    return found[0].text


def start(clinic: Clinic, person: Person) -> tuple[str, Setup]:
    """Sign in (no 2FA yet) and click "Set up authenticator app"."""
    token = clinic.sign_in(person.email, person.password).token
    return token, clinic.start_authenticator_setup(token)


def refusal(exc: pytest.ExceptionInfo[TwoFactorError]) -> tuple[ErrorCode, Reason | None]:
    return exc.value.code, exc.value.reason


# -- TOTP-SECRET-SIZE ---------------------------------------------------------------------------


def test_TOTP_SECRET_SIZE_160_bit_base32_secret_unique_per_setup(
        clinic: Clinic, people: Cast, helpers: type[Helpers]) -> None:
    seen: set[str] = set()
    for person in people.all():
        token = clinic.sign_in(person.email, person.password).token
        for _ in range(5):  # every restart is a new setup with its own secret
            setup = clinic.start_authenticator_setup(token)
            secret = parse_qs(urlsplit(setup.uri).query)["secret"][0]
            assert BASE32.fullmatch(secret), "base32 without padding"
            assert len(base64.b32decode(secret)) == 20  # 160 bits
            assert secret == helpers.user_record(clinic, person.email).pending_secret
            seen.add(secret)
    assert len(seen) == 4 * 5


# -- KEY-URI ------------------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["owner", "admin", "staff", "staff2"])
def test_KEY_URI_issuer_in_label_and_parameter_account_is_email(
        clinic: Clinic, people: Cast, who: str) -> None:
    person: Person = getattr(people, who)
    _, setup = start(clinic, person)
    uri = setup.uri
    parts = urlsplit(uri)
    assert (parts.scheme, parts.netloc) == ("otpauth", "totp")
    # The label is URL-encoded: '@' travels as %40 (pyotp and the Key Uri Format agree).
    assert parts.path == "/MyDentalPractice:" + person.email.replace("@", "%40")
    query = {k: v for k, [v] in parse_qs(parts.query, strict_parsing=True).items()}
    assert query["issuer"] == "MyDentalPractice"
    assert BASE32.fullmatch(query["secret"]) and "=" not in query["secret"]
    # Stated explicitly, and equal to TOTP-STEP: apps that ignore them still agree.
    assert (query["algorithm"], query["digits"], query["period"]) == ("SHA1", "6", "30")
    account = AuthenticatorApp().add_uri(uri)
    assert (account.issuer, account.account) == ("MyDentalPractice", person.email)


def test_KEY_URI_png_qr_code_decodes_to_the_uri(clinic: Clinic, people: Cast) -> None:
    _, setup = start(clinic, people.staff)
    assert setup.qr_png.startswith(b"\x89PNG")
    assert decode(setup.qr_png) == setup.uri


def test_KEY_URI_svg_qr_code_decodes_to_the_uri(clinic: Clinic, people: Cast) -> None:
    _, setup = start(clinic, people.staff)
    svg: str = setup.qr_svg
    assert svg.lstrip().startswith("<svg") and "<?xml" not in svg, "inline SVG"
    assert qr.read(qr.from_svg(svg)).text == setup.uri


@pytest.mark.parametrize("form", ["svg", "png"])
def test_QR_READABLE_each_image_has_its_own_background_and_quiet_zone(
        clinic: Clinic, people: Cast, form: str) -> None:
    """Read on black, as a reader that takes transparency for black sees it."""
    _, setup = start(clinic, people.staff)
    image = qr.from_svg(setup.qr_svg) if form == "svg" else qr.from_png(setup.qr_png)
    reading = qr.read(image)
    assert reading.text == setup.uri
    assert reading.quiet_zone >= 4


def test_QR_READABLE_the_check_sees_a_transparent_image() -> None:
    """The control: the same symbol without a background reads as nothing on black."""
    import segno

    code = segno.make("otpauth://totp/MyDentalPractice:x?secret=AAAAAAAAAAAAAAAA", error="m")
    out = io.BytesIO()
    code.save(out, kind="svg", scale=4, light=None, xmldecl=False)
    assert qr.read(qr.from_svg(out.getvalue().decode())).text is None
    out = io.BytesIO()
    code.save(out, kind="png", scale=4, border=1)
    assert qr.read(qr.from_png(out.getvalue())).quiet_zone == 1


@pytest.mark.parametrize("factor", [3.4, 3.78, 4.6, 5.13])
@pytest.mark.parametrize("border", [4, 3])
def test_QR_READABLE_quiet_zone_of_an_image_scaled_by_a_fraction(border: int,
                                                                 factor: float) -> None:
    """A screenshot of a page scales by a fraction (an SVG in mm at 96 dpi): blurred edge
    pixels must neither cost the quiet zone a tenth of a module nor hide the finder."""
    import segno
    from PIL import Image

    code = segno.make("otpauth://totp/MyDentalPractice:x?secret=AAAAAAAAAAAAAAAA", error="m")
    out = io.BytesIO()
    code.save(out, kind="png", scale=1, border=border)
    small = qr.from_png(out.getvalue()).convert("L")
    image = small.resize((round(small.width * factor), round(small.height * factor)),
                         Image.Resampling.BILINEAR)
    assert qr.read(image).quiet_zone == border


def test_KEY_URI_scanned_app_generates_codes_the_clinic_accepts(
        clinic: Clinic, people: Cast) -> None:
    token, setup = start(clinic, people.admin)
    app = AuthenticatorApp(clinic.clock.now)
    app.scan(setup.qr_png)
    assert len(clinic.confirm_authenticator(token, app.code())) == 10


# -- MANUAL-SECRET ------------------------------------------------------------------------------


def test_MANUAL_SECRET_groups_of_four_equal_to_the_uri_secret(
        clinic: Clinic, people: Cast) -> None:
    _, setup = start(clinic, people.staff)
    groups = setup.manual_entry.split(" ")
    assert all(len(g) == 4 for g in groups[:-1]) and 1 <= len(groups[-1]) <= 4
    secret = parse_qs(urlsplit(setup.uri).query)["secret"][0]
    assert "".join(groups) == secret


def test_MANUAL_SECRET_typed_secret_confirms_when_the_camera_fails(
        clinic: Clinic, people: Cast) -> None:
    """TROUBLE-1: 'QR code won't scan' -> 'Use the manual-entry secret instead'."""
    token, setup = start(clinic, people.staff)
    app = AuthenticatorApp(clinic.clock.now, camera_works=False)
    with pytest.raises(DeviceError):
        app.scan(setup.qr_png)
    app.type_secret(setup.manual_entry.lower())
    assert len(clinic.confirm_authenticator(token, app.code())) == 10
    assert clinic.security(token).two_factor_enabled


# -- SETUP-CONFIRM ------------------------------------------------------------------------------


def wrong_code(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


def test_SETUP_CONFIRM_valid_code_enables_2fa_and_returns_10_backup_codes(
        clinic: Clinic, people: Cast) -> None:
    token, setup = start(clinic, people.staff)
    app = AuthenticatorApp(clinic.clock.now)
    app.scan(setup.qr_png)
    assert not clinic.security(token).two_factor_enabled
    codes = clinic.confirm_authenticator(token, app.code())
    assert len(codes) == 10
    status = clinic.security(token)
    assert status.two_factor_enabled and status.authenticator_app
    assert status.backup_codes_left == 10
    clinic.sign_out(token)
    assert clinic.sign_in(people.staff.email, people.staff.password).stage is Stage.SECOND_STEP


def test_SETUP_CONFIRM_wrong_code_does_not_enable(clinic: Clinic, people: Cast,
                                                 helpers: type[Helpers]) -> None:
    token, setup = start(clinic, people.staff)
    app = AuthenticatorApp(clinic.clock.now)
    app.scan(setup.qr_png)
    with pytest.raises(TwoFactorError) as exc:
        clinic.confirm_authenticator(token, wrong_code(app.code()))
    assert refusal(exc) == (ErrorCode.CODE_REJECTED, Reason.WRONG_CODE)
    record = helpers.user_record(clinic, people.staff.email)
    assert record.totp_secret is None and record.backup_hashes == []
    assert not clinic.security(token).two_factor_enabled
    # Until confirmed, sign-in behaves as before: no second step.
    clinic.sign_out(token)
    assert clinic.sign_in(people.staff.email, people.staff.password).stage is Stage.SIGNED_IN


@pytest.mark.parametrize("typed", ["12345", "1234567", "abcdef", "", "12 34 5x"])
def test_SETUP_CONFIRM_malformed_code_is_refused_as_malformed(
        clinic: Clinic, people: Cast, typed: str) -> None:
    token, _ = start(clinic, people.staff)
    with pytest.raises(TwoFactorError) as exc:
        clinic.confirm_authenticator(token, typed)
    assert refusal(exc) == (ErrorCode.CODE_REJECTED, Reason.MALFORMED)
    assert not clinic.security(token).two_factor_enabled


def test_SETUP_CONFIRM_code_outside_window_refused_as_time_skew(
        clinic: Clinic, people: Cast) -> None:
    token, setup = start(clinic, people.staff)
    app = AuthenticatorApp(clinic.clock.now, offset=-90)  # three steps slow
    app.scan(setup.qr_png)
    with pytest.raises(TwoFactorError) as exc:
        clinic.confirm_authenticator(token, app.code())
    assert refusal(exc) == (ErrorCode.CODE_REJECTED, Reason.TIME_SKEW)
    assert not clinic.security(token).two_factor_enabled


def test_SETUP_CONFIRM_without_setup_is_refused(clinic: Clinic, people: Cast) -> None:
    token = clinic.sign_in(people.staff.email, people.staff.password).token
    with pytest.raises(TwoFactorError) as exc:
        clinic.confirm_authenticator(token, "123456")
    assert refusal(exc) == (ErrorCode.NO_SETUP_IN_PROGRESS, None)


# -- SETUP-FRESH-SECRET -------------------------------------------------------------------------


def test_SETUP_FRESH_SECRET_restart_replaces_the_pending_secret(
        clinic: Clinic, people: Cast) -> None:
    """TROUBLE-5: 'Re-try; the QR is regenerated each time'; the abandoned QR stops working."""
    token, first = start(clinic, people.staff)
    old_phone = AuthenticatorApp(clinic.clock.now)
    old_phone.scan(first.qr_png)
    second = clinic.start_authenticator_setup(token)
    assert second.uri != first.uri
    assert second.manual_entry != first.manual_entry
    assert second.qr_png != first.qr_png
    with pytest.raises(TwoFactorError) as exc:
        clinic.confirm_authenticator(token, old_phone.code())
    assert refusal(exc) == (ErrorCode.CODE_REJECTED, Reason.WRONG_CODE)
    assert not clinic.security(token).two_factor_enabled
    new_phone = AuthenticatorApp(clinic.clock.now)
    new_phone.scan(second.qr_png)
    assert len(clinic.confirm_authenticator(token, new_phone.code())) == 10


def test_SETUP_FRESH_SECRET_confirmed_secret_is_never_replaced_by_a_new_setup(
        clinic: Clinic, people: Cast, helpers: type[Helpers]) -> None:
    enrolled = helpers.enrol(clinic, people.staff)
    secret = enrolled.user.totp_secret
    with pytest.raises(TwoFactorError) as exc:
        clinic.start_authenticator_setup(enrolled.token)
    assert refusal(exc) == (ErrorCode.ALREADY_ENROLLED, None)
    assert enrolled.user.totp_secret == secret and enrolled.user.pending_secret is None


def test_SETUP_FRESH_SECRET_re_enrolment_after_disable_gets_a_new_secret(
        clinic: Clinic, people: Cast, helpers: type[Helpers]) -> None:
    enrolled = helpers.enrol(clinic, people.staff)
    clinic.disable_2fa(enrolled.token, people.staff.password)
    helpers.next_step(clinic)
    again = clinic.start_authenticator_setup(enrolled.token)
    assert pyotp.parse_uri(again.uri).secret != enrolled.account.secret
