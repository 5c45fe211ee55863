"""The reference's tunable rules; the defaults are the spec's parameters (requirements.toml)."""

from __future__ import annotations

from dataclasses import dataclass

from clinic2fa import spec

_spec = spec.load().parameter  # (requirement ID, parameter name) -> the spec's Parameter


@dataclass(frozen=True)
class HashCost:
    """argon2id parameters; the defaults follow OWASP's minimum, tests pass a cheaper one."""

    time_cost: int = _spec("PASSWORD-HASH", "time_cost").number
    memory_cost: int = _spec("PASSWORD-HASH", "memory_kib").number  # KiB
    parallelism: int = _spec("PASSWORD-HASH", "parallelism").number


FAST_HASH = HashCost(time_cost=1, memory_cost=8, parallelism=1)


@dataclass(frozen=True)
class Policy:
    """Every number a rule depends on, named after the requirement that sets it."""

    issuer: str = _spec("KEY-URI", "issuer").text
    period: int = _spec("TOTP-STEP", "period").number
    digits: int = _spec("TOTP-STEP", "digits").number
    window: int = _spec("TOTP-WINDOW", "window").number  # steps accepted each way
    skew_horizon: int = _spec("SKEW-REASON", "skew_horizon").number  # steps each way seen as skew
    max_failures: int = _spec("TOTP-RATE-LIMIT", "max_failures").number
    lockout_seconds: int = _spec("TOTP-RATE-LIMIT", "lockout_seconds").number
    pending_ttl: int = _spec("SIGNIN-PENDING-EXPIRES", "pending_seconds").number
    backup_code_count: int = _spec("BACKUP-COUNT", "count").number
    session_ttl: int = 12 * 60 * 60  # no requirement sets it: the reference's own choice
    hash_cost: HashCost = HashCost()  # PASSWORD-HASH, BACKUP-HASHED
    password_max_failures: int = _spec("PASSWORD-RATE-LIMIT", "max_failures").number
    password_lockout_seconds: int = _spec("PASSWORD-RATE-LIMIT", "lockout_seconds").number
    max_consecutive_failures: int = _spec("RATE-LIMIT-CAP", "max_consecutive").number
    max_body_bytes: int = _spec("REQUEST-SIZE-LIMIT", "max_body_bytes").number
    cache_control: str = _spec("SECRET-NO-STORE", "cache_control").text  # web answers
