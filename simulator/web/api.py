"""The JSON API under /api/v1: the HTTP contract the conformance harness speaks."""

from __future__ import annotations

import base64
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from clinic2fa.simulator.clinic import Clinic
from clinic2fa.simulator.errors import ErrorCode as E
from clinic2fa.simulator.errors import TwoFactorError
from clinic2fa.simulator.web import cookies
from clinic2fa.simulator.web.contract import schema_of
from clinic2fa.simulator.web.models import (
    BackupCodesOut,
    CodeBody,
    EnforcementBody,
    EnforcementOut,
    ErrorBody,
    NewFactorOut,
    NewPasskeyBody,
    PasskeyCredentialBody,
    PasswordBody,
    ProfileOut,
    RemovePasskeyBody,
    SecurityOut,
    SessionOut,
    SetupOut,
    SignInBody,
    StaffOut,
    WebAuthnOptions,
)
from clinic2fa.simulator.web.rooms import room_of
from clinic2fa.simulator.web.status import PASSKEY_REFUSALS, SESSION_REFUSALS, status_of

PREFIX = "/api/v1"
router = APIRouter(prefix=PREFIX)
bearer = HTTPBearer(auto_error=False, scheme_name="session",
                    description="The `session` that POST /api/v1/sign-in returned.")


def the_clinic(request: Request) -> Clinic:
    return room_of(request.scope).clinic


async def the_session(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> str:
    """The bearer token; or, for the reference's own page scripts, the cookie plus CSRF header."""
    if credentials is not None:
        return credentials.credentials
    token = cookies.session_token(request)
    if token is None:
        raise TwoFactorError(E.NOT_SIGNED_IN, "Sign in first; send Authorization: Bearer.")
    if request.method not in cookies.SAFE_METHODS:
        cookies.check_csrf(request, request.headers.get(cookies.CSRF_HEADER))
    return token


ClinicDep = Annotated[Clinic, Depends(the_clinic)]
Session = Annotated[str, Depends(the_session)]


def refusals(*codes: E) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` for these refusal codes (and invalid_request), grouped by status."""
    by_status: dict[int, set[str]] = {}
    for code in (*codes, E.INVALID_REQUEST):
        by_status.setdefault(status_of(code), set()).add(code.value)
    documented: dict[int | str, dict[str, Any]] = {}
    for status, names in sorted(by_status.items()):
        entry: dict[str, Any] = {"model": ErrorBody,
                                 "description": "Refused: " + ", ".join(sorted(names))}
        if status == 429:
            entry["headers"] = {"Retry-After": {
                "description": "Seconds until attempts are taken again; absent when only the "
                               "owner or an admin can lift the block (RATE-LIMIT-CAP).",
                "schema": {"type": "integer"}}}
        if status == 401 and names & {E.NOT_SIGNED_IN.value, E.SIGN_IN_EXPIRED.value}:
            entry["headers"] = {"WWW-Authenticate": {"description": "Bearer challenge.",
                                                     "schema": {"type": "string"}}}
        documented[status] = entry
    return documented


SECOND_STEP = (*SESSION_REFUSALS, E.LOCKED_OUT)


def renewed(request: Request, response: Response, old: str, new: str | None) -> None:
    """SESSION-NEW-TOKEN for the reference's own page scripts: when the call came with the
    session cookie, the cookie follows the session to its new token (and the CSRF token,
    bound to it, changes too). A bearer client reads the new token from the answer."""
    if new and new != old and cookies.session_token(request) == old:
        cookies.start_session(request, response, new)


# -- sign-in ------------------------------------------------------------------------------------


@router.post("/sign-in", tags=["sign-in"],
             responses=refusals(E.INVALID_CREDENTIALS, E.LOCKED_OUT))
def sign_in(body: SignInBody, clinic: ClinicDep) -> SessionOut:
    """Check the password; `stage` says whether the second step or enrolment comes next.
    Wrong passwords are throttled per account: `locked_out` (429) for a while."""
    return SessionOut.of(clinic.sign_in(body.email, body.password))


@router.post("/sign-in/code", tags=["sign-in"],
             responses=refusals(*SECOND_STEP, E.CODE_REJECTED, E.NOT_ENROLLED))
def enter_code(body: CodeBody, token: Session, clinic: ClinicDep, request: Request,
               response: Response) -> SessionOut:
    """The second step with the authenticator app's 6-digit code; a new `session` token."""
    signed = clinic.enter_code(token, body.code)
    renewed(request, response, token, signed.token)
    return SessionOut.of(signed)


@router.post("/sign-in/backup-code", tags=["sign-in"],
             responses=refusals(*SECOND_STEP, E.CODE_REJECTED))
def use_backup_code(body: CodeBody, token: Session, clinic: ClinicDep, request: Request,
                    response: Response) -> SessionOut:
    """The second step with a backup code, which is spent; a new `session` token."""
    signed = clinic.use_backup_code(token, body.code)
    renewed(request, response, token, signed.token)
    return SessionOut.of(signed)


@router.post("/sign-in/passkey/options", tags=["sign-in"],
             responses=refusals(*SECOND_STEP, E.NOT_ENROLLED))
def begin_passkey_sign_in(token: Session, clinic: ClinicDep) -> WebAuthnOptions:
    """WebAuthn request options for navigator.credentials.get()."""
    return WebAuthnOptions(**clinic.begin_passkey_sign_in(token))


@router.post("/sign-in/passkey", tags=["sign-in"],
             responses=refusals(*SECOND_STEP, *PASSKEY_REFUSALS))
def finish_passkey_sign_in(body: PasskeyCredentialBody, token: Session, clinic: ClinicDep,
                           request: Request, response: Response) -> SessionOut:
    """The second step with a passkey: the credential that get() returned; a new `session`."""
    signed = clinic.finish_passkey_sign_in(token, body.credential)
    renewed(request, response, token, signed.token)
    return SessionOut.of(signed)


@router.post("/sign-out", tags=["sign-in"], status_code=204, response_class=Response,
             responses=refusals(E.NOT_SIGNED_IN))
def sign_out(request: Request, token: Session, clinic: ClinicDep) -> Response:
    """End the session (any stage); signing out twice is not an error."""
    clinic.sign_out(token)
    response = Response(status_code=204)
    if cookies.session_token(request) == token:
        cookies.end_session(response)
    return response


# -- the signed-in person -----------------------------------------------------------------------


@router.get("/profile", tags=["profile"], responses=refusals(*SESSION_REFUSALS))
def profile(token: Session, clinic: ClinicDep) -> ProfileOut:
    """My Profile: reachable only after the whole sign-in."""
    return ProfileOut.of(clinic.profile(token))


@router.get("/security", tags=["security"], responses=refusals(*SESSION_REFUSALS))
def security(token: Session, clinic: ClinicDep) -> SecurityOut:
    """Security settings; open to an enrolment session too, which must set up 2FA."""
    return SecurityOut.of(clinic.security(token))


@router.post("/security/authenticator", tags=["security"],
             responses=refusals(*SESSION_REFUSALS, E.ALREADY_ENROLLED))
def start_authenticator_setup(token: Session, clinic: ClinicDep) -> SetupOut:
    """"Set up authenticator app": a fresh secret every time, as a QR code and as text."""
    setup = clinic.start_authenticator_setup(token)
    return SetupOut(uri=setup.uri, manual_entry=setup.manual_entry,
                    qr_png=base64.b64encode(setup.qr_png).decode("ascii"), qr_svg=setup.qr_svg)


@router.post("/security/authenticator/confirm", tags=["security"],
             responses=refusals(*SESSION_REFUSALS, E.NO_SETUP_IN_PROGRESS, E.CODE_REJECTED))
def confirm_authenticator(body: CodeBody, token: Session, clinic: ClinicDep, request: Request,
                          response: Response) -> NewFactorOut:
    """A valid code turns 2FA on; the 10 backup codes come back this once. Completing
    enrolment under enforcement answers the session's new token in `session`."""
    codes = clinic.confirm_authenticator(token, body.code)
    renewed(request, response, token, codes.session)
    return NewFactorOut.of(codes)


@router.post("/security/backup-codes", tags=["security"],
             responses=refusals(*SESSION_REFUSALS, E.PASSWORD_REQUIRED, E.NOT_ENROLLED,
                                E.LOCKED_OUT))
def regenerate_backup_codes(body: PasswordBody, token: Session,
                            clinic: ClinicDep) -> BackupCodesOut:
    """New backup codes replace all old ones; needs the password."""
    return BackupCodesOut(backup_codes=clinic.regenerate_backup_codes(token, body.password))


@router.post("/security/disable", tags=["security"], status_code=204, response_class=Response,
             responses=refusals(*SESSION_REFUSALS, E.ENFORCED, E.PASSWORD_REQUIRED,
                                E.NOT_ENROLLED, E.LOCKED_OUT))
def disable_2fa(body: PasswordBody, token: Session, clinic: ClinicDep) -> Response:
    """Disable 2FA: needs the password; refused while the owner enforces 2FA."""
    clinic.disable_2fa(token, body.password)
    return Response(status_code=204)


@router.post("/security/passkeys/options", tags=["security"],
             responses=refusals(*SESSION_REFUSALS))
def begin_passkey_setup(token: Session, clinic: ClinicDep) -> WebAuthnOptions:
    """"Set up passkey": WebAuthn creation options for navigator.credentials.create()."""
    return WebAuthnOptions(**clinic.begin_passkey_setup(token))


@router.post("/security/passkeys", tags=["security"], status_code=201,
             responses=refusals(*SESSION_REFUSALS, *PASSKEY_REFUSALS))
def finish_passkey_setup(body: NewPasskeyBody, token: Session, clinic: ClinicDep,
                         request: Request, response: Response) -> NewFactorOut:
    """Keep the passkey that create() made; backup codes come back if it is the first factor,
    and the session's new token in `session` if it completed enrolment under enforcement."""
    codes = clinic.finish_passkey_setup(token, body.credential, body.name)
    renewed(request, response, token, codes.session)
    return NewFactorOut.of(codes)


@router.post("/security/passkeys/remove", tags=["security"], status_code=204,
             response_class=Response,
             responses=refusals(*SESSION_REFUSALS, E.PASSWORD_REQUIRED, E.NOT_ENROLLED,
                                E.ENFORCED, E.LOCKED_OUT))
def remove_passkey(body: RemovePasskeyBody, token: Session, clinic: ClinicDep) -> Response:
    """Remove one passkey by name; needs the password."""
    clinic.remove_passkey(token, body.name, body.password)
    return Response(status_code=204)


# -- owner and admin ----------------------------------------------------------------------------


@router.get("/settings/security", tags=["settings"], responses=refusals(*SESSION_REFUSALS))
def enforcement(token: Session, clinic: ClinicDep) -> EnforcementOut:
    """Settings -> Security -> 2FA enforcement, as anyone signed in sees it."""
    clinic.profile(token)  # a full sign-in, nothing less
    return EnforcementOut(enforcement_required=clinic.enforcement_required)


@router.put("/settings/security/enforcement", tags=["settings"], status_code=204,
            response_class=Response, responses=refusals(*SESSION_REFUSALS, E.NOT_PERMITTED))
def set_enforcement(body: EnforcementBody, token: Session, clinic: ClinicDep) -> Response:
    """2FA enforcement: Required or Optional; owner only."""
    clinic.set_enforcement(token, body.required)
    return Response(status_code=204)


@router.get("/settings/staff", tags=["settings"],
            responses=refusals(*SESSION_REFUSALS, E.NOT_PERMITTED))
def staff(token: Session, clinic: ClinicDep) -> list[StaffOut]:
    """Settings -> Staff: everyone in the clinic, and whose sign-in is blocked; owner and
    admins only."""
    return [StaffOut.of(entry) for entry in clinic.staff(token)]


@router.post("/settings/staff/{email}/disable-2fa", tags=["settings"], status_code=204,
             response_class=Response,
             responses=refusals(*SESSION_REFUSALS, E.NOT_PERMITTED, E.UNKNOWN_USER))
def disable_2fa_for(email: Annotated[str, Path(max_length=320)], token: Session,
                    clinic: ClinicDep) -> Response:
    """Settings -> Staff -> Disable 2FA for someone who lost their phone; owner or admin."""
    clinic.disable_2fa_for(token, email)
    return Response(status_code=204)


@router.post("/settings/staff/{email}/unblock", tags=["settings"], status_code=204,
             response_class=Response,
             responses=refusals(*SESSION_REFUSALS, E.NOT_PERMITTED, E.UNKNOWN_USER))
def unblock(email: Annotated[str, Path(max_length=320)], token: Session,
            clinic: ClinicDep) -> Response:
    """Settings -> Staff -> Unblock a user blocked after too many failures in a row (their
    password or second step); owner or admin."""
    clinic.unblock(token, email)
    return Response(status_code=204)


@router.get("/openapi.json", include_in_schema=False)
def contract(request: Request) -> dict[str, Any]:
    """The contract this server speaks; the same as spec/openapi.json."""
    return schema_of(request.app)
