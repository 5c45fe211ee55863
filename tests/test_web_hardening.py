"""The reference's web layer hardened (issue 16): no-store, 413, Retry-After, cookies, support."""

from __future__ import annotations

import base64
import re
import socket
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from clinic2fa.simulator.clinic import Clinic
from clinic2fa.simulator.clock import FakeClock
from clinic2fa.simulator.policy import FAST_HASH, Policy
from clinic2fa.simulator.virtual.authenticator_app import AuthenticatorApp
from clinic2fa.simulator.web import server
from clinic2fa.simulator.web.app import create_app
from clinic2fa.simulator.web.cookies import SESSION_COOKIE


@pytest.fixture
def api(clinic: Clinic) -> Iterator[TestClient]:
    with TestClient(create_app(clinic, test_support=True), follow_redirects=False) as client:
        yield client


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def sign_in(api: TestClient, person: Any) -> httpx.Response:
    return api.post("/api/v1/sign-in", json={"email": person.email, "password": person.password})


# -- SECRET-NO-STORE ----------------------------------------------------------------------------


def test_SECRET_NO_STORE_every_answer_carrying_a_secret_says_no_store(
        api: TestClient, clock: FakeClock, people: Any) -> None:
    signed = sign_in(api, people.staff)
    headers = bearer(signed.json()["session"])
    setup = api.post("/api/v1/security/authenticator", headers=headers)
    app = AuthenticatorApp(clock.now)
    app.scan(base64.b64decode(setup.json()["qr_png"]))
    confirmed = api.post("/api/v1/security/authenticator/confirm", headers=headers,
                         json={"code": app.code()})
    regenerated = api.post("/api/v1/security/backup-codes", headers=headers,
                           json={"password": people.staff.password})
    refusal = api.post("/api/v1/sign-in", json={"email": "x@y.z", "password": "p"})
    page = api.get("/sign-in")
    for answer in (signed, setup, confirmed, regenerated, refusal, page):
        assert answer.headers["cache-control"] == "no-store", answer.request.url
    assert "no-store" not in api.get("/static/style.css").headers.get("cache-control", "")


# -- REQUEST-SIZE-LIMIT -------------------------------------------------------------------------


def test_REQUEST_SIZE_LIMIT_a_2_MB_body_gets_413_and_the_contract_body(api: TestClient) -> None:
    body = b'{"email": "a@b.c", "password": "' + b"x" * 2_000_000 + b'"}'
    answer = api.post("/api/v1/sign-in", content=body,
                      headers={"content-type": "application/json"})
    assert answer.status_code == 413
    assert answer.json()["error"] == "request_too_large"
    assert answer.headers["cache-control"] == "no-store"


def test_REQUEST_SIZE_LIMIT_a_body_without_a_length_is_cut_off_too(api: TestClient,
                                                                   clinic: Clinic) -> None:
    limit = clinic.policy.max_body_bytes

    def chunks() -> Iterator[bytes]:
        yield b'{"email": "a@b.c", "password": "'
        for _ in range(limit // 1024 + 2):
            yield b"x" * 1024
        yield b'"}'

    answer = api.post("/api/v1/sign-in", content=chunks(),
                      headers={"content-type": "application/json"})
    assert answer.status_code == 413
    assert answer.json()["error"] == "request_too_large"
    small = api.post("/api/v1/sign-in", json={"email": "a@b.c", "password": "x" * 1000})
    assert small.status_code == 401  # under the limit: read and judged as usual


def test_REQUEST_SIZE_LIMIT_a_page_form_over_the_limit_is_refused(api: TestClient) -> None:
    answer = api.post("/sign-in", data={"email": "a@b.c", "password": "x" * 100_000})
    assert answer.status_code == 413


# -- PASSWORD-RATE-LIMIT and RATE-LIMIT-CAP over HTTP -------------------------------------------


def test_PASSWORD_RATE_LIMIT_429_with_retry_after(api: TestClient, clinic: Clinic,
                                                  people: Any) -> None:
    for _ in range(clinic.policy.password_max_failures):
        wrong = api.post("/api/v1/sign-in", json={"email": people.staff.email, "password": "x"})
        assert wrong.status_code == 401
    locked = sign_in(api, people.staff)
    assert locked.status_code == 429 and locked.json()["error"] == "locked_out"
    assert 0 < int(locked.headers["retry-after"]) <= clinic.policy.password_lockout_seconds


def test_RATE_LIMIT_CAP_a_block_has_no_retry_after_and_an_admin_unblocks(
        api: TestClient, clinic: Clinic, clock: FakeClock, people: Any) -> None:
    failed = 0
    while failed < clinic.policy.max_consecutive_failures:
        answer = api.post("/api/v1/sign-in", json={"email": people.staff.email, "password": "x"})
        if answer.status_code == 429:
            clock.advance(int(answer.headers["retry-after"]))
        else:
            failed += 1
    blocked = sign_in(api, people.staff)
    assert blocked.status_code == 429 and "retry-after" not in blocked.headers
    admin = bearer(sign_in(api, people.admin).json()["session"])
    rows = {r["email"]: r for r in api.get("/api/v1/settings/staff", headers=admin).json()}
    assert rows[people.staff.email]["sign_in_blocked"] is True
    assert api.post(f"/api/v1/settings/staff/{people.staff.email}/unblock",
                    headers=admin).status_code == 204
    assert sign_in(api, people.staff).status_code == 200


# -- SESSION-NEW-TOKEN on the pages -------------------------------------------------------------


def test_SESSION_NEW_TOKEN_the_pages_set_a_new_cookie_and_csrf_at_the_second_step(
        clinic: Clinic, clock: FakeClock, people: Any) -> None:
    app = create_app(clinic, test_support=False)
    token = clinic.sign_in(people.staff.email, people.staff.password).token
    phone = AuthenticatorApp(clock.now)
    phone.scan(clinic.start_authenticator_setup(token).qr_png)
    clinic.confirm_authenticator(token, phone.code())
    clock.advance(30)
    with TestClient(app, follow_redirects=False) as browser:
        form = browser.get("/sign-in")
        browser.post("/sign-in", data={"csrf_token": _csrf(form), "email": people.staff.email,
                                       "password": people.staff.password})
        pending_cookie = browser.cookies[SESSION_COOKIE]
        code_page = browser.get("/sign-in/code")
        done = browser.post("/sign-in/code", data={"csrf_token": _csrf(code_page),
                                                   "code": phone.code()})
        assert done.status_code == 303 and done.headers["location"] == "/profile"
        assert browser.cookies[SESSION_COOKIE] != pending_cookie
        assert _csrf(browser.get("/settings/security")) != _csrf(code_page)
    with TestClient(app, follow_redirects=False) as replayed:
        replayed.cookies.set(SESSION_COOKIE, pending_cookie)
        assert replayed.get("/profile").headers["location"].startswith("/sign-in")


def _csrf(page: httpx.Response) -> str:
    found = re.search(r'name="csrf_token" value="([0-9a-f]+)"', page.text)
    assert found, "the page has no CSRF field"
    return found.group(1)


# -- test support only on loopback ---------------------------------------------------------------


@pytest.mark.parametrize(("host", "loopback"), [
    ("localhost", True), ("127.0.0.1", True), ("127.5.6.7", True), ("::1", True),
    ("[::1]", True), ("0.0.0.0", False), ("::", False), ("192.168.1.9", False),  # noqa: S104
    ("clinic.example", False)])
def test_loopback_is_this_machine_only(host: str, loopback: bool) -> None:
    assert server.is_loopback(host) is loopback


def test_serve_on_every_interface_has_no_test_support_unless_asked(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """serve() as `clinic2fa serve --host 0.0.0.0` runs it: its banner, and its app's routes."""
    built: list[dict[str, Any]] = []
    said: list[str] = []

    def demo_app(*args: Any, **kwargs: Any) -> Any:
        built.append(kwargs)
        return server.create_app(Clinic(clock=FakeClock(), policy=Policy(hash_cost=FAST_HASH)),
                                 test_support=kwargs["test_support"])

    class Stopped(Exception):
        pass

    def run(self: Any, sockets: list[socket.socket]) -> None:
        for sock in sockets:
            sock.close()
        raise Stopped

    monkeypatch.setattr(server, "demo_app", demo_app)
    monkeypatch.setattr(server.uvicorn.Server, "run", run)
    for asked, expected in ((None, False), (True, True)):
        with pytest.raises(Stopped):
            server.serve("0.0.0.0", 0, say=said.append, test_support=asked)  # noqa: S104
        assert built[-1]["test_support"] is expected
    off, on = [line for line in said if line.startswith("clinic2fa")]
    assert "test support off" in off and "--test-support turns it on" in off
    assert "test support on" in on and "reachable from other machines" in on
    with TestClient(demo_app(test_support=False)) as off:
        assert off.post("/test-support/users", json={"role": "owner"}).status_code == 404
