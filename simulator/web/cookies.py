"""The pages' cookie session and its CSRF token: the cookie holds the clinic's session token."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from fastapi import Request, Response

SESSION_COOKIE = "clinic2fa_session"
PRE_SESSION_COOKIE = "clinic2fa_pre"  # binds the sign-in form's CSRF token before any session
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class CsrfRefused(Exception):
    """A state-changing request without this session's CSRF token."""


def session_token(request: Request) -> str | None:
    return request.cookies.get(SESSION_COOKIE) or None


def csrf_token(request: Request) -> str:
    """This browser's token: an HMAC of its session (or pre-session) cookie under the app key.

    Nothing to store server-side, and it changes whenever the session does (after sign-in).
    """
    key = _binding(request)
    if key is None:
        nonce = getattr(request.state, "new_pre_session", None) or secrets.token_urlsafe(24)
        request.state.new_pre_session = nonce
        key = f"pre:{nonce}"
    return _sign(request, key)


def remember_pre_session(request: Request, response: Response) -> None:
    """Set the pre-session cookie if csrf_token() had to invent one for this page."""
    nonce = getattr(request.state, "new_pre_session", None)
    if nonce:
        _set(request, response, PRE_SESSION_COOKIE, nonce)


def check_csrf(request: Request, supplied: str | None) -> None:
    """Refuse unless `supplied` is this browser's token (compared in constant time)."""
    key = _binding(request)
    if key is None or not supplied or not hmac.compare_digest(_sign(request, key), supplied):
        raise CsrfRefused


def start_session(request: Request, response: Response, token: str) -> None:
    """After a password check: the clinic's token goes into an HttpOnly, SameSite cookie."""
    _set(request, response, SESSION_COOKIE, token)
    response.delete_cookie(PRE_SESSION_COOKIE, path="/")


def end_session(response: Response) -> None:
    response.delete_cookie(SESSION_COOKIE, path="/")


def _binding(request: Request) -> str | None:
    if token := request.cookies.get(SESSION_COOKIE):
        return f"session:{token}"
    if nonce := request.cookies.get(PRE_SESSION_COOKIE):
        return f"pre:{nonce}"
    return None


def _sign(request: Request, key: str) -> str:
    secret: bytes = request.app.state.csrf_key
    return hmac.new(secret, key.encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()


def _set(request: Request, response: Response, name: str, value: str) -> None:
    """HttpOnly and SameSite=Lax; Secure whenever the page itself came over https."""
    response.set_cookie(name, value, path="/", httponly=True, samesite="lax",
                        secure=request.url.scheme == "https")
