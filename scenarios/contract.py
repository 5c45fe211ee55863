"""The target contract: what a target must do for the scenarios, and what a run needs around it.

Everything a person adding a target has to know is here, in one file:

- `Target`, the interface every scenario speaks, in the guide's vocabulary. Every action raises
  `Refused` when the deployment refuses it.
- The capabilities a target may declare (`Needs`), each with the protocol it then implements:
  `ClockControl` (Needs.CLOCK), `PasskeyCeremonies` (Needs.PASSKEYS), `Inspection`
  (Needs.INSPECT), `PasswordStore` (Needs.PASSWORD_STORE), `SessionReplay` (Needs.SESSIONS),
  `HttpExchanges` (Needs.HTTP);
  Needs.PARALLEL needs no methods, only leave to send many requests at once (a target whose
  calls cannot run in threads, the browser, sends a burst itself: `together(calls)`).
  A scenario that needs a capability the target did not declare is "not applicable", decided
  before it runs.
- What a target raises when it cannot give an answer, each its own outcome in the reports:
  `NotApplicable` (a capability it declared it lacks was asked for anyway), `Unsupported` (its
  UI cannot express the step), `Inconclusive` (no answer this time: run again), `FeatureAbsent`
  (the deployment does not offer what the guide asks: that fails the guide item),
  `ConfigExhausted` (the config has no account left for the scenario), and `Unreachable` (the
  target stopped answering).
- `Provider`, the target for a whole run, which hands each scenario a `Target` of its own; its
  optional hooks have documented defaults, so the runner never probes for them.

Your own Python implementation needs no Provider: `--target python:MODULE:FACTORY` calls
FACTORY() for each scenario and takes any object with the `Target` methods (its `name`,
`origin` and `server_time` may be left out) plus those of each capability it lists in
`capabilities` (Needs members or their names). Leave `clock` out if it reads the system clock:
the harness then freezes and moves that clock with freezegun. A worked example:
examples/python-target/ (scenarios/targets/python.py has the details).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:  # annotations only: the harness core imports this module, not the reverse
    from clinic2fa.scenarios.core.model import Scenario
    from clinic2fa.scenarios.core.policy import Policy
    from clinic2fa.scenarios.core.verdicts import ScenarioResult


class Needs(StrEnum):
    """What a scenario needs from a target beyond the core actions: a target's capabilities."""

    CLOCK = "clock"  # move the server's clock (the reference; a deployment's clock is its own)
    PASSKEYS = "passkeys"
    # send many requests at once (race scenarios): the reference in memory, or a server on
    # loopback or on a host the config names under [target] hosts
    PARALLEL = "parallel"
    # read what the clinic keeps: an account's stored password and backup-code records, and
    # the audit log (the reference, or a deployment's test support: see spec/http-contract.md)
    INSPECT = "inspect"
    # an account's stored password as the owner's pages show it (a hash, masked as an admin
    # page masks it): the browser target where its profile says where (a flow `stored_password`)
    PASSWORD_STORE = "password-store"  # noqa: S105 - a capability's name, not a password
    # see what a client holds for a session (a bearer token, cookies) and present it again, as
    # whoever copied it would (SESSION-NEW-TOKEN): any target with a client of its own
    SESSIONS = "sessions"
    # the deployment's HTTP answers as they came (status, headers) and requests the harness
    # shapes itself (SECRET-NO-STORE, REQUEST-SIZE-LIMIT): not the in-memory reference
    HTTP = "http"


# -- what a target answers ------------------------------------------------------------------------


@dataclass(frozen=True)
class Account:
    """A test clinic account the harness may sign in with and change.

    `known` is set on an account a deployment lends to scenario after scenario (its config's):
    what the harness knows of it between them (core/accounts.py), so each scenario gets it
    back as found. A fresh account (the reference's) has none.
    """

    email: str
    password: str
    role: str  # "owner" | "admin" | "staff"
    known: Any = field(default=None, compare=False, repr=False)


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
    qr_svg: str | None = None  # the QR code as SVG, where the deployment hands one out


@dataclass(frozen=True)
class Security:
    """Security settings as the signed-in user sees them."""

    two_factor_enabled: bool
    authenticator_app: bool
    backup_codes_left: int
    passkeys: tuple[str, ...]
    enforcement_required: bool
    extra: dict[str, Any] = field(default_factory=dict)  # anything else the target showed


@dataclass(frozen=True)
class Answer:
    """One HTTP answer as the harness saw it: status, headers (lower-case names; cookies and
    credentials left out), for a request the harness shaped itself its JSON body, and the
    seconds from the request sent to the answer come, where the client timed it (a browser's
    page work around it would swamp what a timing check compares: SIGNIN-NO-ENUMERATION)."""

    status: int
    headers: dict[str, str]
    body: Any = None
    seconds: float | None = None


@dataclass(frozen=True)
class ClockEstimate:
    """Server time minus local time, and how far off that may be."""

    source: str  # "memory", "test-support" (the reference's clock endpoint) or "date-header"
    offset_seconds: float
    uncertainty_seconds: float
    samples: int

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "offset_seconds": round(self.offset_seconds, 3),
                "uncertainty_seconds": round(self.uncertainty_seconds, 3)}


# -- how a target says no, or cannot say --------------------------------------------------------


class Refused(Exception):
    """The target refused an action; scenarios check `code` (and `reason`), not just refusal.

    `reason` is None where the deployment does not say why. A throttle is code "locked_out"
    (the contract's 429), with `retry_after` seconds when the deployment says how long.
    `sent` is False when the deployment's page refused it in the browser itself (a field's
    own validation): the person was refused, the server was never asked.
    """

    def __init__(self, code: str, reason: str | None = None, message: str = "",
                 retry_after: float | None = None, *, sent: bool = True) -> None:
        self.code = code
        self.reason = reason
        self.message = message
        self.retry_after = retry_after
        self.sent = sent
        super().__init__(f"{code}{f' ({reason})' if reason else ''}: {message}")


THROTTLED = "locked_out"  # the code of every throttle: a lock-out, a back-off, too many requests


class Unreachable(Exception):
    """The target cannot be reached at all: the run stops with one line, not a traceback each."""


class HookFailed(Exception):
    """A hook the config names (reset, provision) failed: one line, an error of the scenario
    that needed it (or exit 2 when the run starts)."""


class NotApplicable(Exception):
    """The scenario cannot check its rule here.

    `binds`: whether the rule still binds the deployment here. By default it does: the target
    lacks a capability the check needs (a clock it cannot move, storage it does not lay open),
    so a spec item behind it is at most partly verified. False: the deployment's declared
    choice removes the rule's object (no lock-out declared, user verification not required),
    and the item's verdict is the other scenarios' to give.
    """

    def __init__(self, message: str = "", *, binds: bool = True) -> None:
        super().__init__(message)
        self.binds = binds


class Unsupported(Exception):
    """The target's UI cannot express this step (a browser cannot replay a passkey answer)."""


class Inconclusive(Exception):
    """No verdict this time, through no fault of the target (a time step turned mid-check)."""


class FeatureAbsent(Exception):
    """The deployment does not offer what the guide asks (enforcement, an admin's reset).

    Not a refusal: a refusal says the feature is there and said no. `feature` names it
    (core/policy.py FEATURES): it fails the guide items that ask for it, in these words, and
    leaves the rules about it not verified.
    """

    def __init__(self, message: str, feature: str | None = None) -> None:
        self.feature = feature
        super().__init__(message)


class ConfigExhausted(Exception):
    """The target config has no (more) account of the role a scenario asks for."""


# -- the Target and its capabilities ------------------------------------------------------------


class PasskeyDevice(Protocol):
    """A passkey a person holds (the virtual passkey, or a browser's own authenticator)."""

    def create(self, options: dict[str, Any]) -> dict[str, Any]: ...
    def get(self, options: dict[str, Any], **misbehaviour: Any) -> dict[str, Any]: ...


@runtime_checkable
class Target(Protocol):
    """A clinic deployment as the harness sees it, for one scenario.

    `capabilities` is what it declared (the provider's); `origin` is the page origin passkeys are
    made for, or None when it has none.
    """

    name: str
    capabilities: frozenset[Needs]
    origin: str | None

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


class ClockControl(Protocol):
    """Needs.CLOCK: the harness moves the server's clock (the reference's test support)."""

    def advance_clock(self, seconds: float) -> None: ...


class PasskeyCeremonies(Protocol):
    """Needs.PASSKEYS: options and credentials are WebAuthn JSON (the shapes of toJSON())."""

    def new_passkey(self, **flags: Any) -> PasskeyDevice:
        """The passkey a person would use here: a virtual one for `origin`, or the browser's."""
        ...

    def begin_passkey_setup(self, session: str) -> dict[str, Any]: ...
    def finish_passkey_setup(self, session: str, credential: dict[str, Any],
                             name: str) -> list[str]: ...
    def begin_passkey_sign_in(self, session: str) -> dict[str, Any]: ...
    def finish_passkey_sign_in(self, session: str,
                               credential: dict[str, Any]) -> SignInResult: ...
    def remove_passkey(self, session: str, name: str, password: str) -> None: ...


class Inspection(Protocol):
    """Needs.INSPECT: what the clinic keeps at rest, and its audit log."""

    def stored_credentials(self, email: str) -> dict[str, Any]: ...
    def audit_log(self) -> list[dict[str, Any]]: ...


class PasswordStore(Protocol):
    """Needs.PASSWORD_STORE: how the clinic keeps `email`'s password, as it shows it to the
    owner signed in at `session` (None where its page shows none)."""

    def stored_password(self, session: str, email: str) -> str | None: ...


class SessionReplay(Protocol):
    """Needs.SESSIONS: a session's credentials as its client holds them now, and a new session
    handle that presents exactly those (a copied token, replayed cookies).

    A session handle names one client's session for the whole scenario: when the deployment
    gives that client a new token (after the second step, SESSION-NEW-TOKEN), the handle
    follows it, as a browser follows its cookie; only these methods show the token itself.
    """

    def session_credentials(self, session: str) -> tuple[str, ...]: ...
    def replay_session(self, credentials: tuple[str, ...]) -> str: ...


class HttpExchanges(Protocol):
    """Needs.HTTP: the deployment's HTTP answers themselves."""

    def last_answer(self, session: str | None = None) -> Answer | None:
        """The last answer this session's client got (its last page, in a browser)."""
        ...

    def send_raw(self, method: str, path: str, body: bytes,
                 headers: dict[str, str]) -> Answer:
        """A request shaped by the harness (a body too large, ...), sent as it is."""
        ...


def implied(capabilities: frozenset[Needs]) -> frozenset[Needs]:
    """`capabilities` with what they give: inspection shows the stored password whole, so a
    target that lays its store open also shows how it keeps passwords."""
    return capabilities | {Needs.PASSWORD_STORE} if Needs.INSPECT in capabilities \
        else capabilities


CAPABILITY_PROTOCOLS: dict[Needs, type] = {
    Needs.CLOCK: ClockControl, Needs.PASSKEYS: PasskeyCeremonies, Needs.INSPECT: Inspection,
    Needs.SESSIONS: SessionReplay, Needs.HTTP: HttpExchanges,
    Needs.PASSWORD_STORE: PasswordStore}


# -- the Provider: a target for a whole run -----------------------------------------------------


class Provider:
    """A target scheme for a whole run: opened once, it hands each scenario a Target of its own.

    A subclass sets `name`, `kind`, `capabilities` and `reference`, and implements `target()`;
    every other method has a default that fits a target without it.
    """

    name: str = ""  # as the reports show it, e.g. "memory" or "http://127.0.0.1:8000"
    kind: str = ""  # the scheme
    capabilities: frozenset[Needs] = frozenset()
    reference: bool = False  # the harness makes its own accounts (the reference's test support)
    # The longest the harness waits in one go on a clock it cannot move (a throttle's
    # Retry-After, a declared back-off or lock-out, the next time step); longer is not applicable.
    max_wait: float = 60.0

    def open(self) -> None:
        """Check once that the target answers and may be tested; Unreachable / UsageError."""

    def target(self) -> Any:
        """A Target for one scenario."""
        raise NotImplementedError

    def release(self, target: Any) -> None:
        """The scenario is over (its cleanups have run)."""

    def close(self) -> None:
        """The run is over."""

    def max_jobs(self) -> int | None:
        """How many scenarios may run at once here (`-j`; asked once the target is open).

        1, the default: one after another, as on a deployment whose accounts and clock its
        scenarios share (its config may allow more). None: any number, since each scenario has
        a clinic and a clock of its own that no other scenario can disturb (the reference).
        """
        return 1

    def leave_worker(self) -> None:
        """A worker thread of a parallel run ends: close what it opened for itself, in it."""

    def clock(self) -> ClockEstimate | None:
        """How the server's clock stands against ours, when the target says (None: unknown)."""
        return None

    def secrets(self) -> set[str]:
        """Literal secrets the run handled outside any trace (config passwords)."""
        return set()

    def inapplicable(self, scenario: Scenario) -> str | None:
        """Why a scenario is outside this target's declared scope, or None (it runs)."""
        return None

    def keep_evidence_in(self, directory: Path) -> None:
        """Where files a scenario leaves for the report go (screenshots, traces), if any."""

    def evidence(self, target: Any, result: ScenarioResult) -> dict[str, Any]:
        """The files one scenario left for the report; none by default."""
        return {}

    def details(self) -> dict[str, Any] | None:
        """What the report says about the target beyond its name (a browser's mapping)."""
        return None

    def policy(self) -> Policy | None:
        """The deployment's declared policy (its config's [policy]); None: the reference's."""
        return None

    def reset_hook(self) -> Callable[[], None] | None:
        """The config's reset hook (every reused account back as seeded), None without one."""
        return None

    def wait(self, seconds: float) -> None:
        """Let `seconds` of real time pass (a clock the harness cannot move); tests override it."""
        time.sleep(seconds)
