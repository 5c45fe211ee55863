"""The config's [policy] table read into a Policy: each mistake is one line naming its key.

    [policy]                          # every key optional: the reference's choice where left out
    issuer = "Example Clinic"         # KEY-URI: the name the authenticator app lists
    window = 1                        # TOTP-WINDOW: steps accepted each way (bounds 0..1)
    skew_horizon = 10                 # SKEW-REASON: steps each way still named as clock skew
    pending_seconds = 300             # SIGNIN-PENDING-EXPIRES: a half-finished sign-in's life
    backup_codes = 10                 # BACKUP-COUNT: codes in each list
    backup_codes_issued = "at_enrolment"   # or "on_request" (a page of their own generates them)
    passkey_first = "offered"         # or "not_offered": passkeys only beside an authenticator app
    second_step_uv = "required"       # or "preferred", "discouraged": UV at the second step
    password_hash = "argon2id"        # or "scrypt", "bcrypt", "pbkdf2_sha256", "pbkdf2_sha512"
    reasons = ["wrong_code", "already_used", "time_skew", "malformed", "locked_out",
               "passkey_user_verification", "passkey_unknown_credential"]
    features = ["enforcement", "admin_reset", "passkeys"]
    throttle_seconds = 60             # a client-wide throttle: the wait when no Retry-After

    [policy.rate_limit]               # TOTP-RATE-LIMIT
    model = "lockout"                 # or "backoff", or "none" (outside the spec's bounds)
    max_failures = 5                  # wrong codes before the lock (at most 100)
    lockout_seconds = 900
    lock_ends = "after_time"          # or "by_admin" (or "never", outside the bounds)
    backoff_seconds = 1               # backoff: the first delay, then times backoff_factor
    backoff_factor = 2

`reasons` lists the refusal reasons the deployment tells apart (its messages say them);
elsewhere a refusal is still checked, its reason is "not verified". `features` lists the
guide's features it offers; a missing one is "feature absent". A value of the right type but
outside the spec's bounds is no mistake here: it is a non-conformance, reported on the
requirement it belongs to (catalogue/declared.py).
"""

from __future__ import annotations

from typing import Any

from clinic2fa.scenarios.core.policy import FEATURES, MODELS, REASONS, REFERENCE, Policy
from clinic2fa.scenarios.core.stored import PASSWORD_FUNCTIONS
from clinic2fa.scenarios.errors import UsageError

COUNTS = ("window", "skew_horizon", "pending_seconds", "backup_codes")
LIMIT_COUNTS = ("max_failures", "lockout_seconds")
CHOICES: dict[str, tuple[str, ...]] = {
    "backup_codes_issued": ("at_enrolment", "on_request"),
    "passkey_first": ("offered", "not_offered"),
    "second_step_uv": ("required", "preferred", "discouraged"),
    "password_hash": PASSWORD_FUNCTIONS,
    "rate_limit.model": MODELS,
    "rate_limit.lock_ends": ("after_time", "by_admin", "never"),
}
SETS: dict[str, tuple[str, ...]] = {"reasons": REASONS, "features": tuple(FEATURES)}
_TOP = {"issuer", *COUNTS, "backup_codes_issued", "passkey_first", "second_step_uv",
        "password_hash", *SETS, "throttle_seconds", "rate_limit"}
_LIMIT = {"model", *LIMIT_COUNTS, "lock_ends", "backoff_seconds", "backoff_factor"}


def parse(table: Any, where: str) -> Policy:
    """The Policy a [policy] table declares (the reference's for what it leaves out)."""
    if not isinstance(table, dict):
        raise UsageError(f"{where}: policy must be a table ([policy])")
    limit = table.get("rate_limit", {})
    if not isinstance(limit, dict):
        raise UsageError(f"{where}: [policy.rate_limit] must be a table")
    _only(table, _TOP, f"{where} [policy]")
    _only(limit, _LIMIT, f"{where} [policy.rate_limit]")
    given = {**{k: v for k, v in table.items() if k != "rate_limit"},
             **{f"rate_limit.{k}": v for k, v in limit.items()}}
    changes = {key: _value(key, value, where) for key, value in given.items()}
    return REFERENCE.with_changes(**changes, declared=frozenset(given))


def _value(key: str, value: Any, where: str) -> Any:
    at = f"{where} [policy] {key}"
    name = key.rpartition(".")[2]
    if key == "issuer":
        if not isinstance(value, str) or not value.strip():
            raise UsageError(f"{at}: the issuer must be a name (the one the app lists)")
        return value
    if name in COUNTS + LIMIT_COUNTS:
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise UsageError(f"{at}: must be a whole number, 0 or more")
        return value
    if key in CHOICES:
        if value not in CHOICES[key]:
            raise UsageError(f"{at}: must be one of {', '.join(CHOICES[key])}")
        return value
    if key in SETS:
        if not isinstance(value, list) or not all(v in SETS[key] for v in value):
            raise UsageError(f"{at}: must be a list of {', '.join(SETS[key])}")
        return frozenset(value)
    number = not isinstance(value, bool) and isinstance(value, int | float)
    if name == "backoff_factor":
        if not (number and value >= 1):
            raise UsageError(f"{at}: must be a number, 1 or more")
    elif not (number and value > 0):  # throttle_seconds, backoff_seconds
        raise UsageError(f"{at}: must be a number of seconds above 0")
    return float(value)


def _only(table: dict[str, Any], allowed: set[str], where: str) -> None:
    unknown = sorted(set(table) - allowed)
    if unknown:
        raise UsageError(f"{where}: unknown key {unknown[0]!r} "
                         f"(known: {', '.join(sorted(allowed))})")
