"""Every /api/v1 endpoint over HTTP: what it answers, and its main refusals with code and status."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx2 import Response

from clinic2fa.simulator.clinic import Clinic
from clinic2fa.simulator.clock import FakeClock
from clinic2fa.simulator.errors import ErrorCode
from clinic2fa.simulator.virtual.authenticator_app import Account, AuthenticatorApp
from clinic2fa.simulator.virtual.passkey import VirtualPasskey
from clinic2fa.simulator.web.app import create_app
from clinic2fa.simulator.web.status import STATUS, status_of

Headers = dict[str, str]


@pytest.fixture
def api(clinic: Clinic) -> Iterator[TestClient]:
    with TestClient(create_app(clinic, test_support=False)) as client:
        yield client


def bearer(session: str) -> Headers:
    return {"Authorization": f"Bearer {session}"}


def refused(response: Response, status: int, error: ErrorCode, reason: str | None = None) -> None:
    """The contract's error body with this code, at this status."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error", "reason", "message"}
    assert body["error"] == error.value
    assert body["reason"] == reason
    assert body["message"]


def sign_in(api: TestClient, person: Any, stage: str = "signed_in") -> Headers:
    response = api.post("/api/v1/sign-in", json={"email": person.email,
                                                 "password": person.password})
    assert response.status_code == 200, response.text
    assert response.json()["stage"] == stage
    return bearer(response.json()["session"])


@dataclass
class Enrolled:
    headers: Headers
    app: AuthenticatorApp
    account: Account
    backup_codes: list[str]


def enrol(api: TestClient, clock: FakeClock, person: Any) -> Enrolled:
    """Sign in, scan the QR code from the API's PNG, confirm: as the guide's steps 1-5."""
    headers = sign_in(api, person)
    setup = api.post("/api/v1/security/authenticator", headers=headers).json()
    app = AuthenticatorApp(clock.now)
    account = app.scan(base64.b64decode(setup["qr_png"]))
    confirmed = api.post("/api/v1/security/authenticator/confirm", headers=headers,
                         json={"code": app.code(account)})
    assert confirmed.status_code == 200, confirmed.text
    return Enrolled(headers, app, account, confirmed.json()["backup_codes"])


def next_step(clock: FakeClock) -> None:
    clock.set((int(clock.now() // 30) + 1) * 30)


def pending(api: TestClient, person: Any) -> Headers:
    return sign_in(api, person, stage="second_step")


# -- the status table ---------------------------------------------------------------------------


def test_each_error_code_travels_with_its_status() -> None:
    expected = {
        401: {"invalid_credentials", "not_signed_in", "sign_in_expired", "code_rejected",
              "password_required"},
        403: {"not_permitted", "second_step_required", "enrolment_required", "enforced"},
        429: {"locked_out"}, 409: {"already_enrolled", "no_setup_in_progress", "not_enrolled"},
        404: {"unknown_user"}, 422: {"invalid_request"},
    }
    for status, codes in expected.items():
        assert {c.value for c, s in STATUS.items() if s == status} == codes
    passkey_codes = [code for code in ErrorCode if code.value.startswith("passkey_")]
    assert passkey_codes
    assert all(status_of(code) == 400 for code in passkey_codes)


# -- sign-in ------------------------------------------------------------------------------------


def test_sign_in_answers_a_session_and_its_stage(api: TestClient, people: Any) -> None:
    response = api.post("/api/v1/sign-in", json={"email": people.staff.email,
                                                 "password": people.staff.password})
    assert response.status_code == 200
    assert response.json()["stage"] == "signed_in"
    assert len(response.json()["session"]) >= 32


def test_sign_in_refuses_a_wrong_password(api: TestClient, people: Any) -> None:
    refused(api.post("/api/v1/sign-in", json={"email": people.staff.email, "password": "nope"}),
            401, ErrorCode.INVALID_CREDENTIALS)
    refused(api.post("/api/v1/sign-in", json={"email": "nobody@x.test", "password": "nope"}),
            401, ErrorCode.INVALID_CREDENTIALS)


@pytest.mark.parametrize("body", [
    {"email": "a@b.test"}, {"password": "secret-typed-here"}, {"email": 1, "password": "x"},
    {"email": "a@b.test", "password": "x" * 2000}, [], "text",
])
def test_a_malformed_request_is_invalid_request_and_never_echoed(api: TestClient,
                                                                 body: Any) -> None:
    response = api.post("/api/v1/sign-in", json=body)
    refused(response, 422, ErrorCode.INVALID_REQUEST)
    assert "secret-typed-here" not in response.text
    assert "x" * 100 not in response.text


def test_a_body_that_is_not_json_is_invalid_request(api: TestClient) -> None:
    response = api.post("/api/v1/sign-in", content=b"\xff{not json",
                        headers={"content-type": "application/json"})
    refused(response, 422, ErrorCode.INVALID_REQUEST)


def test_with_2fa_on_the_password_opens_only_the_second_step(api: TestClient, clock: FakeClock,
                                                             people: Any) -> None:
    enrol(api, clock, people.owner)
    headers = pending(api, people.owner)
    refused(api.get("/api/v1/profile", headers=headers), 403, ErrorCode.SECOND_STEP_REQUIRED)
    refused(api.get("/api/v1/security", headers=headers), 403, ErrorCode.SECOND_STEP_REQUIRED)
    refused(api.post("/api/v1/security/disable", headers=headers, json={"password": "x"}),
            403, ErrorCode.SECOND_STEP_REQUIRED)


def test_sign_in_code_passes_the_second_step(api: TestClient, clock: FakeClock,
                                             people: Any) -> None:
    owner = enrol(api, clock, people.owner)
    next_step(clock)
    headers = pending(api, people.owner)
    response = api.post("/api/v1/sign-in/code", headers=headers,
                        json={"code": owner.app.code(owner.account)})
    assert response.status_code == 200
    assert response.json()["stage"] == "signed_in"
    renewed = response.json()["session"]
    assert renewed != headers["Authorization"][7:]  # SESSION-NEW-TOKEN
    assert response.headers["cache-control"] == "no-store"  # SECRET-NO-STORE
    refused(api.get("/api/v1/profile", headers=headers), 401, ErrorCode.NOT_SIGNED_IN)
    assert api.get("/api/v1/profile", headers=bearer(renewed)).status_code == 200


def test_sign_in_code_refusals_carry_the_reason(api: TestClient, clock: FakeClock,
                                                people: Any) -> None:
    owner = enrol(api, clock, people.owner)
    headers = pending(api, people.owner)
    now_step = owner.app.step(owner.account)
    refused(api.post("/api/v1/sign-in/code", headers=headers, json={"code": "12"}),
            401, ErrorCode.CODE_REJECTED, "malformed")
    refused(api.post("/api/v1/sign-in/code", headers=headers,
                     json={"code": owner.app.code_at_step(now_step - 5, owner.account)}),
            401, ErrorCode.CODE_REJECTED, "time_skew")
    refused(api.post("/api/v1/sign-in/code", headers=headers,
                     json={"code": owner.app.code(owner.account)}),  # the one that enrolled
            401, ErrorCode.CODE_REJECTED, "already_used")


def test_five_wrong_codes_lock_the_second_step_with_retry_after(api: TestClient, clock: FakeClock,
                                                                people: Any) -> None:
    owner = enrol(api, clock, people.owner)
    headers = pending(api, people.owner)
    wrong = "000000" if owner.app.code(owner.account) != "000000" else "111111"
    for _ in range(5):
        api.post("/api/v1/sign-in/code", headers=headers, json={"code": wrong})
    next_step(clock)
    locked = api.post("/api/v1/sign-in/code", headers=headers,
                      json={"code": owner.app.code(owner.account)})
    refused(locked, 429, ErrorCode.LOCKED_OUT)
    assert 0 < int(locked.headers["retry-after"]) <= 15 * 60


def test_a_pending_sign_in_expires(api: TestClient, clock: FakeClock, people: Any) -> None:
    owner = enrol(api, clock, people.owner)
    headers = pending(api, people.owner)
    clock.advance(5 * 60 + 1)
    response = api.post("/api/v1/sign-in/code", headers=headers,
                        json={"code": owner.app.code(owner.account)})
    refused(response, 401, ErrorCode.SIGN_IN_EXPIRED)
    assert response.headers["www-authenticate"].startswith("Bearer")


def test_sign_in_code_without_a_session_or_after_the_second_step(api: TestClient,
                                                                 people: Any) -> None:
    refused(api.post("/api/v1/sign-in/code", json={"code": "123456"}), 401,
            ErrorCode.NOT_SIGNED_IN)
    refused(api.post("/api/v1/sign-in/code", headers=bearer("made-up"), json={"code": "123456"}),
            401, ErrorCode.NOT_SIGNED_IN)
    full = sign_in(api, people.staff)
    refused(api.post("/api/v1/sign-in/code", headers=full, json={"code": "123456"}),
            422, ErrorCode.INVALID_REQUEST)


def test_a_backup_code_signs_in_once(api: TestClient, clock: FakeClock, people: Any) -> None:
    owner = enrol(api, clock, people.owner)
    headers = pending(api, people.owner)
    response = api.post("/api/v1/sign-in/backup-code", headers=headers,
                        json={"code": owner.backup_codes[0]})
    assert response.status_code == 200
    assert response.json()["stage"] == "signed_in"
    full = bearer(response.json()["session"])
    assert api.get("/api/v1/security", headers=full).json()["backup_codes_left"] == 9
    again = pending(api, people.owner)
    refused(api.post("/api/v1/sign-in/backup-code", headers=again,
                     json={"code": owner.backup_codes[0]}),
            401, ErrorCode.CODE_REJECTED, "wrong_code")


def test_sign_out_ends_the_session(api: TestClient, people: Any) -> None:
    headers = sign_in(api, people.staff)
    response = api.post("/api/v1/sign-out", headers=headers)
    assert response.status_code == 204
    assert response.content == b""
    refused(api.get("/api/v1/profile", headers=headers), 401, ErrorCode.NOT_SIGNED_IN)
    assert api.post("/api/v1/sign-out", headers=headers).status_code == 204  # twice is fine
    refused(api.post("/api/v1/sign-out"), 401, ErrorCode.NOT_SIGNED_IN)


# -- profile and security -----------------------------------------------------------------------


def test_profile(api: TestClient, people: Any) -> None:
    headers = sign_in(api, people.admin)
    assert api.get("/api/v1/profile", headers=headers).json() == {
        "email": people.admin.email, "name": "admin", "role": "admin",
        "two_factor_enabled": False}
    refused(api.get("/api/v1/profile"), 401, ErrorCode.NOT_SIGNED_IN)
    refused(api.get("/api/v1/profile", headers={"Authorization": "Basic eDp5"}), 401,
            ErrorCode.NOT_SIGNED_IN)


def test_security_shows_the_state_and_never_a_secret(api: TestClient, clock: FakeClock,
                                                     people: Any) -> None:
    headers = sign_in(api, people.staff)
    assert api.get("/api/v1/security", headers=headers).json() == {
        "two_factor_enabled": False, "authenticator_app": False, "backup_codes_left": 0,
        "passkeys": [], "enforcement_required": False}
    staff = enrol(api, clock, people.staff)
    shown = api.get("/api/v1/security", headers=staff.headers)
    assert shown.json()["two_factor_enabled"] is True
    assert shown.json()["backup_codes_left"] == 10
    assert staff.account.secret not in shown.text
    assert not any(code in shown.text for code in staff.backup_codes)


def test_authenticator_setup_gives_qr_and_manual_entry(api: TestClient, people: Any) -> None:
    headers = sign_in(api, people.staff)
    first = api.post("/api/v1/security/authenticator", headers=headers).json()
    assert first["uri"].startswith("otpauth://totp/")
    assert first["manual_entry"].replace(" ", "") in first["uri"]
    assert first["qr_svg"].lstrip().startswith("<svg")
    assert AuthenticatorApp().scan(base64.b64decode(first["qr_png"])).secret in first["uri"]
    second = api.post("/api/v1/security/authenticator", headers=headers).json()
    assert second["manual_entry"] != first["manual_entry"]  # the QR is regenerated each time


def test_authenticator_setup_refusals(api: TestClient, clock: FakeClock, people: Any) -> None:
    staff = enrol(api, clock, people.staff)
    refused(api.post("/api/v1/security/authenticator", headers=staff.headers), 409,
            ErrorCode.ALREADY_ENROLLED)
    refused(api.post("/api/v1/security/authenticator"), 401, ErrorCode.NOT_SIGNED_IN)


def test_confirm_returns_ten_backup_codes_once(api: TestClient, clock: FakeClock,
                                               people: Any) -> None:
    staff = enrol(api, clock, people.staff)
    assert len(staff.backup_codes) == len(set(staff.backup_codes)) == 10


def test_confirm_refusals(api: TestClient, clock: FakeClock, people: Any) -> None:
    headers = sign_in(api, people.staff)
    refused(api.post("/api/v1/security/authenticator/confirm", headers=headers,
                     json={"code": "123456"}), 409, ErrorCode.NO_SETUP_IN_PROGRESS)
    setup = api.post("/api/v1/security/authenticator", headers=headers).json()
    app = AuthenticatorApp(clock.now)
    account = app.scan(base64.b64decode(setup["qr_png"]))
    wrong = app.code_at_step(app.step(account) + 20, account)
    refused(api.post("/api/v1/security/authenticator/confirm", headers=headers,
                     json={"code": wrong}), 401, ErrorCode.CODE_REJECTED, "wrong_code")
    refused(api.post("/api/v1/security/authenticator/confirm", headers=headers, json={}),
            422, ErrorCode.INVALID_REQUEST)


def test_regenerating_backup_codes_needs_the_password(api: TestClient, clock: FakeClock,
                                                      people: Any) -> None:
    staff = enrol(api, clock, people.staff)
    refused(api.post("/api/v1/security/backup-codes", headers=staff.headers,
                     json={"password": "wrong"}), 401, ErrorCode.PASSWORD_REQUIRED)
    fresh = api.post("/api/v1/security/backup-codes", headers=staff.headers,
                     json={"password": people.staff.password})
    assert fresh.status_code == 200
    assert len(fresh.json()["backup_codes"]) == 10
    assert not set(fresh.json()["backup_codes"]) & set(staff.backup_codes)
    plain = sign_in(api, people.admin)
    refused(api.post("/api/v1/security/backup-codes", headers=plain,
                     json={"password": people.admin.password}), 409, ErrorCode.NOT_ENROLLED)


def test_disable_2fa(api: TestClient, clock: FakeClock, people: Any) -> None:
    staff = enrol(api, clock, people.staff)
    refused(api.post("/api/v1/security/disable", headers=staff.headers,
                     json={"password": "wrong"}), 401, ErrorCode.PASSWORD_REQUIRED)
    response = api.post("/api/v1/security/disable", headers=staff.headers,
                        json={"password": people.staff.password})
    assert response.status_code == 204
    assert api.get("/api/v1/security", headers=staff.headers).json()["two_factor_enabled"] is False
    refused(api.post("/api/v1/security/disable", headers=staff.headers,
                     json={"password": people.staff.password}), 409, ErrorCode.NOT_ENROLLED)


def test_disable_2fa_is_refused_under_enforcement(api: TestClient, clock: FakeClock,
                                                  people: Any) -> None:
    owner = enrol(api, clock, people.owner)
    assert api.put("/api/v1/settings/security/enforcement", headers=owner.headers,
                   json={"required": True}).status_code == 204
    refused(api.post("/api/v1/security/disable", headers=owner.headers,
                     json={"password": people.owner.password}), 403, ErrorCode.ENFORCED)


# -- passkeys -----------------------------------------------------------------------------------


def add_passkey(api: TestClient, headers: Headers, device: VirtualPasskey,
                name: str) -> Response:
    options = api.post("/api/v1/security/passkeys/options", headers=headers)
    assert options.status_code == 200, options.text
    return api.post("/api/v1/security/passkeys", headers=headers,
                    json={"credential": device.create(options.json()), "name": name})


def test_passkey_setup_then_sign_in_with_it(api: TestClient, people: Any) -> None:
    headers = sign_in(api, people.staff)
    device = VirtualPasskey("http://localhost", user_verified=True)
    added = add_passkey(api, headers, device, "Laptop")
    assert added.status_code == 201
    assert len(added.json()["backup_codes"]) == 10  # the first factor brings backup codes
    assert api.get("/api/v1/security", headers=headers).json()["passkeys"] == ["Laptop"]

    second = pending(api, people.staff)
    options = api.post("/api/v1/sign-in/passkey/options", headers=second)
    assert options.status_code == 200
    assert options.json()["challenge"]
    assert options.json()["rpId"] == "localhost"
    response = api.post("/api/v1/sign-in/passkey", headers=second,
                        json={"credential": device.get(options.json())})
    assert response.status_code == 200
    assert response.json()["stage"] == "signed_in"


def test_passkey_refusals_are_400_with_their_code(api: TestClient, people: Any) -> None:
    headers = sign_in(api, people.staff)
    device = VirtualPasskey("http://localhost", user_verified=True)
    options = api.post("/api/v1/security/passkeys/options", headers=headers).json()
    phished = device.create(options, origin="http://evil.test")
    refused(api.post("/api/v1/security/passkeys", headers=headers,
                     json={"credential": phished, "name": "Phone"}),
            400, ErrorCode.PASSKEY_ORIGIN_MISMATCH)
    refused(api.post("/api/v1/security/passkeys", headers=headers,
                     json={"credential": phished, "name": "Phone"}),
            400, ErrorCode.PASSKEY_CHALLENGE_INVALID)  # the challenge was used up
    api.post("/api/v1/security/passkeys/options", headers=headers)
    refused(api.post("/api/v1/security/passkeys", headers=headers,
                     json={"credential": {"id": "x"}, "name": "Phone"}),
            400, ErrorCode.PASSKEY_INVALID)
    refused(api.post("/api/v1/security/passkeys", headers=headers,
                     json={"credential": "not an object", "name": "Phone"}),
            422, ErrorCode.INVALID_REQUEST)


def test_passkey_sign_in_refusals(api: TestClient, clock: FakeClock, people: Any) -> None:
    enrol(api, clock, people.owner)  # an authenticator app, no passkey
    second = pending(api, people.owner)
    refused(api.post("/api/v1/sign-in/passkey/options", headers=second), 409,
            ErrorCode.NOT_ENROLLED)
    refused(api.post("/api/v1/sign-in/passkey", headers=second, json={"credential": {}}),
            400, ErrorCode.PASSKEY_CHALLENGE_INVALID)
    full = sign_in(api, people.staff)
    refused(api.post("/api/v1/sign-in/passkey/options", headers=full), 422,
            ErrorCode.INVALID_REQUEST)


def test_removing_a_passkey_needs_the_password(api: TestClient, people: Any) -> None:
    headers = sign_in(api, people.staff)
    device = VirtualPasskey("http://localhost", user_verified=True)
    assert add_passkey(api, headers, device, "Key").status_code == 201
    refused(api.post("/api/v1/security/passkeys/remove", headers=headers,
                     json={"name": "Key", "password": "wrong"}), 401, ErrorCode.PASSWORD_REQUIRED)
    refused(api.post("/api/v1/security/passkeys/remove", headers=headers,
                     json={"name": "Other", "password": people.staff.password}),
            409, ErrorCode.NOT_ENROLLED)
    response = api.post("/api/v1/security/passkeys/remove", headers=headers,
                        json={"name": "Key", "password": people.staff.password})
    assert response.status_code == 204
    assert api.get("/api/v1/security", headers=headers).json()["passkeys"] == []


# -- owner and admin ----------------------------------------------------------------------------


def test_enforcement_is_read_by_all_and_set_by_the_owner(api: TestClient, people: Any) -> None:
    owner, staff = sign_in(api, people.owner), sign_in(api, people.staff)
    assert api.get("/api/v1/settings/security", headers=staff).json() == {
        "enforcement_required": False}
    refused(api.put("/api/v1/settings/security/enforcement", headers=staff,
                    json={"required": True}), 403, ErrorCode.NOT_PERMITTED)
    refused(api.put("/api/v1/settings/security/enforcement", headers=owner,
                    json={"required": "yes"}), 422, ErrorCode.INVALID_REQUEST)
    assert api.put("/api/v1/settings/security/enforcement", headers=owner,
                   json={"required": True}).status_code == 204
    assert api.get("/api/v1/settings/security", headers=owner).json() == {
        "enforcement_required": True}


def test_enforcement_forces_enrolment_after_sign_in(api: TestClient, clock: FakeClock,
                                                    people: Any) -> None:
    owner = sign_in(api, people.owner)
    api.put("/api/v1/settings/security/enforcement", headers=owner, json={"required": True})
    forced = sign_in(api, people.staff, stage="enrolment_required")
    refused(api.get("/api/v1/profile", headers=forced), 403, ErrorCode.ENROLMENT_REQUIRED)
    assert api.get("/api/v1/security", headers=forced).json()["enforcement_required"] is True
    setup = api.post("/api/v1/security/authenticator", headers=forced).json()
    app = AuthenticatorApp(clock.now)
    account = app.scan(base64.b64decode(setup["qr_png"]))
    confirmed = api.post("/api/v1/security/authenticator/confirm", headers=forced,
                         json={"code": app.code(account)}).json()
    assert len(confirmed["backup_codes"]) == 10
    refused(api.get("/api/v1/profile", headers=forced), 401, ErrorCode.NOT_SIGNED_IN)
    assert api.get("/api/v1/profile", headers=bearer(confirmed["session"])).status_code == 200


def test_staff_list_for_owner_and_admin_only(api: TestClient, people: Any) -> None:
    listed = api.get("/api/v1/settings/staff", headers=sign_in(api, people.admin))
    assert listed.status_code == 200
    assert {p["email"] for p in listed.json()} == {p.email for p in people.all()}
    assert set(listed.json()[0]) == {"email", "name", "role", "two_factor_enabled",
                                     "sign_in_blocked"}
    refused(api.get("/api/v1/settings/staff", headers=sign_in(api, people.staff)), 403,
            ErrorCode.NOT_PERMITTED)


def test_admin_disables_2fa_for_a_staff_member(api: TestClient, clock: FakeClock,
                                               people: Any) -> None:
    staff = enrol(api, clock, people.staff)
    admin = sign_in(api, people.admin)
    response = api.post(f"/api/v1/settings/staff/{people.staff.email}/disable-2fa",
                        headers=admin)
    assert response.status_code == 204
    refused(api.get("/api/v1/profile", headers=staff.headers), 401, ErrorCode.NOT_SIGNED_IN)
    sign_in(api, people.staff)  # the password alone again


def test_disable_2fa_for_refusals(api: TestClient, clock: FakeClock, people: Any) -> None:
    enrol(api, clock, people.owner)
    admin = sign_in(api, people.admin)
    refused(api.post("/api/v1/settings/staff/nobody@clinic.test/disable-2fa", headers=admin),
            404, ErrorCode.UNKNOWN_USER)
    refused(api.post(f"/api/v1/settings/staff/{people.owner.email}/disable-2fa", headers=admin),
            403, ErrorCode.NOT_PERMITTED)
    staff = sign_in(api, people.staff)
    refused(api.post(f"/api/v1/settings/staff/{people.admin.email}/disable-2fa", headers=staff),
            403, ErrorCode.NOT_PERMITTED)


# -- the page scripts' way in: cookie plus CSRF header ------------------------------------------


def test_the_cookie_session_needs_the_csrf_header(api: TestClient, people: Any) -> None:
    page = api.get("/sign-in")
    token = page.text.split('name="csrf-token" content="')[1].split('"')[0]
    signed = api.post("/sign-in", data={"email": people.staff.email,
                                        "password": people.staff.password,
                                        "csrf_token": token}, follow_redirects=False)
    assert signed.status_code == 303
    assert api.get("/api/v1/profile").json()["email"] == people.staff.email  # GET: no token
    refused(api.post("/api/v1/security/passkeys/options"), 403, ErrorCode.NOT_PERMITTED)
    fresh = api.get("/settings/security").text
    csrf = fresh.split('name="csrf-token" content="')[1].split('"')[0]
    assert api.post("/api/v1/security/passkeys/options",
                    headers={"X-CSRF-Token": csrf}).status_code == 200


def test_unknown_paths_and_methods_speak_the_error_body(api: TestClient) -> None:
    refused(api.get("/api/v1/nothing-here"), 404, ErrorCode.INVALID_REQUEST)
    refused(api.delete("/api/v1/profile"), 405, ErrorCode.INVALID_REQUEST)
