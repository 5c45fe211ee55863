"""The guide's pages (HTML forms, cookie session, CSRF on every POST), in the guide's words."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from clinic2fa.simulator.clinic import Clinic, StaffEntry, Stage
from clinic2fa.simulator.errors import ErrorCode, TwoFactorError
from clinic2fa.simulator.web import cookies
from clinic2fa.simulator.web.handlers import NEXT_PAGE
from clinic2fa.simulator.web.render import page
from clinic2fa.simulator.web.rooms import room_of
from clinic2fa.simulator.web.screens import SetupScreens
from clinic2fa.simulator.web.status import status_of


async def csrf_guard(request: Request) -> None:
    """Every POST carries this browser's CSRF token, as a form field or X-CSRF-Token header."""
    if request.method in cookies.SAFE_METHODS:
        return
    supplied = request.headers.get(cookies.CSRF_HEADER)
    if supplied is None:
        value = (await request.form()).get(cookies.CSRF_FIELD)
        supplied = value if isinstance(value, str) else None
    cookies.check_csrf(request, supplied)


router = APIRouter(include_in_schema=False, dependencies=[Depends(csrf_guard)])

Text = Annotated[str, Form(max_length=1024)]
AFTER_SIGN_IN = {
    Stage.SIGNED_IN: "/profile",
    Stage.SECOND_STEP: "/sign-in/code",
    Stage.ENROLMENT: "/settings/security?notice=enrol",
}


def the_clinic(request: Request) -> Clinic:
    return room_of(request.scope).clinic


def screens(request: Request) -> SetupScreens:
    return room_of(request.scope).setups


ClinicDep = Annotated[Clinic, Depends(the_clinic)]


def token_of(request: Request) -> str:
    token = cookies.session_token(request)
    if token is None:
        raise TwoFactorError(ErrorCode.NOT_SIGNED_IN, "Sign in first.")
    return token


Token = Annotated[str, Depends(token_of)]


def see_other(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def passes_on(refusal: TwoFactorError) -> bool:
    """Refusals that only say where to go next: the handler redirects, the form stays quiet."""
    return refusal.code in NEXT_PAGE


def viewer_of(clinic: Clinic, token: str) -> StaffEntry | None:
    """Who is fully signed in, for the menus; None during forced enrolment."""
    try:
        return clinic.profile(token)
    except TwoFactorError as refusal:
        if refusal.code is ErrorCode.ENROLMENT_REQUIRED:
            return None
        raise


# -- sign-in ------------------------------------------------------------------------------------


@router.get("/")
def home(request: Request, clinic: ClinicDep) -> Response:
    token = cookies.session_token(request)
    if token is None:
        return see_other("/sign-in")
    clinic.profile(token)  # refusals redirect to the step that is still open
    return see_other("/profile")


@router.get("/sign-in")
def sign_in_page(request: Request) -> HTMLResponse:
    return page(request, "sign_in.html")


@router.post("/sign-in")
def sign_in(request: Request, clinic: ClinicDep, email: Text, password: Text) -> Response:
    try:
        signed = clinic.sign_in(email, password)
    except TwoFactorError as refusal:
        return page(request, "sign_in.html", status=status_of(refusal.code),
                    error=refusal.message, email=email)
    old = cookies.session_token(request)
    if old is not None:
        clinic.sign_out(old)  # a new sign-in replaces this browser's session
        screens(request).drop(old)
    response = see_other(AFTER_SIGN_IN[signed.stage])
    cookies.start_session(request, response, signed.token)
    return response


@router.get("/sign-in/code")
def code_page(request: Request) -> Response:
    if cookies.session_token(request) is None:
        return see_other("/sign-in")
    return page(request, "code.html")


def signed_in(request: Request, token: str) -> Response:
    """SESSION-NEW-TOKEN: on to My Profile with a new session cookie (and so a new CSRF
    token); the pending session's cookie is dead."""
    response = see_other("/profile")
    cookies.start_session(request, response, token)
    return response


@router.post("/sign-in/code")
def enter_code(request: Request, clinic: ClinicDep, token: Token, code: Text) -> Response:
    try:
        signed = clinic.enter_code(token, code)
    except TwoFactorError as refusal:
        if passes_on(refusal):
            raise
        return page(request, "code.html", status=status_of(refusal.code), error=refusal.message)
    return signed_in(request, signed.token)


@router.get("/sign-in/backup-code")
def backup_code_page(request: Request) -> Response:
    if cookies.session_token(request) is None:
        return see_other("/sign-in")
    return page(request, "backup_code.html")


@router.post("/sign-in/backup-code")
def use_backup_code(request: Request, clinic: ClinicDep, token: Token, code: Text) -> Response:
    try:
        signed = clinic.use_backup_code(token, code)
    except TwoFactorError as refusal:
        if passes_on(refusal):
            raise
        return page(request, "backup_code.html", status=status_of(refusal.code),
                    error=refusal.message)
    return signed_in(request, signed.token)


@router.post("/sign-out")
def sign_out(request: Request, clinic: ClinicDep) -> Response:
    token = cookies.session_token(request)
    if token is not None:
        clinic.sign_out(token)
        screens(request).drop(token)
    response = see_other("/sign-in?notice=signed-out")
    cookies.end_session(response)
    return response


# -- My Profile and Security --------------------------------------------------------------------


@router.get("/profile")
def profile(request: Request, clinic: ClinicDep, token: Token) -> HTMLResponse:
    return page(request, "profile.html", viewer=clinic.profile(token))


def security_page(request: Request, clinic: Clinic, token: str, *, status: int = 200,
                  error: str | None = None) -> HTMLResponse:
    """Settings -> Security (also Avatar -> My Profile -> Security)."""
    state = clinic.security(token)
    viewer = viewer_of(clinic, token)
    return page(request, "security.html", status=status, error=error, viewer=viewer,
                enrolling=viewer is None, security=state)


def refused_on_security(request: Request, clinic: Clinic, token: str,
                        refusal: TwoFactorError) -> HTMLResponse:
    if passes_on(refusal):
        raise refusal
    return security_page(request, clinic, token, status=status_of(refusal.code),
                         error=refusal.message)


@router.get("/settings/security")
def security(request: Request, clinic: ClinicDep, token: Token) -> HTMLResponse:
    return security_page(request, clinic, token)


@router.post("/settings/security/authenticator")
def start_setup(request: Request, clinic: ClinicDep, token: Token) -> Response:
    """"Set up authenticator app": a fresh QR code each time, shown on the next page."""
    try:
        setup = clinic.start_authenticator_setup(token)
    except TwoFactorError as refusal:
        return refused_on_security(request, clinic, token, refusal)
    screens(request).keep(token, setup)
    return see_other("/settings/security/authenticator")


def setup_page(request: Request, clinic: Clinic, token: str, *, status: int = 200,
               error: str | None = None) -> Response:
    setup = screens(request).get(token)
    if setup is None:
        return see_other("/settings/security")
    viewer = viewer_of(clinic, token)
    qr = setup.qr_svg.replace("<svg ", '<svg role="img" aria-label="QR code" ', 1)
    return page(request, "setup.html", status=status, error=error, viewer=viewer,
                enrolling=viewer is None, qr_svg=qr, manual_entry=setup.manual_entry)


@router.get("/settings/security/authenticator")
def setup(request: Request, clinic: ClinicDep, token: Token) -> Response:
    return setup_page(request, clinic, token)


@router.post("/settings/security/authenticator/confirm")
def confirm(request: Request, clinic: ClinicDep, token: Token, code: Text) -> Response:
    """Confirm enrolment with the 6-digit code; then the backup codes, shown this once."""
    try:
        codes = clinic.confirm_authenticator(token, code)
    except TwoFactorError as refusal:
        if passes_on(refusal):
            raise
        return setup_page(request, clinic, token, status=status_of(refusal.code),
                          error=refusal.message)
    screens(request).drop(token)
    if codes.session is None:
        return page(request, "backup_codes.html", viewer=clinic.profile(token), codes=codes)
    # enrolment under enforcement completed: the session goes on under a new token, whose
    # cookie (and CSRF token) this page already carries (SESSION-NEW-TOKEN)
    request.cookies[cookies.SESSION_COOKIE] = codes.session
    response = page(request, "backup_codes.html", viewer=clinic.profile(codes.session),
                    codes=codes)
    cookies.start_session(request, response, codes.session)
    return response


@router.post("/settings/security/backup-codes")
def regenerate(request: Request, clinic: ClinicDep, token: Token, password: Text) -> Response:
    try:
        codes = clinic.regenerate_backup_codes(token, password)
    except TwoFactorError as refusal:
        return refused_on_security(request, clinic, token, refusal)
    return page(request, "backup_codes.html", viewer=clinic.profile(token), codes=codes)


@router.post("/settings/security/disable")
def disable(request: Request, clinic: ClinicDep, token: Token, password: Text) -> Response:
    """Disable 2FA, after re-entering the password."""
    try:
        clinic.disable_2fa(token, password)
    except TwoFactorError as refusal:
        return refused_on_security(request, clinic, token, refusal)
    return see_other("/settings/security?notice=disabled")


@router.post("/settings/security/enforcement")
def enforcement(request: Request, clinic: ClinicDep, token: Token,
                enforcement: Annotated[Literal["required", "optional"], Form()]) -> Response:
    """2FA enforcement: Required or Optional, owner only."""
    try:
        clinic.set_enforcement(token, enforcement == "required")
    except TwoFactorError as refusal:
        return refused_on_security(request, clinic, token, refusal)
    return see_other("/settings/security?notice=saved")


@router.post("/settings/security/passkeys/remove")
def remove_passkey(request: Request, clinic: ClinicDep, token: Token, name: Text,
                   password: Text) -> Response:
    try:
        clinic.remove_passkey(token, name, password)
    except TwoFactorError as refusal:
        return refused_on_security(request, clinic, token, refusal)
    return see_other("/settings/security?notice=passkey-removed")


# -- Settings -> Staff --------------------------------------------------------------------------


def staff_page(request: Request, clinic: Clinic, token: str, *, status: int = 200,
               error: str | None = None) -> HTMLResponse:
    viewer = clinic.profile(token)
    try:
        entries = clinic.staff(token)
    except TwoFactorError as refusal:
        if passes_on(refusal):
            raise
        return page(request, "staff.html", status=status_of(refusal.code),
                    error=refusal.message, viewer=viewer, staff=None)
    return page(request, "staff.html", status=status, error=error, viewer=viewer,
                staff=entries)


@router.get("/settings/staff")
def staff(request: Request, clinic: ClinicDep, token: Token) -> HTMLResponse:
    return staff_page(request, clinic, token)


@router.post("/settings/staff/disable-2fa")
def disable_for(request: Request, clinic: ClinicDep, token: Token, email: Text) -> Response:
    """Disable 2FA on someone's user, e.g. a lost phone without backup codes."""
    try:
        clinic.disable_2fa_for(token, email)
    except TwoFactorError as refusal:
        if passes_on(refusal):
            raise
        return staff_page(request, clinic, token, status=status_of(refusal.code),
                          error=refusal.message)
    return see_other("/settings/staff?notice=staff-disabled")


@router.post("/settings/staff/unblock")
def unblock(request: Request, clinic: ClinicDep, token: Token, email: Text) -> Response:
    """Unblock someone after too many failed attempts in a row (RATE-LIMIT-CAP)."""
    try:
        clinic.unblock(token, email)
    except TwoFactorError as refusal:
        if passes_on(refusal):
            raise
        return staff_page(request, clinic, token, status=status_of(refusal.code),
                          error=refusal.message)
    return see_other("/settings/staff?notice=staff-unblocked")


@router.get("/healthz")
def health() -> JSONResponse:
    """Readiness for scripts and the test helper: no clinic call, nothing to sign in."""
    return JSONResponse({"ok": True})
