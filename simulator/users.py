"""The clinic's people and what the reference keeps about their factors."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Role(StrEnum):
    """The guide's roles."""

    OWNER = "owner"
    ADMIN = "admin"
    STAFF = "staff"


@dataclass
class PasskeyCredential:
    """A registered passkey: public key and sign count only, never anything secret."""

    credential_id: bytes
    public_key: bytes
    sign_count: int
    name: str
    created_at: float


@dataclass
class User:
    """One account. Secrets live here in memory only; nothing here is ever logged or returned."""

    email: str
    name: str
    role: Role
    password_hash: str
    totp_secret: str | None = None  # set only once enrolment is confirmed (SETUP-CONFIRM)
    pending_secret: str | None = None  # the secret of the setup in progress
    last_step: int = -1  # TOTP-REPLAY: only later steps are accepted
    backup_hashes: list[str | None] = field(default_factory=list)  # BACKUP-HASHED; None = spent
    failures: int = 0  # TOTP-RATE-LIMIT: consecutive wrong second-step codes, per user
    locked_until: float = 0.0
    failed_in_a_row: int = 0  # RATE-LIMIT-CAP: across lock-outs, until a success or an admin
    skewed_steps: set[int] = field(default_factory=set)  # TOTP-SKEW-NO-ORACLE: never accepted
    passkeys: list[PasskeyCredential] = field(default_factory=list)

    @property
    def has_authenticator(self) -> bool:
        return self.totp_secret is not None

    @property
    def two_factor_enabled(self) -> bool:
        """A confirmed authenticator app or any passkey is a second factor (PASSKEY-FACTOR)."""
        return self.has_authenticator or bool(self.passkeys)

    @property
    def backup_codes_left(self) -> int:
        return sum(1 for h in self.backup_hashes if h is not None)
