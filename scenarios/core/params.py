"""The spec's numbers the scenarios check against, read once from spec/requirements.toml.

Each name is a parameter's value (the reference's choice where a deployment may choose), or,
for a rule that only bounds a number (the `_MIN_` names), the least value the spec allows.
"""

from __future__ import annotations

from clinic2fa import spec

_spec = spec.load().parameter  # (requirement ID, parameter name) -> the spec's Parameter


def _least(req_id: str, name: str) -> int:
    """The spec's lower bound for a parameter a deployment chooses."""
    least = _spec(req_id, name).min
    if least is None:
        raise spec.SpecError(f"{req_id}: parameter {name!r} has no min for the scenarios")
    return least


PERIOD = _spec("TOTP-STEP", "period").number  # seconds per time step
DIGITS = _spec("TOTP-STEP", "digits").number
ALGORITHM = _spec("TOTP-STEP", "algorithm").text
WINDOW = _spec("TOTP-WINDOW", "window").number  # steps accepted each way
SKEW_HORIZON = _spec("SKEW-REASON", "skew_horizon").number  # steps each way seen as skew
MAX_FAILURES = _spec("TOTP-RATE-LIMIT", "max_failures").number  # wrong codes, then locked
LOCKOUT_SECONDS = _spec("TOTP-RATE-LIMIT", "lockout_seconds").number
PENDING_SECONDS = _spec("SIGNIN-PENDING-EXPIRES", "pending_seconds").number
SECRET_BITS = _spec("TOTP-SECRET-SIZE", "secret_bits").number
ISSUER = _spec("KEY-URI", "issuer").text
BACKUP_CODES = _spec("BACKUP-COUNT", "count").number
BACKUP_ENTROPY_MIN_BITS = _least("BACKUP-ENTROPY", "entropy_bits")
BACKUP_SALT_MIN_BITS = _least("BACKUP-HASHED", "salt_bits")
PASSWORD_SALT_MIN_BITS = _least("PASSWORD-HASH", "salt_bits")
CHALLENGE_MIN_BYTES = _least("PASSKEY-CHALLENGE", "challenge_bytes")
PASSWORD_MAX_FAILURES = _spec("PASSWORD-RATE-LIMIT", "max_failures").number
PASSWORD_LOCKOUT_SECONDS = _spec("PASSWORD-RATE-LIMIT", "lockout_seconds").number
# RATE-LIMIT-CAP: a deployment may block sooner; none may check more than this many in a row
FAILURE_CAP = _spec("RATE-LIMIT-CAP", "max_consecutive").number
FAILURE_CAP_MAX = _spec("RATE-LIMIT-CAP", "max_consecutive").max or FAILURE_CAP
TIMING_SAMPLES = _spec("SIGNIN-NO-ENUMERATION", "samples").number
TIMING_MARGIN_PERCENT = _spec("SIGNIN-NO-ENUMERATION", "margin_percent").number
QUIET_ZONE_MODULES = _spec("QR-READABLE", "quiet_zone_modules").number
CACHE_CONTROL = _spec("SECRET-NO-STORE", "cache_control").text
MAX_BODY_BYTES_MAX = _spec("REQUEST-SIZE-LIMIT", "max_body_bytes").max or 1 << 20
