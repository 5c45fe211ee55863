"""The hardening's scenarios (issue 16) pass on the reference and fail on their seeded defects.

In memory here; over HTTP and in the browser `clinic2fa defects --check` and the runs against
`clinic2fa serve --defect NAME` show the same. The timing check is a scenario's own bounded
sample (SIGNIN-NO-ENUMERATION's parameters); this file asserts only the verdict it gives.
"""

from __future__ import annotations

import pytest

from clinic2fa.scenarios import catalogue
from clinic2fa.scenarios.core.context import Context, NonConformance
from clinic2fa.scenarios.core.trace import Trace
from clinic2fa.scenarios.selfcheck import defects
from clinic2fa.scenarios.targets.memory import MEMORY_HASH, MemoryTarget
from clinic2fa.simulator.clock import FakeClock
from clinic2fa.simulator.policy import Policy

CATALOGUE = catalogue.load()

# (seeded defect, the scenario that must catch it); each scenario passes on the reference.
PAIRS: list[tuple[str, str]] = [
    ("session-kept", "SESSION-NEW-TOKEN-SECOND-STEP"),
    ("session-kept", "SESSION-NEW-TOKEN-ENROLMENT"),
    ("password-not-throttled", "PASSWORD-RATE-LIMIT-SIGN-IN"),
    ("reentry-not-throttled", "PASSWORD-RATE-LIMIT-REENTRY"),
    ("unknown-email-skips-hash", "SIGNIN-NO-ENUMERATION-TIMING"),
    ("no-failure-cap", "RATE-LIMIT-CAP-SECOND-STEP"),
    ("skew-oracle", "TOTP-SKEW-NO-ORACLE-LATER"),
    ("unicode-digits", "TOTP-ASCII-DIGITS-OTHER-SCRIPTS"),
    ("qr-svg-without-background", "QR-READABLE-EVERY-FORM"),
]


def target(defect: str | None = None) -> MemoryTarget:
    clock = FakeClock()
    policy = Policy(hash_cost=MEMORY_HASH)
    if defect is None:
        return MemoryTarget(clock=clock)
    return MemoryTarget(defects.build(defect, clock=clock, policy=policy), clock)


def run(scenario_id: str, on: MemoryTarget) -> Trace:
    trace = Trace()
    ctx = Context(on, trace, frozenset(on.capabilities))
    try:
        CATALOGUE[scenario_id].run(ctx)
    finally:
        ctx.run_cleanups()
    return trace


@pytest.mark.parametrize(("name", "scenario_id"), PAIRS, ids=[f"{n}-{s}" for n, s in PAIRS])
def test_passes_on_the_reference_fails_on_its_defect(name: str, scenario_id: str) -> None:
    assert set(defects.CATALOGUE[name].violates) & set(CATALOGUE[scenario_id].verifies)
    run(scenario_id, target())
    with pytest.raises(NonConformance):
        run(scenario_id, target(name))


def test_the_timing_check_says_what_it_measured_and_nothing_secret() -> None:
    trace = run("SIGNIN-NO-ENUMERATION-TIMING", target())
    notes = [e.text for e in trace.entries if e.kind == "note"]
    assert any(n.startswith("median of 15: known account") for n in notes)
    assert all("not-" not in n for n in notes)  # the wrong passwords stay out of the notes


def test_every_hardening_scenario_is_paired_with_a_defect() -> None:
    modules = {"sessions", "throttling", "codes"}
    new = {s.id for s in CATALOGUE.values() if s.module.rsplit(".", 1)[-1] in modules}
    assert new == {s for _, s in PAIRS if s in new}
    assert {"QR-READABLE-EVERY-FORM"} <= {s for _, s in PAIRS}
