"""Tiny scenarios and deliberately broken targets for testing the runner, not the catalogue.

Scenarios are built as `Scenario` objects (not with @scenario), so they never enter the global
registry the real catalogue lives in.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from clinic2fa.scenarios.contract import Unreachable
from clinic2fa.scenarios.core.context import Context
from clinic2fa.scenarios.core.model import Level, Needs, Scenario
from clinic2fa.scenarios.running.command import RunOptions, run
from clinic2fa.scenarios.targets.memory import MemoryProvider, MemoryTarget
from clinic2fa.simulator.clinic import Clinic
from clinic2fa.simulator.clock import FakeClock
from clinic2fa.simulator.policy import FAST_HASH, Policy
from clinic2fa.simulator.users import User

SECRETS: list[str] = []  # every secret the scenarios below handled, for the redaction test


def _keep(*values: Any) -> None:
    SECRETS.extend(str(v) for v in values)


def sign_in_with_code(ctx: Context) -> None:
    """After the password the code is asked, and a valid one signs in."""
    account = ctx.account("staff")
    enrolled = ctx.enrol(account)
    _keep(account.password, *enrolled.backup_codes, enrolled.phone.accounts[-1].secret)
    ctx.step("Sign out, sign in: the platform asks for the 6-digit code")
    session = ctx.second_step(enrolled)
    _keep(session)
    ctx.check(ctx.target.profile(session)["email"] == account.email, "the profile opens")


def replay_refused(ctx: Context) -> None:
    """A code that signed in once is refused the second time."""
    account = ctx.account("staff")
    enrolled = ctx.enrol(account)
    code = ctx.fresh_code(enrolled)
    _keep(account.password, code)
    first = ctx.target.sign_in(account.email, account.password)
    ctx.target.enter_code(first.session, code)
    second = ctx.target.sign_in(account.email, account.password)
    with ctx.refused("code_rejected", "already_used", why=f"replaying {code}"):
        ctx.target.enter_code(second.session, code)


def skew_named(ctx: Context) -> None:
    """A code from a phone 5 steps fast is refused as time skew."""
    account = ctx.account("staff")
    enrolled = ctx.enrol(account)
    enrolled.phone.offset = 150  # the phone's clock runs 5 steps fast from now on
    pending = ctx.target.sign_in(account.email, account.password)
    with ctx.refused("code_rejected", "time_skew", why="a code 5 steps ahead"):
        ctx.target.enter_code(pending.session, enrolled.phone.code())


def old_code_expires(ctx: Context) -> None:
    """A code from 3 steps ago is refused (needs the server's clock moved)."""
    account = ctx.account("staff")
    enrolled = ctx.enrol(account)
    code = enrolled.phone.code_at_step(enrolled.phone.step() + 1)
    ctx.advance_clock(120)
    pending = ctx.target.sign_in(account.email, account.password)
    with ctx.refused("code_rejected"):
        ctx.target.enter_code(pending.session, code)


def _make(id: str, run: Callable[[Context], None], verifies: Iterable[str], level: Level,
          needs: tuple[Needs, ...] = (), module: str = "tests.sc_fixture") -> Scenario:
    doc = (run.__doc__ or id).strip()
    return Scenario(id, doc, tuple(verifies), level, doc, run, needs, module)


SIGN_IN = _make("T-SIGN-IN", sign_in_with_code, ["SIGNIN-SECOND-STEP"], Level.MUST)
REPLAY = _make("T-REPLAY", replay_refused, ["TOTP-REPLAY"], Level.MUST)
SKEW = _make("T-SKEW", skew_named, ["SKEW-REASON"], Level.SHOULD, module="tests.sc_other")
CLOCK = _make("T-CLOCK", old_code_expires, ["TOTP-WINDOW"], Level.MUST, (Needs.CLOCK,))


def catalogue(*scenarios: Scenario) -> dict[str, Scenario]:
    chosen = scenarios or (SIGN_IN, REPLAY, SKEW, CLOCK)
    return {s.id: s for s in chosen}


def failing(id: str, level: Level, message: str = "the target broke the rule",
            verifies: Iterable[str] = ("AUDIT-LOG",)) -> Scenario:
    def fail(ctx: Context) -> None:
        ctx.check(False, message)

    fail.__doc__ = f"Always fails ({level})."
    return _make(id, fail, verifies, level)


def crashing(id: str, exc: BaseException, verifies: Iterable[str] = ("AUDIT-LOG",)) -> Scenario:
    """A scenario that raises `exc`: a crash, or a target's "cannot answer" (Unsupported...)."""

    def crash(ctx: Context) -> None:
        raise exc

    crash.__doc__ = f"Raises {type(exc).__name__}."
    return _make(id, crash, verifies, Level.MUST)


# -- targets ------------------------------------------------------------------------------------


class ReplayingClinic(Clinic):
    """Breaks TOTP-REPLAY: forgets which step it accepted last."""

    def _accept_totp(self, user: User, secret: str, code: str) -> None:
        user.last_step = -1
        super()._accept_totp(user, secret, code)


def memory_of(clinic_type: type[Clinic] = Clinic, **policy: Any) -> MemoryProvider:
    """A memory provider over a (possibly broken) clinic class or policy."""

    def make() -> MemoryTarget:
        clock = FakeClock()
        return MemoryTarget(clinic_type(clock=clock, policy=Policy(**{"hash_cost": FAST_HASH,
                                                                      **policy})), clock)

    return MemoryProvider("memory+test", make)


class DroppingProvider(MemoryProvider):
    """The target goes away after `alive` scenarios: the run must stop, exit 3."""

    def __init__(self, alive: int) -> None:
        super().__init__("memory+drops")
        self.alive = alive

    def target(self) -> MemoryTarget:
        if self.alive <= 0:
            raise Unreachable("target memory+drops unreachable: connection refused")
        self.alive -= 1
        return super().target()


@dataclass
class Outcome:
    """What a run in this process came to."""

    code: int
    out: str
    err: str
    report_dir: Path
    extra: dict[str, Any] = field(default_factory=dict)

    def report(self) -> dict[str, Any]:
        import json

        return json.loads((self.report_dir / "report.json").read_text(encoding="utf-8"))

    def outcomes(self) -> dict[str, str]:
        return {s["id"]: s["outcome"] for s in self.report()["scenarios"]}


def run_here(tmp_path: Path, scenarios: dict[str, Scenario] | None = None, *,
             provider: Any = None, **options: Any) -> Outcome:
    """Run in this process (pytest.main inside), reports in tmp_path/reports."""
    import io

    out, err = io.StringIO(), io.StringIO()
    report_dir = options.pop("report_dir", tmp_path / "reports")
    opts = RunOptions(report_dir=report_dir, **options)
    code = run(opts, catalogue=scenarios if scenarios is not None else catalogue(),
               provider=provider, out=out, err=err)
    return Outcome(code, out.getvalue(), err.getvalue(), report_dir)


def leaky(ctx: Context) -> None:
    """Fails with secrets in its message and step text: the final scrub must catch them."""
    account = ctx.account("staff")
    enrolled = ctx.enrol(account)
    code = ctx.fresh_code(enrolled)
    _keep(account.password, code, *enrolled.backup_codes, enrolled.session)
    ctx.step(f"typing {code} with the password {account.password}")
    ctx.check(False, f"password {account.password}, backup code {enrolled.backup_codes[0]} "
                     f"and secret {enrolled.phone.accounts[-1].secret} leaked")


def crashing_with_a_secret(ctx: Context) -> None:
    """Crashes with a session token in the exception: the traceback must be scrubbed too."""
    account = ctx.account("staff")
    session = ctx.signed_in(account)
    _keep(account.password, session)
    raise RuntimeError(f"unexpected session {session} for {account.password}")


LEAKY = _make("T-LEAKY", leaky, ["SECRET-NOT-DISCLOSED"], Level.MUST)
CRASHY = _make("T-CRASHY", crashing_with_a_secret, ["PASSWORD-HASH"], Level.MUST)
