"""Shared fixtures: a fake-clocked clinic with known people, and helpers to enrol them.

Keep fixtures small and reusable; add new ones below, never change what existing ones mean.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from clinic2fa.simulator.clinic import Clinic, Setup, Stage
from clinic2fa.simulator.clock import FakeClock
from clinic2fa.simulator.errors import ErrorCode, Reason, TwoFactorError
from clinic2fa.simulator.policy import FAST_HASH, Policy
from clinic2fa.simulator.users import Role, User
from clinic2fa.simulator.virtual.authenticator_app import Account, AuthenticatorApp

# -- people -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Person:
    """Someone the `clinic` fixture creates: email, password and role are known to tests."""

    email: str
    password: str
    role: Role


@dataclass(frozen=True)
class Cast:
    """Everyone in the `clinic` fixture: the owner, an admin and two staff."""

    owner: Person = Person("owner@clinic.test", "owner-Pa55-correct-horse", Role.OWNER)
    admin: Person = Person("admin@clinic.test", "admin-Pa55-battery-staple", Role.ADMIN)
    staff: Person = Person("staff@clinic.test", "staff-Pa55-tooth-fairy", Role.STAFF)
    staff2: Person = Person("staff2@clinic.test", "staff2-Pa55-molar-bridge", Role.STAFF)

    def all(self) -> tuple[Person, ...]:
        return (self.owner, self.admin, self.staff, self.staff2)


CAST = Cast()


def build_clinic(clock: FakeClock | None = None, **policy: Any) -> Clinic:
    """A clinic with the CAST, FAST_HASH and a FakeClock; keyword arguments override Policy."""
    clinic = Clinic(clock=clock or FakeClock(), policy=Policy(**{"hash_cost": FAST_HASH, **policy}))
    for person in CAST.all():
        clinic.add_user(person.email, person.password, person.role)
    return clinic


def fake_clock(clinic: Clinic) -> FakeClock:
    """The clinic's clock, which in these tests is always a FakeClock."""
    assert isinstance(clinic.clock, FakeClock)
    return clinic.clock


def next_step(clinic: Clinic) -> None:
    """Move the clinic's clock to the start of the next time step, so a fresh code is usable."""
    clock, period = fake_clock(clinic), clinic.policy.period
    clock.set((int(clock.now() // period) + 1) * period)


def refused(action: Callable[[], object]) -> tuple[ErrorCode, Reason | None]:
    """Run an action that must be refused; answer its stable error code and reason."""
    with pytest.raises(TwoFactorError) as exc:
        action()
    return exc.value.code, exc.value.reason


def protected_actions(clinic: Clinic, token: str,
                      person: Person = CAST.owner) -> dict[str, Callable[[], object]]:
    """Everything past the second step, as `person` holding `token` would try it.

    The password is the person's right one and the target another user, so only the session's
    stage (or the person's role) can refuse. The owner's reach is the widest.
    """
    target = CAST.staff2 if person != CAST.staff2 else CAST.staff
    return {
        "profile": lambda: clinic.profile(token),
        "security": lambda: clinic.security(token),
        "start_setup": lambda: clinic.start_authenticator_setup(token),
        "confirm_setup": lambda: clinic.confirm_authenticator(token, "123456"),
        "regenerate_backup_codes": lambda: clinic.regenerate_backup_codes(token, person.password),
        "disable_2fa": lambda: clinic.disable_2fa(token, person.password),
        "set_enforcement": lambda: clinic.set_enforcement(token, True),
        "clear_enforcement": lambda: clinic.set_enforcement(token, False),
        "staff": lambda: clinic.staff(token),
        "disable_2fa_for": lambda: clinic.disable_2fa_for(token, target.email),
    }


def user_record(clinic: Clinic, email: str) -> User:
    """The stored User record, for white-box checks of what is (not) kept in it."""
    return clinic._users[email]


@dataclass
class Enrolled:
    """A person with a confirmed authenticator app, a full session and their backup codes."""

    clinic: Clinic
    person: Person
    app: AuthenticatorApp
    account: Account
    setup: Setup
    token: str
    backup_codes: list[str]
    confirm_code: str

    @property
    def user(self) -> User:
        return user_record(self.clinic, self.person.email)

    def pending(self) -> str:
        """Sign in with the password only: a second-step token."""
        signed = self.clinic.sign_in(self.person.email, self.person.password)
        assert signed.stage is Stage.SECOND_STEP
        return signed.token

    def code_steps_away(self, steps: int) -> str:
        """The app's code for the server's current time step plus `steps` (phone clock aside)."""
        now_step = int(self.clinic.clock.now() // self.clinic.policy.period)
        return self.app.code_at_step(now_step + steps, self.account)

    def sign_in_fully(self) -> str:
        """Password, then a fresh code from the app (one step later, so it is not a replay);
        the full session's token, a new one (SESSION-NEW-TOKEN)."""
        next_step(self.clinic)
        token = self.pending()
        code = self.app.code(self.account)
        done = self.clinic.enter_code(token, code)
        assert done.stage is Stage.SIGNED_IN
        return done.token


def enrol(clinic: Clinic, person: Person, *, offset: float = 0.0) -> Enrolled:
    """Sign in, set up the authenticator app by scanning the PNG QR code, confirm it."""
    token = clinic.sign_in(person.email, person.password).token
    setup = clinic.start_authenticator_setup(token)
    app = AuthenticatorApp(clinic.clock.now, offset=offset)
    account = app.scan(setup.qr_png)
    code = app.code(account)
    backup = clinic.confirm_authenticator(token, code)
    return Enrolled(clinic, person, app, account, setup, token, backup, code)


# -- fixtures -----------------------------------------------------------------------------------


@pytest.fixture
def clock() -> FakeClock:
    """The server's time; moves only through clock.advance/set."""
    return FakeClock()


@pytest.fixture(scope="session")
def people() -> Cast:
    return CAST


@pytest.fixture(scope="session")
def make_clinic() -> Callable[..., Clinic]:
    """Factory for clinics with another Policy: make_clinic(clock, window=2)."""
    return build_clinic


@pytest.fixture
def clinic(clock: FakeClock) -> Clinic:
    """Owner, admin and two staff with known passwords; FAST_HASH; the `clock` fixture."""
    return build_clinic(clock)


@pytest.fixture(scope="session")
def enrol_user() -> Callable[..., Enrolled]:
    """enrol_user(clinic, person) -> Enrolled, via the QR code and an AuthenticatorApp."""
    return enrol


@pytest.fixture
def owner_enrolled(clinic: Clinic, people: Cast) -> Enrolled:
    """The owner with a confirmed authenticator app and a full session."""
    return enrol(clinic, people.owner)


@pytest.fixture
def staff_enrolled(clinic: Clinic, people: Cast) -> Enrolled:
    """The first staff member with a confirmed authenticator app and a full session."""
    return enrol(clinic, people.staff)


def at_once(call: Callable[[str], Any], tokens: list[str]) -> list[object]:
    """Call `call(token)` for every token, each in its own thread, all released together;
    the outcomes: the stage signed in to, or the refusal's (code, reason)."""
    start = threading.Barrier(len(tokens))
    outcomes: list[object] = []

    def submit(token: str) -> None:
        start.wait()
        try:
            outcomes.append(call(token).stage)
        except TwoFactorError as refusal:
            outcomes.append((refusal.code, refusal.reason))

    threads = [threading.Thread(target=submit, args=(t,)) for t in tokens]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


class Helpers:
    """The plain functions above, for code that cannot take fixtures (hypothesis machines)."""

    build_clinic = staticmethod(build_clinic)
    enrol = staticmethod(enrol)
    next_step = staticmethod(next_step)
    fake_clock = staticmethod(fake_clock)
    user_record = staticmethod(user_record)
    refused = staticmethod(refused)
    protected_actions = staticmethod(protected_actions)
    at_once = staticmethod(at_once)


@pytest.fixture(scope="session")
def helpers() -> type[Helpers]:
    """Tests annotate it via `if TYPE_CHECKING: from conftest import Helpers`."""
    return Helpers


# -- every report the suite writes is valid --------------------------------------------------


@pytest.fixture(scope="session", autouse=True)
def every_report_is_valid(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """report.json and defects.json against spec/*.schema.json, each time the suite writes one.

    In this process each report is checked as `reports.document.write` writes it (the test that
    wrote it fails); at the end every file under the session's temporary folders is checked,
    which takes in the reports child processes wrote (`clinic2fa run`, `defects --check`, a
    user's project running the plugin). A bad one fails the session's last test.
    """
    from report_validation import invalid, problems

    from clinic2fa.scenarios.reports import document

    original = document.write

    def checked(report: dict[str, Any], directory: Path) -> list[Path]:
        found = problems(report)
        assert not found, f"report.json for {directory} breaks its schema: {found[:3]}"
        return original(report, directory)

    document.write = checked  # type: ignore[assignment]
    try:
        yield
    finally:
        document.write = original  # type: ignore[assignment]
    seen, bad = invalid([tmp_path_factory.getbasetemp()])
    assert not bad, f"{len(bad)} of {seen} reports the tests wrote break their schema:\n" + \
        "\n".join(bad[:20])
