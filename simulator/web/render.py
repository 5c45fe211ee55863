"""Jinja2 rendering of the pages, with the context every page needs (CSRF token, who is in)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from clinic2fa.simulator.clinic import StaffEntry
from clinic2fa.simulator.web import cookies

templates = Jinja2Templates(directory=Path(__file__).with_name("templates"))

# Notices are chosen by key, so a URL can never make a page say something of its own.
NOTICES = {
    "signed-out": "You are signed out.",
    "expired": "Your sign-in expired. Sign in again.",
    "disabled": "2FA is off. Your sign-in now asks only for your password.",
    "saved": "Saved.",
    "passkey-added": "Passkey added.",
    "passkey-removed": "Passkey removed.",
    "staff-disabled": "2FA is off for that user; they set it up again at their next sign-in.",
    "staff-unblocked": "Unblocked: that user can sign in again.",
    "enrol": "Your clinic requires 2FA. Set up an authenticator app or a passkey to continue.",
}


PAGE_HEADERS = {
    "cache-control": "no-store",  # pages show secrets once (QR code, backup codes): never cache
    "content-security-policy": "default-src 'self'; frame-ancestors 'none'; "
                               "form-action 'self'; base-uri 'none'",
    "referrer-policy": "no-referrer",
    "x-content-type-options": "nosniff",
}


def page(request: Request, name: str, *, status: int = 200, error: str | None = None,
         viewer: StaffEntry | None = None, **context: Any) -> HTMLResponse:
    """Render a page: `error` goes into a role=alert element, `viewer` drives the menus."""
    notice = NOTICES.get(request.query_params.get("notice", ""))
    response = templates.TemplateResponse(
        request, name, {"csrf_token": cookies.csrf_token(request), "error": error,
                        "notice": notice, "viewer": viewer, **context},
        status_code=status)
    cookies.remember_pre_session(request, response)
    response.headers.update(PAGE_HEADERS)
    return response
