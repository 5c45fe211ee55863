"""Which HTTP status each refusal code travels with: the contract's one table of them."""

from __future__ import annotations

from clinic2fa.simulator.errors import ErrorCode

STATUS: dict[ErrorCode, int] = {
    ErrorCode.INVALID_CREDENTIALS: 401,
    ErrorCode.NOT_SIGNED_IN: 401,
    ErrorCode.SIGN_IN_EXPIRED: 401,
    ErrorCode.CODE_REJECTED: 401,
    ErrorCode.PASSWORD_REQUIRED: 401,
    ErrorCode.NOT_PERMITTED: 403,
    ErrorCode.SECOND_STEP_REQUIRED: 403,
    ErrorCode.ENROLMENT_REQUIRED: 403,
    ErrorCode.ENFORCED: 403,
    ErrorCode.LOCKED_OUT: 429,
    ErrorCode.ALREADY_ENROLLED: 409,
    ErrorCode.NO_SETUP_IN_PROGRESS: 409,
    ErrorCode.NOT_ENROLLED: 409,
    ErrorCode.UNKNOWN_USER: 404,
    ErrorCode.INVALID_REQUEST: 422,
    ErrorCode.REQUEST_TOO_LARGE: 413,
}

PASSKEY_REFUSALS = tuple(code for code in ErrorCode if code.value.startswith("passkey_"))

# The session codes any authenticated endpoint can answer with.
SESSION_REFUSALS = (ErrorCode.NOT_SIGNED_IN, ErrorCode.SIGN_IN_EXPIRED,
                    ErrorCode.SECOND_STEP_REQUIRED, ErrorCode.ENROLMENT_REQUIRED,
                    ErrorCode.INVALID_REQUEST)


def status_of(code: ErrorCode) -> int:
    """The status for a code; every passkey_* refusal (and any code added later) is a 400."""
    return STATUS.get(code, 400)
