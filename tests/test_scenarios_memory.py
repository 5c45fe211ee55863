"""Every scenario passes on the clean reference in memory, and without the clock where it can."""

from __future__ import annotations

import time

import pytest

from scenarios import catalogue
from scenarios.context import Context, NotApplicable
from scenarios.model import Needs, Scenario
from scenarios.targets.memory import MemoryTarget
from scenarios.trace import Trace
from simulator.clinic import Clinic
from simulator.clock import FakeClock
from simulator.policy import FAST_HASH, Policy

CATALOGUE = catalogue.load()
SCENARIOS = list(CATALOGUE.values())

# Not verifiable on the default reference: storage and the audit log are not in the contract,
# and the reference's passkey policy prefers, rather than requires, user verification.
NOT_APPLICABLE_ON_MEMORY = {"BACKUP-HASHED-STORAGE", "PASSWORD-HASH-STORAGE",
                            "AUDIT-LOG-RECORDED", "PASSKEY-USER-VERIFICATION-REQUIRED"}


def run(scen: Scenario, target: MemoryTarget,
        capabilities: frozenset[Needs] | None = None) -> Trace:
    """Run one scenario as the runner does: needs first, then the scenario, then its cleanups."""
    trace = Trace()
    caps = target.capabilities if capabilities is None else capabilities
    missing = [n for n in scen.needs if n not in caps]
    if missing:
        raise NotApplicable(f"needs {missing}")
    ctx = Context(target, trace, frozenset(caps))
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


@pytest.mark.parametrize("scen", SCENARIOS, ids=lambda s: s.id)
def test_passes_on_the_reference(scen: Scenario) -> None:
    target = MemoryTarget()
    if scen.id in NOT_APPLICABLE_ON_MEMORY:
        with pytest.raises(NotApplicable):
            run(scen, target)
        return
    trace = run(scen, target)
    assert any(e.kind == "check" for e in trace.entries) or any(
        e.kind == "call" and e.ok is False for e in trace.entries), \
        f"{scen.id} checked nothing"
    assert all(e.ok for e in trace.entries if e.kind == "check")


@pytest.mark.parametrize("scen", [s for s in SCENARIOS if not s.needs], ids=lambda s: s.id)
def test_needs_no_clock_nor_passkeys_unless_declared(scen: Scenario) -> None:
    """As on a deployment: the clock cannot be moved and passkeys may be missing. A scenario
    that declares no needs must still reach a verdict, never stop as not applicable."""
    if scen.id in NOT_APPLICABLE_ON_MEMORY:
        pytest.skip("not applicable on the reference anyway")
    target = MemoryTarget()
    run(scen, target, capabilities=frozenset())


def test_user_verification_scenario_passes_where_the_policy_requires_it() -> None:
    run(CATALOGUE["PASSKEY-USER-VERIFICATION-REQUIRED"],
        memory_target(user_verification="required"))


def test_every_scenario_on_its_own_target_is_independent() -> None:
    """Scenarios share nothing: all of them on one target, in order, still pass."""
    target = MemoryTarget()
    for scen in SCENARIOS:
        if scen.id in NOT_APPLICABLE_ON_MEMORY:
            continue
        run(scen, target)


def test_the_whole_catalogue_is_fast() -> None:
    started = time.perf_counter()
    for scen in SCENARIOS:
        try:
            run(scen, MemoryTarget())
        except NotApplicable:
            pass
    assert time.perf_counter() - started < 10
