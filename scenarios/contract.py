"""The one interface every scenario speaks, in the guide's vocabulary, whatever the target."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol


class Refused(Exception):
    """The target refused an action; scenarios check `code` (and `reason`), not just refusal."""

    def __init__(self, code: str, reason: str | None = None, message: str = "") -> None:
        self.code = code
        self.reason = reason
        self.message = message
        super().__init__(f"{code}{f' ({reason})' if reason else ''}: {message}")


class Unreachable(Exception):
    """The target cannot be reached at all: the run stops with one line, not a traceback each."""


@dataclass(frozen=True)
class Account:
    """A test clinic account the harness may sign in with and change."""

    email: str
    password: str
    role: str  # "owner" | "admin" | "staff"


@dataclass(frozen=True)
class SignInResult:
    """Where sign-in leads: "signed_in", "second_step" or "enrolment_required"."""

    session: str
    stage: str


@dataclass(frozen=True)
class SetupScreen:
    """What "Set up authenticator app" shows: the QR code and the manual-entry secret beside it."""

    uri: str
    manual_entry: str
    qr_png: bytes


@dataclass(frozen=True)
class Security:
    """Security settings as the signed-in user sees them."""

    two_factor_enabled: bool
    authenticator_app: bool
    backup_codes_left: int
    passkeys: tuple[str, ...]
    enforcement_required: bool
    extra: dict[str, Any] = field(default_factory=dict)  # anything else the target showed


class Target(Protocol):
    """A clinic deployment as the harness sees it. Every action raises `Refused` when refused."""

    name: str

    # accounts and time
    def account(self, role: str) -> Account: ...
    def server_time(self) -> float: ...

    # sign-in
    def sign_in(self, email: str, password: str) -> SignInResult: ...
    def enter_code(self, session: str, code: str) -> SignInResult: ...
    def use_backup_code(self, session: str, code: str) -> SignInResult: ...
    def sign_out(self, session: str) -> None: ...
    def profile(self, session: str) -> dict[str, Any]: ...

    # Security settings
    def security(self, session: str) -> Security: ...
    def start_authenticator_setup(self, session: str) -> SetupScreen: ...
    def confirm_enrolment(self, session: str, code: str) -> list[str]: ...
    def regenerate_backup_codes(self, session: str, password: str) -> list[str]: ...
    def disable_2fa(self, session: str, password: str) -> None: ...

    # owner and admin
    def set_enforcement(self, session: str, required: bool) -> None: ...
    def staff(self, session: str) -> list[dict[str, Any]]: ...
    def disable_2fa_for(self, session: str, email: str) -> None: ...

    # passkeys: options and credentials are WebAuthn JSON (the shapes of toJSON())
    def begin_passkey_setup(self, session: str) -> dict[str, Any]: ...
    def finish_passkey_setup(self, session: str, credential: dict[str, Any],
                             name: str) -> list[str]: ...
    def begin_passkey_sign_in(self, session: str) -> dict[str, Any]: ...
    def finish_passkey_sign_in(self, session: str, credential: dict[str, Any]) -> SignInResult: ...
    def remove_passkey(self, session: str, name: str, password: str) -> None: ...

    # inspection (Needs.INSPECT; targets without it need not have these)
    def stored_credentials(self, email: str) -> dict[str, Any]: ...
    def audit_log(self) -> list[dict[str, Any]]: ...
