"""The audit log of security events (AUDIT-LOG): who did what to whom, never a secret."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Event(StrEnum):
    SIGNED_IN = "signed_in"
    SIGN_IN_FAILED = "sign_in_failed"
    SECOND_STEP_PASSED = "second_step_passed"
    SECOND_STEP_FAILED = "second_step_failed"
    LOCKED_OUT = "locked_out"
    BLOCKED = "blocked"  # RATE-LIMIT-CAP: a factor refused until the owner or an admin acts
    UNBLOCKED = "unblocked"
    SETUP_STARTED = "setup_started"
    ENROLMENT_CONFIRMED = "enrolment_confirmed"
    BACKUP_CODE_USED = "backup_code_used"
    BACKUP_CODES_REGENERATED = "backup_codes_regenerated"
    TWO_FACTOR_DISABLED = "two_factor_disabled"
    ENFORCEMENT_CHANGED = "enforcement_changed"
    PASSKEY_ADDED = "passkey_added"
    PASSKEY_REMOVED = "passkey_removed"
    PASSKEY_REJECTED = "passkey_rejected"
    SIGNED_OUT = "signed_out"


@dataclass(frozen=True)
class AuditEntry:
    at: float
    event: Event
    actor: str
    subject: str
    detail: str = ""

    def to_dict(self) -> dict[str, object]:
        return {"at": self.at, "event": self.event, "actor": self.actor,
                "subject": self.subject, "detail": self.detail}


class AuditLog:
    """Append-only; callers pass only names, roles and reasons, so no secret can reach it."""

    def __init__(self) -> None:
        self._entries: list[AuditEntry] = []

    def record(self, at: float, event: Event, actor: str, subject: str = "",
               detail: str = "") -> None:
        self._entries.append(AuditEntry(at, event, actor, subject or actor, detail))

    def entries(self) -> list[AuditEntry]:
        return list(self._entries)
