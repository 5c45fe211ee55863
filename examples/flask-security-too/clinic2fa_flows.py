"""The FST clinic's actions that its profile (clinic2fa.toml) cannot say in TOML."""

from __future__ import annotations

import secrets
from typing import Any

from clinic2fa.scenarios.contract import Refused

CONFIRM = "form[name=two_factor_verify_code_form]"


def confirm_enrolment(page: Any, code: str, password: str) -> None:
    """The code under the QR code; a wrong code ends the library's setup, so the form is gone."""
    form = page.locator(CONFIRM)
    if not (page.locator("img#qrcode").is_visible() and form.is_visible()):
        page.goto(_origin(page) + "/tf-setup")  # where a person looks for it
        if page.locator("h1", has_text="Login").is_visible():
            raise Refused("not_signed_in", None, "the setup page sent the browser to sign in")
        raise Refused("no_setup_in_progress", None, "the setup page shows no setup in progress "
                      "(a refused code or another page ended it)")
    form.locator("#code").fill(code)
    with page.expect_navigation():
        form.locator("#submit-code").click()


def begin_passkey_setup(page: Any, password: str) -> str:
    """The library asks for the passkey's nickname BEFORE the browser's prompt: a name of our
    own goes in (the harness shows the scenario's name for it); the next page opens the prompt."""
    name = f"key-{secrets.token_hex(4)}"
    page.goto(_origin(page) + "/wan-register")
    if page.locator("h1", has_text="Login").is_visible():  # a pending sign-in, signed out
        raise Refused("not_signed_in", None, "the passkeys page sent the browser to sign in")
    page.locator("#name").fill(name)
    with page.expect_navigation():
        page.locator("#wan_register").click()
    return name


def finish_passkey_setup(page: Any, name: str, password: str) -> None:
    """Nothing to type: the nickname went in before the prompt (begin_passkey_setup)."""


def remove_passkey(page: Any, name: str, password: str) -> None:
    """'Delete an Existing Passkey' on the passkeys page, by nickname."""
    page.goto(_origin(page) + "/wan-register")
    page.locator("#delete-name").fill(name)
    with page.expect_navigation():
        page.locator("form[name=wan_delete_form] #submit").click()


def _origin(page: Any) -> str:
    scheme, _, rest = page.url.partition("://")
    return f"{scheme}://{rest.split('/', 1)[0]}"


def begin_passkey_sign_in(page: Any) -> None:
    """At the second step: choose "passkey" where the library asks which method, then Start."""
    select = page.locator("form[name=tf_select]")
    if select.is_visible():
        select.locator("input[name=which][value=webauthn]").check()
        with page.expect_navigation():
            select.locator("#submit").click()
    start = page.locator("#wan_signin")
    if not start.is_visible():  # the code page of a user without a second-factor passkey
        raise Refused("not_enrolled", None, "the second step offers no passkey (read from the "
                      "page)")
    with page.expect_navigation():
        start.click()


def disable_2fa(page: Any, password: str) -> None:
    """The setup page's "Disable two-factor authentication" choice, where it offers one."""
    page.goto(_origin(page) + "/tf-setup")
    choice = page.locator("input[name=setup][value=disable]")
    if not choice.is_visible():
        raise Refused("not_enrolled", None, "the setup page offers no \"Disable two-factor "
                      "authentication\" (its method is none; read from the page)")
    choice.check()
    with page.expect_navigation():
        page.locator("form[name=two_factor_setup_form] #submit").click()
