"""What a deployment declares it chose where the spec leaves a choice (default: the reference).

Where the guide and its standards leave a choice (the issuer, the window, how wrong codes are
throttled, when backup codes are handed out and how many), a deployment says what it chose in
its config's `[policy]` table; which refusal reasons it tells apart and which of the guide's
features it offers are declared there too. The harness checks each choice against the spec's
bounds (catalogue/declared.py) and the scenarios check that the deployment behaves as declared.
`memory` and `clinic2fa serve` need no declaration: the defaults are the reference's choices.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from typing import Any

from clinic2fa import spec

_spec = spec.load().parameter

# What a refusal may say it was for (a code's reasons in the contract; "locked_out": a lock or
# back-off answered in words of its own, not as a wrong code; the passkey codes a refused answer
# may name, not as any bad passkey: no UV flag, another user's credential); the reference tells
# them all.
REASONS = ("wrong_code", "already_used", "time_skew", "malformed", "locked_out",
           "passkey_user_verification", "passkey_unknown_credential")
# Rate-limit models: a fixed lock-out after max_failures, or a delay growing from the first
# failure (NIST SP 800-63B s5.2.2 allows both); "none" is a declaration the spec's bounds refuse.
MODELS = ("lockout", "backoff", "none")


@dataclass(frozen=True)
class Feature:
    """A feature the guide asks for: absent, it fails the guide items that ask for it."""

    name: str
    what: str  # in the guide's words
    asked_by: tuple[str, ...]  # guide item IDs whose text asks for it


FEATURES: dict[str, Feature] = {f.name: f for f in (
    Feature("enforcement", "clinic-wide 2FA enforcement by the owner (Settings -> Security -> "
            "2FA enforcement)", ("STEP-8", "OUTCOME-3")),
    Feature("admin_reset", "an owner or admin disabling another user's 2FA from Settings -> "
            "Staff", ("TROUBLE-3",)),
    Feature("passkeys", "passkeys as a second factor (Set up passkey)", ("STEP-7",)),
)}


@dataclass(frozen=True)
class RateLimit:
    """How the deployment throttles wrong second-factor codes, per user (TOTP-RATE-LIMIT).

    `lockout`: after `max_failures` consecutive failures every code is refused until
    `lockout_seconds` have passed (`lock_ends` "after_time") or an owner or admin acts
    ("by_admin"). `backoff`: after each failure codes are refused for a delay that starts at
    `backoff_seconds` and grows by `backoff_factor` per further failure; after `max_failures`
    it locks as `lockout` does.
    """

    model: str = _spec("TOTP-RATE-LIMIT", "model").text
    max_failures: int = _spec("TOTP-RATE-LIMIT", "max_failures").number
    lockout_seconds: int = _spec("TOTP-RATE-LIMIT", "lockout_seconds").number
    lock_ends: str = _spec("TOTP-RATE-LIMIT", "lock_ends").text
    backoff_seconds: float = 1.0
    backoff_factor: float = 2.0

    def delay_after(self, failures: int) -> float:
        """How long codes are refused after `failures` consecutive failures (backoff model)."""
        if self.model != "backoff" or failures < 1:
            return 0.0
        return self.backoff_seconds * self.backoff_factor ** (failures - 1)


@dataclass(frozen=True)
class Policy:
    """Everything a deployment declares; `declared` names the keys its config gave."""

    issuer: str = _spec("KEY-URI", "issuer").text
    window: int = _spec("TOTP-WINDOW", "window").number  # steps accepted each way
    skew_horizon: int = _spec("SKEW-REASON", "skew_horizon").number  # steps seen as skew
    pending_seconds: int = _spec("SIGNIN-PENDING-EXPIRES", "pending_seconds").number
    backup_codes: int = _spec("BACKUP-COUNT", "count").number
    backup_codes_issued: str = _spec("BACKUP-COUNT", "issued").text
    passkey_first: str = _spec("BACKUP-PASSKEY-FIRST", "passkey_first").text
    password_hash: str = _spec("PASSWORD-HASH", "function").text  # how passwords are kept
    # the userVerification a passkey at the second step is asked with
    second_step_uv: str = _spec("PASSKEY-USER-VERIFICATION", "second_step").text
    rate_limit: RateLimit = field(default_factory=RateLimit)
    reasons: frozenset[str] = frozenset(REASONS)  # the refusal reasons it tells apart
    features: frozenset[str] = frozenset(FEATURES)  # the guide's features it offers
    # A client-wide throttle besides the per-user rate limit (many failures from one address):
    # how long to wait when the deployment throttles the harness without a Retry-After.
    throttle_seconds: float | None = None
    declared: frozenset[str] = frozenset()

    def tells(self, reason: str) -> bool:
        """Whether the deployment's refusals say this reason (else: "does not say why")."""
        return reason in self.reasons

    def offers(self, feature: str) -> bool:
        return feature in self.features

    def value(self, key: str) -> Any:
        """A value by its config key: "window", "rate_limit.max_failures", ..."""
        head, _, rest = key.partition(".")
        value = getattr(self, head)
        return getattr(value, rest) if rest else value

    def with_changes(self, **changes: Any) -> Policy:
        """A copy with some choices changed (tests, the config parser)."""
        limit = {k[len("rate_limit."):]: changes.pop(k) for k in list(changes)
                 if k.startswith("rate_limit.")}
        if limit:
            changes["rate_limit"] = replace(self.rate_limit, **limit)
        return replace(self, **changes)


REFERENCE = Policy()

# Config keys whose value is a spec parameter a deployment chooses: checked against its bounds.
PARAMETERS: dict[str, tuple[str, str]] = {
    "issuer": ("KEY-URI", "issuer"),
    "window": ("TOTP-WINDOW", "window"),
    "skew_horizon": ("SKEW-REASON", "skew_horizon"),
    "pending_seconds": ("SIGNIN-PENDING-EXPIRES", "pending_seconds"),
    "backup_codes": ("BACKUP-COUNT", "count"),
    "backup_codes_issued": ("BACKUP-COUNT", "issued"),
    "passkey_first": ("BACKUP-PASSKEY-FIRST", "passkey_first"),
    "second_step_uv": ("PASSKEY-USER-VERIFICATION", "second_step"),
    "password_hash": ("PASSWORD-HASH", "function"),
    "rate_limit.model": ("TOTP-RATE-LIMIT", "model"),
    "rate_limit.max_failures": ("TOTP-RATE-LIMIT", "max_failures"),
    "rate_limit.lockout_seconds": ("TOTP-RATE-LIMIT", "lockout_seconds"),
    "rate_limit.lock_ends": ("TOTP-RATE-LIMIT", "lock_ends"),
}


def keys() -> list[str]:
    """Every key a `[policy]` table may give, dotted for the rate limit."""
    plain = [f.name for f in fields(Policy) if f.name not in ("rate_limit", "declared")]
    return plain + [f"rate_limit.{f.name}" for f in fields(RateLimit)]


def shown(value: Any) -> Any:
    """A value as JSON and the reports show it (sets as sorted lists)."""
    return sorted(value) if isinstance(value, frozenset | set) else value


class Seen:
    """A read-only view of a Policy that remembers what a scenario read, for its report."""

    def __init__(self, policy: Policy, used: dict[str, Any]) -> None:
        self._policy = policy
        self._used = used

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._policy, name)
        if isinstance(value, RateLimit):
            return _SeenLimit(value, self._used)
        if not callable(value) and not name.startswith("_"):
            self._used[name] = shown(value)
        return value

    def value(self, key: str) -> Any:
        found = self._policy.value(key)
        self._used[key] = shown(found)
        return found

    def is_declared(self, key: str) -> bool:
        """Whether the deployment's config gave this key (else it is the reference's)."""
        return key in self._policy.declared

    def tells(self, reason: str) -> bool:
        told = self._policy.tells(reason)
        self._used[f"reasons.{reason}"] = told
        return told

    def offers(self, feature: str) -> bool:
        offered = self._policy.offers(feature)
        self._used[f"features.{feature}"] = offered
        return offered


class _SeenLimit:
    def __init__(self, limit: RateLimit, used: dict[str, Any]) -> None:
        self._limit = limit
        self._used = used

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._limit, name)
        if not callable(value):
            self._used[f"rate_limit.{name}"] = value
        elif name == "delay_after":
            for key in ("model", "backoff_seconds", "backoff_factor"):
                self._used[f"rate_limit.{key}"] = getattr(self._limit, key)
        return value
