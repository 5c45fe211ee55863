"""A scenario's body run on the in-memory reference (or a defect, or a test's own Clinic).

Unlike `run_scenario`, a broken rule is not turned into a result: it raises NonConformance, so
a test can say which failure it expects with `pytest.raises(..., match=...)`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from clinic2fa.scenarios import catalogue
from clinic2fa.scenarios.core.context import Context
from clinic2fa.scenarios.core.model import Scenario
from clinic2fa.scenarios.core.trace import Trace
from clinic2fa.scenarios.selfcheck import defects
from clinic2fa.scenarios.targets.memory import MEMORY_HASH, MemoryTarget
from clinic2fa.simulator.clinic import Clinic
from clinic2fa.simulator.clock import FakeClock
from clinic2fa.simulator.policy import HashCost, Policy

CATALOGUE: dict[str, Scenario] = catalogue.load()


def memory(defect: str | None = None, clinic: Callable[..., Clinic] = Clinic,
           hash_cost: HashCost = MEMORY_HASH) -> MemoryTarget:
    """The reference in memory on a FakeClock; `defect` seeds one, `clinic` is a test's own."""
    clock = FakeClock()
    made: dict[str, Any] = {"clock": clock, "policy": Policy(hash_cost=hash_cost)}
    return MemoryTarget(defects.build(defect, **made) if defect else clinic(**made), clock)


def run_body(scenario_id: str, on: MemoryTarget) -> Trace:
    """Run one scenario's body on `on`, its clean-ups after it whatever happened; its trace."""
    trace = Trace()
    ctx = Context(on, trace, frozenset(on.capabilities))
    try:
        CATALOGUE[scenario_id].run(ctx)
    finally:
        ctx.run_cleanups()
    return trace
