"""A target for a whole run: opened once, it hands each scenario a target of its own."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from clinic2fa.scenarios.core.model import Needs
from clinic2fa.scenarios.errors import UsageError
from clinic2fa.scenarios.targets.clock import ClockEstimate
from clinic2fa.scenarios.targets.memory import MemoryTarget


class Provider(Protocol):
    """What the runner needs from a target scheme (memory, http, later memory+defect, browser).

    Optional, looked up with getattr (the browser target has them): `inapplicable(scenario)`
    (a reason the scenario does not run on this target, or None), `keep_evidence_in(report_dir)`
    and `evidence(target, result)` (files a scenario leaves for the report), `details()` (what
    the report says about the target beyond its name).
    """

    name: str  # as the reports show it, e.g. "memory" or "http://127.0.0.1:8000"
    kind: str  # the scheme
    capabilities: frozenset[Needs]
    reference: bool  # the harness makes its own accounts (test support)

    def open(self) -> None:
        """Check once that the target answers and may be tested; Unreachable / UsageError."""

    def target(self) -> Any:
        """A Target for one scenario."""

    def release(self, target: Any) -> None:
        """The scenario is over (its cleanups have run)."""

    def close(self) -> None: ...

    def clock(self) -> ClockEstimate | None: ...

    def secrets(self) -> set[str]:
        """Literal secrets the run handled outside any trace (config passwords)."""


class MemoryProvider:
    """The in-memory reference: a fresh clinic per scenario, its clock the suite's."""

    kind = "memory"
    reference = True

    def __init__(self, name: str = "memory",
                 make: Callable[[], MemoryTarget] = MemoryTarget) -> None:
        self.name = name
        self._make = make
        self.capabilities: frozenset[Needs] = frozenset(make().capabilities)

    def open(self) -> None:
        pass

    def target(self) -> MemoryTarget:
        return self._make()

    def release(self, target: Any) -> None:
        pass

    def close(self) -> None:
        pass

    def clock(self) -> ClockEstimate:
        return ClockEstimate("memory", 0.0, 0.0, 0)

    def secrets(self) -> set[str]:
        return set()


def memory(target: str, config: Any = None) -> MemoryProvider:
    """The `memory` scheme: no options (memory+defect:NAME is a scheme of its own)."""
    if target.lower() != "memory":
        raise UsageError(f"unknown target {target!r}: the in-memory reference is just 'memory'")
    return MemoryProvider()
