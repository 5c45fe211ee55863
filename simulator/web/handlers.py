"""Refusals as HTTP: the contract's error body for the API, an alert or a redirect for pages."""

from __future__ import annotations

import logging
import math

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException

from clinic2fa.simulator.errors import ErrorCode, TwoFactorError
from clinic2fa.simulator.web import cookies, render
from clinic2fa.simulator.web.status import status_of

log = logging.getLogger("clinic2fa.web")

JSON_PREFIXES = ("/api/", "/test-support/")
TOO_LARGE = "The request body is larger than this server takes."
# Page redirects for refusals that only say where the person has to go next.
NEXT_PAGE = {
    ErrorCode.NOT_SIGNED_IN: "/sign-in",
    ErrorCode.SIGN_IN_EXPIRED: "/sign-in?notice=expired",
    ErrorCode.SECOND_STEP_REQUIRED: "/sign-in/code",
    ErrorCode.ENROLMENT_REQUIRED: "/settings/security?notice=enrol",
}


def wants_json(request: Request) -> bool:
    return request.url.path.startswith(JSON_PREFIXES) or request.url.path == "/healthz"


def error_json(refusal: TwoFactorError) -> JSONResponse:
    """The contract's error body, with the headers RFC 6750 and RFC 6585 ask for.

    A lock-out that ends by itself says when (Retry-After, whole seconds, at least 1); a
    block that only the owner or an admin lifts (RATE-LIMIT-CAP) has no Retry-After.
    """
    headers = {}
    if refusal.code in (ErrorCode.NOT_SIGNED_IN, ErrorCode.SIGN_IN_EXPIRED):
        headers["www-authenticate"] = 'Bearer realm="clinic2fa"'
    if refusal.code is ErrorCode.LOCKED_OUT and refusal.retry_after is not None:
        headers["retry-after"] = str(max(1, math.ceil(refusal.retry_after)))
    return JSONResponse(refusal.to_dict(), status_code=status_of(refusal.code), headers=headers)


async def on_refusal(request: Request, refusal: TwoFactorError) -> Response:
    if wants_json(request):
        return error_json(refusal)
    if refusal.code in NEXT_PAGE:
        response = RedirectResponse(NEXT_PAGE[refusal.code], status_code=303)
        if refusal.code in (ErrorCode.NOT_SIGNED_IN, ErrorCode.SIGN_IN_EXPIRED):
            cookies.end_session(response)
        return response
    return render.page(request, "error.html", status=status_of(refusal.code),
                       error=refusal.message)


async def on_invalid(request: Request, exc: RequestValidationError) -> Response:
    """FastAPI's 422 echoes the input (a password!); ours names only the field that is wrong."""
    first = exc.errors()[0] if exc.errors() else {}
    where = ".".join(str(part) for part in first.get("loc", ()) if part != "body") or "body"
    message = f"{where}: {first.get('msg', 'invalid')}"
    refusal = TwoFactorError(ErrorCode.INVALID_REQUEST, message)
    if wants_json(request):
        return error_json(refusal)
    return render.page(request, "error.html", status=422, error="Fill in every field.")


async def on_http(request: Request, exc: HTTPException) -> Response:
    """Unknown paths and wrong methods keep their status but speak the contract's body.

    A body that cannot be parsed at all (Starlette's 400) is a request validation error: 422.
    """
    status = 422 if exc.status_code == 400 else exc.status_code
    message = {404: "No such page.", 405: "That method is not allowed here.",
               413: TOO_LARGE, 422: "The request body cannot be read."}.get(status,
                                                                            str(exc.detail))
    if wants_json(request):
        code = ErrorCode.REQUEST_TOO_LARGE if status == 413 else ErrorCode.INVALID_REQUEST
        body = {"error": code.value, "reason": None, "message": message}
        return JSONResponse(body, status_code=status, headers=exc.headers)
    return render.page(request, "error.html", status=status, error=message)


async def on_csrf(request: Request, exc: cookies.CsrfRefused) -> Response:
    message = "The form expired or came from another site. Reload the page and try again."
    log.warning("refused a request without a valid CSRF token: %s", request.url.path)
    if wants_json(request):
        body = {"error": ErrorCode.NOT_PERMITTED.value, "reason": None, "message": message}
        return JSONResponse(body, status_code=403)
    return render.page(request, "error.html", status=403, error=message)


def install(app: FastAPI) -> None:
    app.add_exception_handler(TwoFactorError, on_refusal)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, on_invalid)  # type: ignore[arg-type]
    app.add_exception_handler(HTTPException, on_http)  # type: ignore[arg-type]
    app.add_exception_handler(cookies.CsrfRefused, on_csrf)
