"""Pydantic bodies of the /api/v1 contract, so the committed OpenAPI schema is precise."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from clinic2fa.simulator.clinic import BackupCodes, SecurityStatus, SignIn, StaffEntry
from clinic2fa.simulator.errors import ErrorCode, Reason

# Bounds keep hostile input cheap (argon2 over a megabyte password) and the schema exact.
Email = Annotated[str, Field(min_length=1, max_length=320,
                             description="The account's email address.")]
Secret = Annotated[str, Field(max_length=1024)]
Code = Annotated[str, Field(max_length=64, description="As typed; spaces are ignored.")]
PasskeyName = Annotated[str, Field(min_length=1, max_length=100,
                                   description="The name the user gives the passkey.")]

StageName = Literal["signed_in", "second_step", "enrolment_required"]
RoleName = Literal["owner", "admin", "staff"]


class Request(BaseModel):
    """Request bodies: strict types (no "yes" for true, no 1 for "1"); unknown keys ignored."""

    model_config = ConfigDict(strict=True)


class SignInBody(Request):
    email: Email
    password: Secret


class CodeBody(Request):
    code: Code


class PasswordBody(Request):
    password: Secret


class EnforcementBody(Request):
    required: bool


class PasskeyCredentialBody(Request):
    credential: dict[str, Any] = Field(
        description="The WebAuthn credential as PublicKeyCredential.toJSON() gives it.")


class NewPasskeyBody(PasskeyCredentialBody):
    name: PasskeyName


class RemovePasskeyBody(Request):
    name: PasskeyName
    password: Secret


class ErrorBody(BaseModel):
    """Every refusal: a stable code, why (for rejected codes), and text a person can act on."""

    error: ErrorCode
    reason: Reason | None = Field(description="Why a code was rejected (code_rejected only).")
    message: str


class SessionOut(BaseModel):
    session: str = Field(description="Send it back as `Authorization: Bearer <session>`.")
    stage: StageName

    @classmethod
    def of(cls, signed: SignIn) -> SessionOut:
        return cls(session=signed.token, stage=signed.stage.value)


class ProfileOut(BaseModel):
    email: str
    name: str
    role: RoleName
    two_factor_enabled: bool

    @classmethod
    def of(cls, entry: StaffEntry) -> ProfileOut:
        return cls(email=entry.email, name=entry.name, role=entry.role.value,
                   two_factor_enabled=entry.two_factor_enabled)


class StaffOut(ProfileOut):
    sign_in_blocked: bool = Field(description="Too many failed attempts in a row "
                                  "(RATE-LIMIT-CAP): only the owner or an admin can unblock.")

    @classmethod
    def of(cls, entry: StaffEntry) -> StaffOut:
        return cls(email=entry.email, name=entry.name, role=entry.role.value,
                   two_factor_enabled=entry.two_factor_enabled,
                   sign_in_blocked=entry.sign_in_blocked)


class SecurityOut(BaseModel):
    # Whatever else the clinic's status carries goes out too, so a seeded defect that leaks a
    # secret there is visible over HTTP just as a leaking deployment would be.
    model_config = ConfigDict(extra="allow")

    two_factor_enabled: bool
    authenticator_app: bool
    backup_codes_left: int
    passkeys: list[str]
    enforcement_required: bool

    @classmethod
    def of(cls, status: SecurityStatus) -> SecurityOut:
        return cls(two_factor_enabled=status.two_factor_enabled,
                   authenticator_app=status.authenticator_app,
                   backup_codes_left=status.backup_codes_left, passkeys=list(status.passkeys),
                   enforcement_required=status.enforcement_required,
                   **getattr(status, "extra", {}))


class SetupOut(BaseModel):
    uri: str = Field(description="The otpauth:// Key URI the QR code holds.")
    manual_entry: str = Field(description="The secret in groups of four, for typing.")
    qr_png: str = Field(description="The QR code as a base64-encoded PNG.")
    qr_svg: str = Field(description="The QR code as an inline SVG document.")


class BackupCodesOut(BaseModel):
    backup_codes: list[str] = Field(description="Shown this once; only hashes are kept.")


class NewFactorOut(BackupCodesOut):
    """A factor added; when that completed enrolment under enforcement, the session goes on
    signed in under the new token in `session` (the old one is refused from then on)."""

    session: str | None = Field(default=None, description="The session's new token when "
                                "this completed enrolment (stage enrolment_required), else "
                                "null: send it as `Authorization: Bearer <session>` from now.")

    @classmethod
    def of(cls, codes: BackupCodes) -> NewFactorOut:
        return cls(backup_codes=list(codes), session=codes.session)


class EnforcementOut(BaseModel):
    enforcement_required: bool


class WebAuthnOptions(BaseModel):
    """WebAuthn options JSON, for PublicKeyCredential.parse*OptionsFromJSON()."""

    model_config = ConfigDict(extra="allow")

    challenge: str
    timeout: int | None = None
