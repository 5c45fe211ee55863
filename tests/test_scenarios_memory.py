"""Every scenario passes on the clean reference in memory, and without the clock where it can."""

from __future__ import annotations

import inspect

import pytest

from clinic2fa.scenarios import catalogue
from clinic2fa.scenarios.contract import Account, Inconclusive
from clinic2fa.scenarios.core.context import Context, NonConformance, NotApplicable
from clinic2fa.scenarios.core.model import Needs, Scenario
from clinic2fa.scenarios.core.policy import REFERENCE
from clinic2fa.scenarios.core.policy import Policy as Declared
from clinic2fa.scenarios.core.trace import Trace
from clinic2fa.scenarios.targets.memory import MemoryTarget
from clinic2fa.simulator.clinic import Clinic
from clinic2fa.simulator.clock import FakeClock
from clinic2fa.simulator.policy import FAST_HASH, Policy

CATALOGUE = catalogue.load()
SCENARIOS = list(CATALOGUE.values())



def run(scen: Scenario, target: MemoryTarget,
        capabilities: frozenset[Needs] | None = None, policy: Declared = REFERENCE) -> Trace:
    """Run one scenario as the runner does: needs first, then the scenario, then its cleanups."""
    trace = Trace()
    caps = target.capabilities if capabilities is None else capabilities
    missing = [n for n in scen.needs if n not in caps]
    if missing:
        raise NotApplicable(f"needs {missing}")
    # Without the clock capability, time passes as on a deployment: the harness waits for it
    # (here the reference's fake clock moves, as real time would).
    ctx = Context(target, trace, frozenset(caps), policy, wait=target.clock.advance,
                  max_wait=3600)
    try:
        scen.run(ctx)
    finally:
        problems = ctx.run_cleanups()
        assert not problems, problems
    return trace


def memory_target(**clinic: object) -> MemoryTarget:
    clock = FakeClock()
    return MemoryTarget(Clinic(clock=clock, policy=Policy(hash_cost=FAST_HASH),
                               **clinic), clock)  # type: ignore[arg-type]


@pytest.mark.parametrize("scen", [s for s in SCENARIOS if Needs.HTTP not in s.needs],
                         ids=lambda s: s.id)
def test_passes_on_the_reference(scen: Scenario) -> None:
    """Every scenario reaches a verdict on the reference, none is left not applicable (but
    those about HTTP answers, which the whole catalogue over HTTP passes)."""
    target = MemoryTarget()
    trace = run(scen, target)
    assert any(e.kind == "check" for e in trace.entries) or any(
        e.kind == "call" and e.ok is False for e in trace.entries), \
        f"{scen.id} checked nothing"
    assert all(e.ok for e in trace.entries if e.kind == "check")


@pytest.mark.parametrize(
    "scen", [s for s in SCENARIOS if not s.needs  # or not applicable by its own guard
             and "Needs.CLOCK not in ctx.capabilities" not in inspect.getsource(s.run)],
    ids=lambda s: s.id)
def test_needs_no_clock_nor_passkeys_unless_declared(scen: Scenario) -> None:
    """As on a deployment: the clock cannot be moved and passkeys may be missing. A scenario
    that declares no needs must still reach a verdict, never stop as not applicable."""
    target = MemoryTarget()
    run(scen, target, capabilities=frozenset())


def test_where_no_ceremony_requires_uv_the_request_is_held_to_the_declaration() -> None:
    prefers = REFERENCE.with_changes(second_step_uv="preferred")
    trace = run(CATALOGUE["PASSKEY-USER-VERIFICATION-REQUIRED"],
                memory_target(user_verification="preferred"), policy=prefers)
    assert any("declared 'preferred' and asks so" in e.text for e in trace.entries)
    assert not any("without UV" in e.text for e in trace.entries if e.kind == "step")


def test_a_second_step_that_asks_less_uv_than_declared_fails() -> None:
    with pytest.raises(NonConformance, match="asks userVerification='preferred', declared "
                                             "'required'"):
        run(CATALOGUE["PASSKEY-USER-VERIFICATION-REQUIRED"],
            memory_target(user_verification="preferred"))


class TickingClock(FakeClock):
    """Time that passes as the server works: `step` seconds each time the clock is read."""

    def __init__(self, step: float) -> None:
        super().__init__()
        self.step = step

    def now(self) -> float:
        self._now += self.step
        return self._now


class SharedOwnerAndAdmin(MemoryTarget):
    """Accounts as a deployment's config gives them: one owner and one admin for every
    scenario, a fresh staff account each time."""

    def __init__(self, clock: FakeClock) -> None:
        super().__init__(Clinic(clock=clock, policy=Policy(hash_cost=FAST_HASH)), clock)
        self._shared: dict[str, Account] = {}

    def account(self, role: str) -> Account:
        if role == "staff":
            return super().account(role)
        if role not in self._shared:
            self._shared[role] = super().account(role)
        return self._shared[role]


@pytest.mark.parametrize("tick", [0.0, 0.1], ids=["frozen-clock", "clock-moving"])
def test_the_catalogue_in_one_clinic_with_shared_owner_and_admin(tick: float) -> None:
    """As on a deployment: one clinic for the whole run, its owner and admin shared, its clock
    not ours to move. Every scenario still passes (a moving clock may make a window check
    inconclusive, never failed), and the shared accounts and enforcement end as they began."""
    target = SharedOwnerAndAdmin(TickingClock(tick))
    for scen in SCENARIOS:
        if Needs.CLOCK in scen.needs or Needs.HTTP in scen.needs \
                or "Needs.CLOCK not in ctx.capabilities" in inspect.getsource(scen.run):
            continue  # not offered here
        try:
            run(scen, target,
                capabilities=frozenset({Needs.PASSKEYS, Needs.PARALLEL, Needs.INSPECT,
                                        Needs.PASSWORD_STORE, Needs.SESSIONS}))
        except Inconclusive as exc:  # the clock moved under the check: run it again
            assert "time step changed" in str(exc), f"{scen.id}: {exc}"
    assert not target.clinic.enforcement_required
    owner = target.account("owner")
    session = target.sign_in(owner.email, owner.password)
    assert session.stage == "signed_in", "the shared owner was left with 2FA on"
    for row in target.staff(session.session):
        if row["role"] != "staff":
            assert not row["two_factor_enabled"], f"{row['email']} was left with 2FA on"
