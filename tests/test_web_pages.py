"""The guide's pages over HTTP (no browser): labels, the whole flow, cookies and CSRF."""

from __future__ import annotations

import html
import logging
import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx2 import Response

from clinic2fa.simulator.clinic import Clinic
from clinic2fa.simulator.clock import FakeClock
from clinic2fa.simulator.virtual.authenticator_app import AuthenticatorApp
from clinic2fa.simulator.web.app import create_app


@pytest.fixture
def browser(clinic: Clinic) -> Iterator[TestClient]:
    """A client that keeps cookies, as a browser does; redirects are followed by hand."""
    with TestClient(create_app(clinic, test_support=False), follow_redirects=False) as client:
        yield client


def csrf(page: Response) -> str:
    found = re.search(r'name="csrf_token" value="([0-9a-f]+)"', page.text)
    assert found, "the page has no CSRF field"
    return found.group(1)


def submit(client: TestClient, page: Response, action: str, **fields: str) -> Response:
    """Post a form of `page` with its CSRF token, as pressing its button does."""
    assert f'action="{action}"' in page.text, f"no form posts to {action}"
    return client.post(action, data={"csrf_token": csrf(page), **fields})


def follow(client: TestClient, response: Response) -> Response:
    assert response.status_code == 303, response.text
    return client.get(response.headers["location"])


def alert(page: Response) -> str:
    found = re.search(r'<p class="alert" role="alert" id="alert">([^<]+)</p>', page.text)
    assert found, "no visible role=alert element"
    return html.unescape(found.group(1))


def sign_in(client: TestClient, person: Any) -> Response:
    page = client.get("/sign-in")
    return submit(client, page, "/sign-in", email=person.email, password=person.password)


def next_step(clock: FakeClock) -> None:
    clock.set((int(clock.now() // 30) + 1) * 30)


def enrol(client: TestClient, clock: FakeClock) -> tuple[AuthenticatorApp, Response]:
    """Security -> Set up authenticator app -> type the manual-entry secret -> Confirm."""
    security = client.get("/settings/security")
    setup = follow(client, submit(client, security, "/settings/security/authenticator"))
    secret = re.search(r'aria-labelledby="manual-entry-label">([A-Z2-7 ]+)<', setup.text)
    assert secret
    app = AuthenticatorApp(clock.now)
    app.type_secret(secret.group(1))
    codes = submit(client, setup, "/settings/security/authenticator/confirm", code=app.code())
    return app, codes


def test_sign_in_page_has_the_guide_labels(browser: TestClient) -> None:
    page = browser.get("/sign-in")
    assert page.status_code == 200
    assert '<label for="email">Email</label>' in page.text
    assert '<label for="password">Password</label>' in page.text
    assert '<button type="submit">Sign in</button>' in page.text
    assert page.headers["cache-control"] == "no-store"
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]


def test_a_post_without_the_csrf_token_is_refused(browser: TestClient, people: Any) -> None:
    browser.get("/sign-in")
    fields = {"email": people.staff.email, "password": people.staff.password}
    missing = browser.post("/sign-in", data=fields)
    assert missing.status_code == 403
    assert "Reload the page" in alert(missing)
    forged = browser.post("/sign-in", data={**fields, "csrf_token": "0" * 64})
    assert forged.status_code == 403
    assert sign_in(browser, people.staff).status_code == 303
    security = browser.get("/settings/security")
    assert browser.post("/settings/security/authenticator").status_code == 403
    assert browser.post("/sign-out", data={"csrf_token": csrf(security)[::-1]}).status_code == 403


def test_the_csrf_token_is_bound_to_the_session(clinic: Clinic, people: Any) -> None:
    app = create_app(clinic, test_support=False)
    with TestClient(app, follow_redirects=False) as alice, \
            TestClient(app, follow_redirects=False) as mallory:
        sign_in(alice, people.staff)
        sign_in(mallory, people.admin)
        mallorys = csrf(mallory.get("/settings/security"))
        stolen = alice.post("/settings/security/authenticator", data={"csrf_token": mallorys})
        assert stolen.status_code == 403


def test_session_cookie_is_httponly_and_samesite(browser: TestClient, people: Any) -> None:
    response = sign_in(browser, people.staff)
    cookie = response.headers["set-cookie"].lower()
    assert cookie.startswith("clinic2fa_session=")
    assert "httponly" in cookie
    assert "samesite=lax" in cookie
    assert "secure" not in cookie  # http://localhost


def test_the_guide_from_set_up_to_signing_in_with_the_code(browser: TestClient, clock: FakeClock,
                                                           people: Any) -> None:
    signed = sign_in(browser, people.owner)
    assert signed.headers["location"] == "/profile"
    profile = browser.get("/profile")
    assert "<h1>My Profile</h1>" in profile.text
    assert 'aria-label="Avatar"' in profile.text
    assert '<a href="/settings/security">Security</a>' in profile.text
    assert '<a href="/settings/staff">Staff</a>' in profile.text

    security = browser.get("/settings/security")
    assert "Set up authenticator app</button>" in security.text
    assert "Set up passkey</button>" in security.text
    setup = follow(browser, submit(browser, security, "/settings/security/authenticator"))
    assert '<svg role="img" aria-label="QR code"' in setup.text
    assert 'id="manual-entry-label" class="label">Manual-entry secret<' in setup.text
    assert '<label for="code">6-digit code</label>' in setup.text
    assert '<button type="submit">Confirm</button>' in setup.text

    wrong = submit(browser, setup, "/settings/security/authenticator/confirm", code="12")
    assert wrong.status_code == 401
    assert "6-digit code" in alert(wrong)
    assert 'aria-label="QR code"' in wrong.text  # the same setup, shown again

    app, codes_page = enrol(browser, clock)
    assert codes_page.status_code == 200
    assert "<h1>Save backup codes</h1>" in codes_page.text
    codes = re.findall(r"<li><code>([0-9a-z-]+)</code></li>", codes_page.text)
    assert len(codes) == 10

    signed_out = submit(browser, browser.get("/profile"), "/sign-out")
    assert signed_out.headers["location"] == "/sign-in?notice=signed-out"
    assert browser.get("/profile").headers["location"] == "/sign-in"

    next_step(clock)
    asked = sign_in(browser, people.owner)
    assert asked.headers["location"] == "/sign-in/code"
    code_page = browser.get("/sign-in/code")
    assert "<h1>Enter the 6-digit code</h1>" in code_page.text
    assert ">Use a backup code instead</a>" in code_page.text
    assert ">Use a passkey instead</button>" in code_page.text
    assert browser.get("/profile").headers["location"] == "/sign-in/code"
    rejected = submit(browser, code_page, "/sign-in/code", code="000000"
                      if app.code() != "000000" else "111111")
    assert rejected.status_code == 401
    assert alert(rejected) == "That code is not valid."
    done = submit(browser, code_page, "/sign-in/code", code=app.code())
    assert done.headers["location"] == "/profile"
    assert browser.get("/profile").status_code == 200


def test_a_backup_code_page_signs_in(browser: TestClient, clock: FakeClock, people: Any) -> None:
    sign_in(browser, people.staff)
    _, codes_page = enrol(browser, clock)
    codes = re.findall(r"<li><code>([0-9a-z-]+)</code></li>", codes_page.text)
    submit(browser, browser.get("/profile"), "/sign-out")
    sign_in(browser, people.staff)
    page = browser.get("/sign-in/backup-code")
    assert '<label for="code">Backup code</label>' in page.text
    assert submit(browser, page, "/sign-in/backup-code", code=codes[3]).headers["location"] \
        == "/profile"


def test_disable_2fa_needs_the_password(browser: TestClient, clock: FakeClock,
                                        people: Any) -> None:
    sign_in(browser, people.staff)
    enrol(browser, clock)
    security = browser.get("/settings/security")
    assert '<form method="post" action="/settings/security/disable" aria-label="Disable 2FA">' \
        in security.text
    wrong = submit(browser, security, "/settings/security/disable", password="nope")
    assert wrong.status_code == 401
    assert alert(wrong) == "Re-enter your password."
    done = submit(browser, security, "/settings/security/disable",
                  password=people.staff.password)
    assert "2FA is off" in follow(browser, done).text


def test_enforcement_is_the_owners_and_forces_enrolment(clinic: Clinic, clock: FakeClock,
                                                        people: Any) -> None:
    app = create_app(clinic, test_support=False)
    with TestClient(app, follow_redirects=False) as owner, \
            TestClient(app, follow_redirects=False) as staff:
        sign_in(owner, people.owner)
        page = owner.get("/settings/security")
        assert ">2FA enforcement</legend>" in page.text
        assert 'value="required"> Required</label>' in page.text
        assert 'value="optional" checked> Optional</label>' in page.text
        assert '<button type="submit">Save</button>' in page.text

        sign_in(staff, people.staff)
        read_only = staff.get("/settings/security")
        assert "2FA enforcement: <strong>Optional</strong>" in read_only.text
        assert 'name="enforcement"' not in read_only.text
        forged = staff.post("/settings/security/enforcement",
                            data={"csrf_token": csrf(read_only), "enforcement": "required"})
        assert forged.status_code == 403
        assert alert(forged) == "Only the owner changes 2FA enforcement."
        saved = submit(owner, page, "/settings/security/enforcement", enforcement="required")
        assert saved.headers["location"] == "/settings/security?notice=saved"

        submit(staff, staff.get("/profile"), "/sign-out")
        forced = sign_in(staff, people.staff)
        assert forced.headers["location"] == "/settings/security?notice=enrol"
        assert staff.get("/profile").headers["location"] == "/settings/security?notice=enrol"
        enrolling = staff.get(forced.headers["location"])
        assert "Your clinic requires 2FA" in enrolling.text
        assert 'aria-label="Avatar"' not in enrolling.text  # nothing else is open yet
        _, codes = enrol(staff, clock)
        assert "Save backup codes" in codes.text
        assert staff.get("/profile").status_code == 200


def test_staff_page_disables_2fa_for_someone(clinic: Clinic, clock: FakeClock,
                                             people: Any) -> None:
    app = create_app(clinic, test_support=False)
    with TestClient(app, follow_redirects=False) as admin, \
            TestClient(app, follow_redirects=False) as staff:
        sign_in(staff, people.staff)
        enrol(staff, clock)
        refused = staff.get("/settings/staff")
        assert refused.status_code == 403
        assert alert(refused) == "Only the owner and admins see Staff."

        sign_in(admin, people.admin)
        listing = admin.get("/settings/staff")
        assert listing.status_code == 200
        assert listing.text.count(">Disable 2FA</button>") == 1  # only the staff member's
        done = submit(admin, listing, "/settings/staff/disable-2fa", email=people.staff.email)
        assert "2FA is off for that user" in follow(admin, done).text
        assert staff.get("/profile").headers["location"] == "/sign-in"  # their session ended


def test_pages_use_no_external_resources(browser: TestClient, people: Any) -> None:
    sign_in(browser, people.owner)
    for path in ("/sign-in", "/profile", "/settings/security", "/settings/staff"):
        text = browser.get(path).text
        assert not re.search(r'(src|href)="(https?:)?//', text), path
    for asset in ("/static/style.css", "/static/noscript.css", "/static/app.js",
                  "/static/passkey.js"):
        response = browser.get(asset)
        assert response.status_code == 200
        assert "http://" not in response.text and "https://" not in response.text


def test_no_log_line_holds_a_password_or_a_code(browser: TestClient, clock: FakeClock,
                                                people: Any,
                                                caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG):
        sign_in(browser, people.owner)
        app, codes_page = enrol(browser, clock)
        browser.post("/sign-in", data={"email": people.owner.email, "password": "p4ss-typo"})
    codes = re.findall(r"<li><code>([0-9a-z-]+)</code></li>", codes_page.text)
    for secret in (people.owner.password, "p4ss-typo", app.accounts[0].secret, *codes):
        assert secret not in caplog.text


PAGE_POSTS = ["/sign-in", "/sign-in/code", "/sign-in/backup-code", "/sign-out",
              "/settings/security/authenticator", "/settings/security/authenticator/confirm",
              "/settings/security/backup-codes", "/settings/security/disable",
              "/settings/security/enforcement", "/settings/security/passkeys/remove",
              "/settings/staff/disable-2fa"]


@pytest.mark.parametrize("path", PAGE_POSTS)
def test_odd_form_input_never_makes_a_server_error(clinic: Clinic, people: Any,
                                                   path: str) -> None:
    app = create_app(clinic, test_support=False)
    with TestClient(app, follow_redirects=False) as client:
        sign_in(client, people.owner)
        token = csrf(client.get("/settings/security"))
        bodies: list[bytes] = [
            b"", f"csrf_token={token}".encode(),
            f"csrf_token={token}&code=%ff%fe&password=%00&email=%C0%AF&name=x".encode(),
            f"csrf_token={token}&enforcement=sometimes&code={'9' * 5000}".encode(),
            f"csrf_token={token}&csrf_token=x&email=nobody&password=&name=".encode(),
        ]
        for body in bodies:
            response = client.post(path, content=body, headers={
                "content-type": "application/x-www-form-urlencoded"})
            assert response.status_code < 500, (path, body[:60], response.text[:200])
        multipart = client.post(path, content=b"--x\r\nbroken", headers={
            "content-type": "multipart/form-data; boundary=x"})
        assert multipart.status_code < 500
