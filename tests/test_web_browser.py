"""The guide in Chromium: enrol by scanning the on-screen QR code, sign out, sign in with a code.

The server runs on http://localhost:PORT (WebAuthn refuses 127.0.0.1) on a FakeClock started at
the real time, moved through test support when a fresh code is needed: no waiting for time.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import BrowserContext, Page, expect

from clinic2fa.simulator.clinic import Clinic
from clinic2fa.simulator.clock import FakeClock
from clinic2fa.simulator.policy import FAST_HASH, Policy
from clinic2fa.simulator.users import Role
from clinic2fa.simulator.virtual.authenticator_app import AuthenticatorApp
from clinic2fa.simulator.web.app import create_app
from clinic2fa.simulator.web.server import listen, running

OWNER = ("owner@clinic.test", "owner-Pa55-correct-horse")
STAFF = ("staff@clinic.test", "staff-Pa55-tooth-fairy")


@dataclass
class Site:
    url: str
    clock: FakeClock
    shots: Path

    def shoot(self, page: Page, name: str) -> Path:
        path = self.shots / f"{name}.png"
        page.screenshot(path=path, full_page=True)
        return path

    def next_step(self) -> None:
        """Move the server's clock to the next 30-second step, via test support."""
        now = httpx.get(f"{self.url}/test-support/clock").json()["now"]
        step_start = (int(now // 30) + 1) * 30
        httpx.post(f"{self.url}/test-support/clock", json={"set": step_start}).raise_for_status()


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    sock = listen("localhost")
    origin = f"http://localhost:{sock.getsockname()[1]}"
    clock = FakeClock(time.time())
    clinic = Clinic(clock=clock, policy=Policy(hash_cost=FAST_HASH), rp_id="localhost",
                    origin=origin)
    clinic.add_user(*OWNER, Role.OWNER, "Olivia Hart")
    clinic.add_user(*STAFF, Role.STAFF, "Sara Lin")
    shots = tmp_path / "screenshots"
    shots.mkdir()
    with running(create_app(clinic, test_support=True), sock=sock) as url:
        assert url == origin
        yield Site(url, clock, shots)


def sign_in(page: Page, site: Site, email: str, password: str) -> None:
    page.goto(f"{site.url}/sign-in")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def menu(page: Page, opener: str, item: str) -> None:
    """Open a header menu ("Avatar", "Settings") and follow one of its items."""
    header = page.get_by_role("navigation", name="Main")
    header.get_by_role("button", name=opener).click()
    header.get_by_role("link", name=item).click()


def sign_out(page: Page) -> None:
    page.get_by_role("button", name="Avatar").click()
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("status")).to_have_text("You are signed out.")


def test_enrol_with_the_authenticator_app_then_sign_in_with_a_code(page: Page,
                                                                  site: Site) -> None:
    problems: list[str] = []  # script errors and Content-Security-Policy violations
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda error: problems.append(str(error)))
    shots = []
    sign_in(page, site, *OWNER)
    expect(page.get_by_role("heading", name="My Profile")).to_be_visible()

    # Step 1: Avatar -> My Profile -> Security
    menu(page, "Avatar", "My Profile")
    page.get_by_role("navigation", name="Profile").get_by_role("link", name="Security").click()
    expect(page.get_by_role("heading", name="Security", exact=True)).to_be_visible()
    shots.append(site.shoot(page, "01-security"))

    # Step 2: Set up authenticator app: a QR code with the manual-entry secret beside it
    page.get_by_role("button", name="Set up authenticator app").click()
    qr = page.get_by_role("img", name="QR code")
    expect(qr).to_be_visible()
    shots.append(site.shoot(page, "02-set-up-authenticator-app"))

    # Step 3: the phone scans the code on screen
    phone = AuthenticatorApp(site.clock.now)
    account = phone.scan(qr.screenshot())
    assert account.issuer == "MyDentalPractice"
    assert account.account == OWNER[0]
    manual = page.get_by_label("Manual-entry secret").inner_text()
    assert manual.replace(" ", "") == account.secret

    # Step 4: a wrong code is refused in an alert, the right one confirms
    code_field = page.get_by_label("6-digit code")
    code_field.fill("12345")
    page.get_by_role("button", name="Confirm").click()
    expect(page.get_by_role("alert")).to_have_text(
        "Enter the 6-digit code from your authenticator app.")
    page.get_by_label("6-digit code").fill(phone.code(account))
    page.get_by_role("button", name="Confirm").click()

    # Step 5: Save backup codes: 10 of them, shown once
    expect(page.get_by_role("heading", name="Save backup codes")).to_be_visible()
    expect(page.get_by_role("list", name="Backup codes").get_by_role("listitem")) \
        .to_have_count(10)
    shots.append(site.shoot(page, "03-save-backup-codes"))

    # Step 6: sign out, sign in: after the password the code is asked
    sign_out(page)
    shots.append(site.shoot(page, "04-sign-in"))
    site.next_step()
    sign_in(page, site, *OWNER)
    expect(page.get_by_role("heading", name="Enter the 6-digit code")).to_be_visible()
    expect(page.get_by_role("link", name="Use a backup code instead")).to_be_visible()
    expect(page.get_by_role("button", name="Use a passkey instead")).to_be_visible()
    shots.append(site.shoot(page, "05-enter-the-6-digit-code"))
    page.get_by_label("6-digit code").fill(phone.code(account))
    page.get_by_role("button", name="Verify").click()
    expect(page.get_by_role("heading", name="My Profile")).to_be_visible()
    expect(page).to_have_url(re.compile(r"/profile$"))
    shots.append(site.shoot(page, "06-my-profile"))

    # Step 8: Settings -> Security -> 2FA enforcement: Required (owner only); Settings -> Staff
    menu(page, "Settings", "Security")
    page.get_by_role("radio", name="Required").check()
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status")).to_have_text("Saved.")
    expect(page.get_by_role("radio", name="Required")).to_be_checked()
    shots.append(site.shoot(page, "07-settings-security"))
    menu(page, "Settings", "Staff")
    expect(page.get_by_role("row", name=re.compile("Sara Lin"))).to_be_visible()
    shots.append(site.shoot(page, "08-settings-staff"))

    assert [shot.name for shot in sorted(site.shots.iterdir())] == [s.name for s in shots]
    assert all(shot.stat().st_size > 1000 for shot in shots)
    assert [p for p in problems if "status of 401" not in p] == []  # 401: the refused code


def test_enforcement_sends_staff_to_enrolment_and_the_admin_view_disables(
        page: Page, site: Site) -> None:
    sign_in(page, site, *OWNER)
    menu(page, "Settings", "Security")
    page.get_by_role("radio", name="Required").check()
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status")).to_have_text("Saved.")
    sign_out(page)

    sign_in(page, site, *STAFF)
    expect(page.get_by_role("heading", name="Security", exact=True)).to_be_visible()
    expect(page.get_by_role("status")).to_contain_text("Your clinic requires 2FA")
    expect(page.get_by_role("button", name="Avatar")).to_have_count(0)
    page.get_by_role("button", name="Set up authenticator app").click()
    phone = AuthenticatorApp(site.clock.now)
    account = phone.type_secret(page.get_by_label("Manual-entry secret").inner_text())
    page.get_by_label("6-digit code").fill(phone.code(account))
    page.get_by_role("button", name="Confirm").click()
    expect(page.get_by_role("heading", name="Save backup codes")).to_be_visible()
    site.shoot(page, "enrolment-forced")
    assert (site.shots / "enrolment-forced.png").stat().st_size > 0


def test_a_passkey_set_up_in_the_browser_signs_in(context: BrowserContext, page: Page,
                                                  site: Site) -> None:
    cdp = context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    cdp.send("WebAuthn.addVirtualAuthenticator", {"options": {
        "protocol": "ctap2", "transport": "internal", "hasResidentKey": True,
        "hasUserVerification": True, "isUserVerified": True}})

    sign_in(page, site, *STAFF)
    menu(page, "Settings", "Security")
    page.get_by_label("Passkey name").fill("This laptop")
    page.get_by_role("button", name="Set up passkey").click()
    # the first factor: its backup codes are shown this once
    expect(page.get_by_role("list", name="Backup codes").get_by_role("listitem")) \
        .to_have_count(10)
    site.shoot(page, "passkey-added")
    page.get_by_role("link", name="Done").click()
    expect(page.get_by_text("This laptop")).to_be_visible()

    sign_out(page)
    sign_in(page, site, *STAFF)
    expect(page.get_by_role("heading", name="Enter the 6-digit code")).to_be_visible()
    page.get_by_role("button", name="Use a passkey instead").click()
    expect(page.get_by_role("heading", name="My Profile")).to_be_visible()
    assert (site.shots / "passkey-added.png").stat().st_size > 0
