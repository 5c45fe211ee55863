"""BACKUP-SHOWN-ONCE looks where the profile says codes are shown: the pages its facts are read
on, and the page it names `backup_codes` (Flask-Security-Too and allauth show the current codes
again on a page of their own). A deployment that shows them there fails; the reference passes."""

from __future__ import annotations

from typing import Any

import pytest
from browser_support import outcome
from fastapi import FastAPI, Form, Request
from fastapi.responses import HTMLResponse
from playwright.sync_api import Browser

from clinic2fa.simulator import backup_codes
from clinic2fa.simulator.clinic import Clinic, Stage
from clinic2fa.simulator.users import User
from clinic2fa.simulator.web import cookies, rooms

SCENARIO = "BACKUP-SHOWN-ONCE-NEVER-AGAIN"
PAGE = "/settings/security/codes"


class CodesKept(Clinic):
    """Keeps each user's current codes in plain, for a page that shows them again."""

    def __init__(self, **made: Any) -> None:
        super().__init__(**made)
        self.kept: dict[str, list[str]] = {}

    def _new_backup_codes(self, user: User, fresh: backup_codes.Issue) -> list[str]:
        codes = super()._new_backup_codes(user, fresh)
        self.kept[user.email] = list(codes)
        return codes

    def confirmed(self, token: str, password: str) -> list[str]:
        """The signed-in user's codes, once their password is re-entered (else refused)."""
        _, user = self._session(token, Stage.SIGNED_IN)
        self._require_password(user, password)
        return self.kept.get(user.email, [])


def _codes_page(app: FastAPI, field: bool = False) -> FastAPI:
    """The page showing the current codes: as list items, or in one read-only field (as
    django-allauth does: a page's text leaves a field's value out)."""
    @app.get(PAGE, response_class=HTMLResponse)
    def shown_again(request: Request) -> str:
        clinic = rooms.room_of(request.scope).clinic  # a test clinic's, or the served one
        email = clinic.profile(cookies.session_token(request) or "").email
        codes = clinic.kept.get(email, [])
        shown = f"<textarea readonly>{chr(10).join(codes)}</textarea>" if field else \
            "<ul>" + "".join(f"<li>{c}</li>" for c in codes) + "</ul>"
        return f"<html><body><h1>Your backup codes</h1>{shown}</body></html>"
    return app


def _codes_field_page(app: FastAPI) -> FastAPI:
    return _codes_page(app, field=True)


def _confirmed_codes_page(app: FastAPI) -> FastAPI:
    """The page asks for the password first (django-allauth's "Confirm Access"), then shows
    the current codes: only a flow that answers the prompt sees them."""
    @app.get(PAGE, response_class=HTMLResponse)
    def prompt() -> str:
        return ("<html><body><h1>Confirm Access</h1><form method='post'>"
                "<input type='password' name='password' aria-label='Password'>"
                "<button type='submit'>Confirm</button></form></body></html>")

    @app.post(PAGE, response_class=HTMLResponse)
    def shown_after(request: Request, password: str = Form("")) -> str:
        clinic = rooms.room_of(request.scope).clinic
        token = cookies.session_token(request) or ""
        codes = "".join(f"<li>{c}</li>" for c in clinic.confirmed(token, password))
        return f"<html><body><h1>Your backup codes</h1><ul>{codes}</ul></body></html>"
    return app


CONFIRM = [{"goto": PAGE},
           {"fill": {"role": "textbox", "name": "Password"}, "value": "{password}"},
           {"submit": {"role": "button", "name": "Confirm"}}]


@pytest.mark.parametrize(("shown", "expected"), [(False, "pass"), (True, "fail")],
                         ids=["reference", "codes-page"])
def test_the_page_the_profile_names_is_looked_at(browser: Browser, shown: bool,
                                                 expected: str) -> None:
    # the reference with the page named, where its Security page is: no codes there
    pages = {"backup_codes": PAGE if shown else "/settings/security"}
    result = outcome(browser, SCENARIO, {"pages": pages}, clinic=CodesKept, wrap=_codes_page)
    assert result.outcome.value == expected, result.message
    if shown:
        assert result.message == "Security shows a backup code again"


@pytest.mark.parametrize("page", [_codes_page, _codes_field_page], ids=["list", "field"])
def test_codes_shown_again_in_a_later_session_fail_backup_hashed(
        browser: Browser, page: Any) -> None:
    # the same page, read after signing out and in again with the app: the codes were kept
    result = outcome(browser, "BACKUP-HASHED-NOT-READ-BACK", {"pages": {"backup_codes": PAGE}},
                     clinic=CodesKept, wrap=page)
    assert result.outcome.value == "fail", result.message
    assert result.message.startswith("Security shows a backup code again in a later session")


@pytest.mark.parametrize(("flows", "expected"), [({}, "pass"), ({"backup_codes": CONFIRM}, "fail")],
                         ids=["page-only", "flow-confirms"])
def test_a_flow_passes_the_codes_pages_password_prompt(browser: Browser, flows: dict[str, Any],
                                                       expected: str) -> None:
    # the prompt alone shows no code (the rule is then only partly seen); the profile's
    # backup_codes flow answers it with the signed-in person's password, and the codes show
    table = {"pages": {"backup_codes": PAGE}, "flows": flows}
    result = outcome(browser, "BACKUP-HASHED-NOT-READ-BACK", table, clinic=CodesKept,
                     wrap=_confirmed_codes_page)
    assert result.outcome.value == expected, result.message
    if flows:
        assert "shows a backup code again in a later session" in result.message
