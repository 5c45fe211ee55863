"""Typed refusals with stable codes: the vocabulary every target reports its refusals in."""

from __future__ import annotations

from enum import StrEnum


class ErrorCode(StrEnum):
    """Stable error codes; the HTTP contract carries them as they are."""

    INVALID_CREDENTIALS = "invalid_credentials"
    CODE_REJECTED = "code_rejected"
    LOCKED_OUT = "locked_out"
    PASSWORD_REQUIRED = "password_required"  # noqa: S105 - an error code, not a password
    NOT_PERMITTED = "not_permitted"
    ENROLMENT_REQUIRED = "enrolment_required"
    SECOND_STEP_REQUIRED = "second_step_required"
    SIGN_IN_EXPIRED = "sign_in_expired"
    NOT_SIGNED_IN = "not_signed_in"
    ENFORCED = "enforced"
    NO_SETUP_IN_PROGRESS = "no_setup_in_progress"
    ALREADY_ENROLLED = "already_enrolled"
    NOT_ENROLLED = "not_enrolled"
    UNKNOWN_USER = "unknown_user"
    INVALID_REQUEST = "invalid_request"
    PASSKEY_CHALLENGE_INVALID = "passkey_challenge_invalid"
    PASSKEY_ORIGIN_MISMATCH = "passkey_origin_mismatch"
    PASSKEY_RP_ID_MISMATCH = "passkey_rp_id_mismatch"
    PASSKEY_SIGN_COUNT = "passkey_sign_count"
    PASSKEY_UNKNOWN_CREDENTIAL = "passkey_unknown_credential"
    PASSKEY_USER_VERIFICATION = "passkey_user_verification"
    PASSKEY_INVALID = "passkey_invalid"
    REQUEST_TOO_LARGE = "request_too_large"


class Reason(StrEnum):
    """Why a code was rejected, in the guide's terms where the reference can tell."""

    WRONG_CODE = "wrong_code"
    TIME_SKEW = "time_skew"
    ALREADY_USED = "already_used"
    MALFORMED = "malformed"


_HINTS = {
    Reason.TIME_SKEW: "The code matches another time: likely time skew on the phone. "
    "Sync your phone's clock.",
    Reason.ALREADY_USED: "That code was already used. Wait for the next code.",
    Reason.MALFORMED: "Enter the 6-digit code from your authenticator app.",
    Reason.WRONG_CODE: "That code is not valid.",
}


class TwoFactorError(Exception):
    """A refusal: a stable code, an optional reason, and a message a person can act on.

    `retry_after`: for a lock-out that ends by itself, the seconds until it does (HTTP sends
    it as Retry-After); None for one that only the owner or an admin lifts (RATE-LIMIT-CAP).
    """

    def __init__(self, code: ErrorCode, message: str = "", reason: Reason | None = None,
                 retry_after: float | None = None) -> None:
        self.code = code
        self.reason = reason
        self.retry_after = retry_after
        self.message = message or (_HINTS[reason] if reason else code.value.replace("_", " "))
        super().__init__(f"{code.value}: {self.message}")

    def to_dict(self) -> dict[str, str | None]:
        return {"error": self.code.value, "reason": self.reason.value if self.reason else None,
                "message": self.message}
