"""The reference's tunable rules, with the values the spec requires as defaults."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class HashCost:
    """argon2id parameters; the defaults follow OWASP's minimum, tests pass a cheaper one."""

    time_cost: int = 2
    memory_cost: int = 19 * 1024  # KiB
    parallelism: int = 1


FAST_HASH = HashCost(time_cost=1, memory_cost=8, parallelism=1)


@dataclass(frozen=True)
class Policy:
    """Every number a rule depends on, named after the requirement that sets it."""

    issuer: str = "MyDentalPractice"
    period: int = 30  # TOTP-STEP
    digits: int = 6  # TOTP-STEP
    window: int = 1  # TOTP-WINDOW: steps accepted each way
    skew_horizon: int = 10  # SKEW-REASON: steps each way recognised as clock skew
    max_failures: int = 5  # TOTP-RATE-LIMIT
    lockout_seconds: int = 15 * 60  # TOTP-RATE-LIMIT
    pending_ttl: int = 5 * 60  # SIGNIN-PENDING-EXPIRES
    backup_code_count: int = 10  # BACKUP-COUNT
    session_ttl: int = 12 * 60 * 60
    hash_cost: HashCost = HashCost()  # PASSWORD-HASH, BACKUP-HASHED
