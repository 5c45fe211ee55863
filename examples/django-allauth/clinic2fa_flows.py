"""The guide's actions that clinic2fa.toml's steps cannot say on this site, one function each.

Named by clinic2fa.toml (`[browser] module`), each is given Playwright's page (signed in as the
person acting) and the action's values; the harness reads the page it leaves (or the rows a
`staff` function returns). Settings -> Staff is Django admin's Authenticator list (README.md).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from playwright.sync_api import Page

from clinic2fa.scenarios.contract import Refused

REAUTH = "form[action='/accounts/reauthenticate/']"
ROWS = "#result_list tbody tr"
ACTIVATE = "form[action='/accounts/2fa/totp/activate/']"


LANDINGS = {"/accounts/2fa/authenticate/": "second_step_required",
            "/accounts/login/": "not_signed_in"}


def _go(page: Page, path: str) -> None:
    """Open a page; Refused where the site sends the browser to the code or sign-in page."""
    parts = urlsplit(page.url)
    page.goto(f"{parts.scheme}://{parts.netloc}{path}")
    _landed(page)


def _landed(page: Page) -> None:
    code = LANDINGS.get(urlsplit(page.url).path)
    if code:
        raise Refused(code, None, f"the page sent the browser to {page.url}")


def _reauthenticate(page: Page, password: str) -> None:
    """allauth's "Confirm Access" prompt, when it comes (not within 300 s of the last one)."""
    if page.locator(REAUTH).count():
        page.locator(f"{REAUTH} input[name=password]").fill(password)
        with page.expect_navigation():
            page.locator(f"{REAUTH} button[type=submit]").click()
        _landed(page)


def _admin_page(page: Page, path: str) -> bool:
    """Open an admin page; False when the site sent the browser elsewhere (the harness reads
    where: the sign-in or code page), Refused when the admin says no (staff get HTTP 403)."""
    _go(page, path)
    if page.locator("h1", has_text="403 Forbidden").count():
        raise Refused("not_permitted", None, f"HTTP 403 at {path} (Django admin: no access)")
    return page.locator("#changelist").count() > 0


def _users(page: Page) -> dict[str, str]:
    """Username -> e-mail, from the admin's user list."""
    if not _admin_page(page, "/admin/auth/user/"):
        return {}
    rows = page.locator(ROWS)
    return {rows.nth(n).locator(".field-username").inner_text().strip():
            rows.nth(n).locator(".field-email").inner_text().strip()
            for n in range(rows.count())}


def start_authenticator_setup(page: Page, password: str) -> None:
    """Security -> Activate; the page offers Deactivate instead once an app is set up."""
    _go(page, "/accounts/2fa/")
    if page.get_by_role("link", name="Deactivate", exact=True).count():
        raise Refused("already_enrolled", None, "the Security page offers Deactivate, not "
                      "Activate: an authenticator app is set up (read from the page)")
    activate = page.get_by_role("link", name="Activate", exact=True)
    if not activate.count():
        return  # not the Security page: the harness reads where the browser is
    with page.expect_navigation():
        activate.click()
    _reauthenticate(page, password)


def confirm_enrolment(page: Page, code: str, password: str) -> None:
    """Type the code on the setup screen; Back to it first if the person went elsewhere (a
    new load of it would make a new secret, so a person goes Back, as the guide's retry does)."""
    form = page.locator(ACTIVATE)
    for _ in range(4):
        if form.count() or not page.go_back():
            break
    if not form.count():
        return  # no setup in progress in this browser: the harness reads where it is
    form.locator("input[name=code]").fill(code)
    with page.expect_navigation():
        form.get_by_role("button", name="Activate", exact=True).click()


def regenerate_backup_codes(page: Page, password: str) -> None:
    """Security -> Generate -> (re-authenticate) -> Generate."""
    _go(page, "/accounts/2fa/recovery-codes/generate/")
    _reauthenticate(page, password)
    generate = page.get_by_role("button", name="Generate", exact=True)
    if generate.count():
        with page.expect_navigation():
            generate.click()


def backup_codes(page: Page, password: str) -> None:
    """Security -> Recovery Codes -> View: "Confirm Access" first, outside its 300-s window."""
    _go(page, "/accounts/2fa/recovery-codes/")
    _reauthenticate(page, password)


def begin_passkey_setup(page: Page, password: str) -> None:
    """Security Keys -> Add -> (re-authenticate) -> Passwordless, Add: the browser's prompt."""
    _go(page, "/accounts/2fa/webauthn/add/")
    _reauthenticate(page, password)
    page.locator("#id_passwordless").check()
    page.locator("#mfa_webauthn_add").click()


def disable_2fa(page: Page, password: str) -> None:
    """Security -> Deactivate (the authenticator app); a key-only account has no Deactivate."""
    _go(page, "/accounts/2fa/")
    deactivate = page.get_by_role("link", name="Deactivate", exact=True)
    if not deactivate.count():
        if page.get_by_role("link", name="Activate", exact=True).count():
            raise Refused("not_enrolled", None, "the Security page offers no Deactivate: no "
                          "authenticator app is set up (read from the page)")
        return  # not the Security page: the harness reads where the browser is
    with page.expect_navigation():
        deactivate.click()
    _reauthenticate(page, password)
    with page.expect_navigation():
        page.get_by_role("button", name="Deactivate", exact=True).click()


def staff(page: Page, password: str) -> list[dict[str, Any]] | None:
    """Every user, whether they have a second factor (an app or a key), and what the pages of
    their authenticators (each row of the list links to one) show an owner or admin."""
    users = _users(page)
    if not users or not _admin_page(page, "/admin/mfa/authenticator/"):
        return None
    rows = page.locator(ROWS)
    listed = [(rows.nth(n).locator(".field-user").inner_text().strip(),
               rows.nth(n).locator(".field-type").inner_text().strip(),
               rows.nth(n).locator("a").first.get_attribute("href") or "")
              for n in range(rows.count())]
    shown: dict[str, list[str]] = {}
    for user, _, href in listed:
        if href.startswith("/admin/"):
            _go(page, href)
            shown.setdefault(user, []).append(" ".join(page.locator("#content").inner_text()
                                                       .split()))
    return [{"email": email,
             "two_factor_enabled": any(user == name and kind in ("TOTP Authenticator", "WebAuthn")
                                       for user, kind, _ in listed),
             "authenticator pages": shown.get(name, [])}
            for name, email in users.items()]


# Django admin's user page: the password field's summary (ReadOnlyPasswordHashWidget), each
# label in <strong> with its value in the <bdi> after it; salt and hash masked (mask_hash).
SUMMARY = """() => Array.from(document.querySelectorAll('.field-password strong')).map(label =>
  [label.textContent.trim(), label.nextElementSibling && label.nextElementSibling.tagName === 'BDI'
   ? label.nextElementSibling.textContent.trim() : ''])"""


def stored_password(page: Page, subject: str, password: str) -> str:
    """The user's admin page: how Django keeps the password, in its own stored format
    (algorithm$iterations$salt$hash) with the masks the page shows."""
    users = {email.casefold(): name for name, email in _users(page).items()}
    if subject.casefold() not in users:
        raise Refused("unknown_user", None, f"{subject} is not in the admin's user list")
    _go(page, "/admin/auth/user/")
    row = page.locator(ROWS).filter(has=page.locator(".field-email", has_text=subject))
    with page.expect_navigation():
        row.locator(".field-username a").first.click()
    summary = dict(page.evaluate(SUMMARY))
    if summary.get("algorithm") not in ("pbkdf2_sha256", "pbkdf2_sha512"):
        raise ValueError(f"the admin page shows {summary} for {subject}'s password: this "
                         "function reads PBKDF2 summaries only")
    return "$".join(summary.get(k, "") for k in ("algorithm", "iterations", "salt", "hash"))


def disable_2fa_for(page: Page, subject: str, password: str) -> None:
    """Tick every authenticator of the user (app, codes, keys) and delete them."""
    name = next((n for n, e in _users(page).items() if e.casefold() == subject.casefold()), None)
    if not _admin_page(page, "/admin/mfa/authenticator/"):
        return
    if name is None:
        raise Refused("unknown_user", None, f"no user {subject} in the admin's user list")
    rows = page.locator(ROWS).filter(
        has=page.locator(".field-user").get_by_text(name, exact=True))
    if not rows.count():
        return  # nothing to delete: the list (its paginator) is what the harness reads
    for n in range(rows.count()):
        rows.nth(n).locator("input.action-select").check()
    page.select_option("select[name=action]", "delete_selected")
    with page.expect_navigation():
        page.get_by_role("button", name="Go", exact=True).click()
    with page.expect_navigation():
        page.get_by_role("button", name="Yes, I\u2019m sure").click()


def remove_passkey(page: Page, name: str, password: str) -> None:
    """Security Keys -> the key's Remove -> (re-authenticate) -> Remove."""
    _go(page, "/accounts/2fa/webauthn/")
    row = page.locator("table tbody tr").filter(has_text=name)
    if not row.count():
        raise Refused("not_enrolled", None, f"no security key named {name!r} on the page")
    with page.expect_navigation():
        row.first.get_by_role("link", name="Remove", exact=True).click()
    _reauthenticate(page, password)
    with page.expect_navigation():
        page.get_by_role("button", name="Remove", exact=True).click()
