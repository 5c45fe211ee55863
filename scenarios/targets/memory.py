"""The `memory` target: the reference in-process, a fresh clinic per scenario, its clock ours."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from functools import wraps
from typing import Any

from clinic2fa.scenarios.contract import (
    Account,
    ClockEstimate,
    Needs,
    Provider,
    Refused,
    Security,
    SetupScreen,
    SignInResult,
)
from clinic2fa.scenarios.core import parallel
from clinic2fa.scenarios.errors import UsageError
from clinic2fa.simulator.clinic import Clinic
from clinic2fa.simulator.clock import FakeClock
from clinic2fa.simulator.errors import TwoFactorError
from clinic2fa.simulator.policy import HashCost, Policy
from clinic2fa.simulator.virtual.passkey import VirtualPasskey

# Cheap argon2id (about 1-2 ms), yet still most of what a password check costs: so an equal
# amount of work for unknown and known emails shows in the timing (SIGNIN-NO-ENUMERATION),
# which FAST_HASH's 8 KiB (a few microseconds, less than the rest of a sign-in) would hide.
MEMORY_HASH = HashCost(time_cost=1, memory_cost=2048, parallelism=1)

# SecurityStatus fields the Security contract carries, or that identify the page's owner.
_SECURITY_PAGE = frozenset({"two_factor_enabled", "authenticator_app", "backup_codes_left",
                            "passkeys", "enforcement_required", "email", "role", "extra"})


def _refusals(method: Any) -> Any:
    """Turn the reference's typed errors into the harness's `Refused`.

    In a race's burst each call first waits at the door for the rest of the burst, as requests
    that came together wait in a server's socket, and says when they were let in; a later call
    of the same burst's thread is let in at once, and says so too (the last one is the request
    the burst was about).
    """

    @wraps(method)
    def call(*args: Any, **kwargs: Any) -> Any:
        sent = parallel.arrive()
        if sent is None and parallel.recording():
            sent = time.monotonic()
        try:
            return method(*args, **kwargs)
        except TwoFactorError as err:
            raise Refused(err.code.value, err.reason.value if err.reason else None,
                          err.message, err.retry_after) from None  # as HTTP's Retry-After
        finally:
            if sent is not None:
                parallel.exchanged(sent, time.monotonic())

    return call


class MemoryTarget:
    """Adapts a `Clinic` to the Target interface; the harness creates the accounts."""

    name = "memory"
    # threads: real races; inspect: the reference lays open what it stores and its audit log;
    # sessions: its tokens are the session handles' own. No HTTP: nothing travels.
    capabilities = frozenset({Needs.CLOCK, Needs.PASSKEYS, Needs.PARALLEL, Needs.INSPECT,
                              Needs.PASSWORD_STORE, Needs.SESSIONS})

    def __init__(self, clinic: Clinic | None = None, clock: FakeClock | None = None) -> None:
        self.clock = clock or FakeClock()
        self.clinic = clinic or Clinic(clock=self.clock, policy=Policy(hash_cost=MEMORY_HASH))
        self._count = 0
        self._tokens: dict[str, str] = {}  # a session handle -> its token now, if renewed

    def _t(self, session: str) -> str:
        """The clinic's token for a session handle (the handle itself, until renewed)."""
        return self._tokens.get(session, session)

    def _follow(self, session: str, token: str | None) -> None:
        """The clinic renewed the session (SESSION-NEW-TOKEN): the handle follows."""
        if token and token != self._t(session):
            self._tokens[session] = token

    def session_credentials(self, session: str) -> tuple[str, ...]:
        return (self._t(session),)

    def replay_session(self, credentials: tuple[str, ...]) -> str:
        handle = f"replayed-{len(self._tokens) + 1}-{secrets.token_hex(4)}"
        self._tokens[handle] = credentials[0] if credentials else ""
        return handle

    def account(self, role: str) -> Account:
        self._count += 1
        email = f"{role}{self._count}@clinic.test"
        password = secrets.token_urlsafe(12)
        self.clinic.add_user(email, password, role)  # type: ignore[arg-type]
        return Account(email, password, role)

    def server_time(self) -> float:
        return self.clock.now()

    def advance_clock(self, seconds: float) -> None:
        self.clock.advance(seconds)

    @_refusals
    def sign_in(self, email: str, password: str) -> SignInResult:
        result = self.clinic.sign_in(email, password)
        return SignInResult(result.token, result.stage.value)

    @_refusals
    def enter_code(self, session: str, code: str) -> SignInResult:
        result = self.clinic.enter_code(self._t(session), code)
        self._follow(session, result.token)
        return SignInResult(session, result.stage.value)

    @_refusals
    def use_backup_code(self, session: str, code: str) -> SignInResult:
        result = self.clinic.use_backup_code(self._t(session), code)
        self._follow(session, result.token)
        return SignInResult(session, result.stage.value)

    @_refusals
    def sign_out(self, session: str) -> None:
        self.clinic.sign_out(self._t(session))

    @_refusals
    def profile(self, session: str) -> dict[str, Any]:
        me = self.clinic.profile(self._t(session))
        return {"email": me.email, "name": me.name, "role": me.role.value,
                "two_factor_enabled": me.two_factor_enabled}

    @_refusals
    def security(self, session: str) -> Security:
        s = self.clinic.security(self._t(session))
        # Anything else the page carries goes to `extra`, as the HTTP target does with unknown
        # fields, so a scenario sees what a (broken) clinic shows beyond the contract.
        extra = {k: v for k, v in vars(s).items() if k not in _SECURITY_PAGE}
        extra.update(getattr(s, "extra", None) or {})
        return Security(s.two_factor_enabled, s.authenticator_app, s.backup_codes_left,
                        s.passkeys, s.enforcement_required, extra)

    @_refusals
    def start_authenticator_setup(self, session: str) -> SetupScreen:
        setup = self.clinic.start_authenticator_setup(self._t(session))
        return SetupScreen(setup.uri, setup.manual_entry, setup.qr_png, setup.qr_svg)

    @_refusals
    def confirm_enrolment(self, session: str, code: str) -> list[str]:
        codes = self.clinic.confirm_authenticator(self._t(session), code)
        self._follow(session, getattr(codes, "session", None))
        return list(codes)

    @_refusals
    def regenerate_backup_codes(self, session: str, password: str) -> list[str]:
        return self.clinic.regenerate_backup_codes(self._t(session), password)

    @_refusals
    def disable_2fa(self, session: str, password: str) -> None:
        self.clinic.disable_2fa(self._t(session), password)

    @_refusals
    def set_enforcement(self, session: str, required: bool) -> None:
        self.clinic.set_enforcement(self._t(session), required)

    @_refusals
    def staff(self, session: str) -> list[dict[str, Any]]:
        return [{"email": e.email, "name": e.name, "role": e.role.value,
                 "two_factor_enabled": e.two_factor_enabled,
                 "sign_in_blocked": getattr(e, "sign_in_blocked", False)}
                for e in self.clinic.staff(self._t(session))]

    @_refusals
    def disable_2fa_for(self, session: str, email: str) -> None:
        self.clinic.disable_2fa_for(self._t(session), email)

    # passkeys: WebAuthn JSON in and out, as over HTTP

    @property
    def origin(self) -> str:
        """The page origin the reference's passkeys are used on (its relying party's)."""
        return self.clinic.passkey_origin

    def new_passkey(self, **flags: Any) -> VirtualPasskey:
        """A virtual passkey for the reference's origin."""
        return VirtualPasskey(self.origin, **flags)

    @_refusals
    def begin_passkey_setup(self, session: str) -> dict[str, Any]:
        return self.clinic.begin_passkey_setup(self._t(session))

    @_refusals
    def finish_passkey_setup(self, session: str, credential: dict[str, Any],
                             name: str) -> list[str]:
        codes = self.clinic.finish_passkey_setup(self._t(session), credential, name)
        self._follow(session, getattr(codes, "session", None))
        return list(codes)

    @_refusals
    def begin_passkey_sign_in(self, session: str) -> dict[str, Any]:
        return self.clinic.begin_passkey_sign_in(self._t(session))

    @_refusals
    def finish_passkey_sign_in(self, session: str, credential: dict[str, Any]) -> SignInResult:
        result = self.clinic.finish_passkey_sign_in(self._t(session), credential)
        self._follow(session, result.token)
        return SignInResult(session, result.stage.value)

    @_refusals
    def remove_passkey(self, session: str, name: str, password: str) -> None:
        self.clinic.remove_passkey(self._t(session), name, password)

    # inspection

    @_refusals
    def stored_credentials(self, email: str) -> dict[str, Any]:
        return self.clinic.stored_credentials(email)

    @_refusals
    def stored_password(self, session: str, email: str) -> str | None:
        self.clinic.profile(self._t(session))  # a session of the clinic's, as a page needs one
        return self.stored_credentials(email).get("password")

    def audit_log(self) -> list[dict[str, Any]]:
        return [entry.to_dict() for entry in self.clinic.audit.entries()]


class MemoryProvider(Provider):
    """The in-memory reference: a fresh clinic per scenario, its clock the suite's."""

    kind = "memory"
    reference = True

    def __init__(self, name: str = "memory",
                 make: Callable[[], MemoryTarget] = MemoryTarget) -> None:
        self.name = name
        self._make = make
        self.capabilities = frozenset(make().capabilities)

    def target(self) -> MemoryTarget:
        return self._make()

    def max_jobs(self) -> int | None:
        """Any number: each scenario has a clinic and a FakeClock of its own."""
        return None

    def clock(self) -> ClockEstimate:
        return ClockEstimate("memory", 0.0, 0.0, 0)


def provider(target: str, config: Any = None) -> MemoryProvider:
    """The `memory` scheme: no options (memory+defect:NAME is a scheme of its own)."""
    if target.lower() != "memory":
        raise UsageError(f"unknown target {target!r}: the in-memory reference is just 'memory'")
    return MemoryProvider()
