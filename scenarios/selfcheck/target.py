"""The `memory+defect:NAME` scheme: the in-memory reference with one seeded defect."""

from __future__ import annotations

from typing import Any

from clinic2fa.scenarios.errors import UsageError
from clinic2fa.scenarios.selfcheck import defects
from clinic2fa.scenarios.targets.memory import MEMORY_HASH, MemoryProvider, MemoryTarget
from clinic2fa.simulator.clock import FakeClock
from clinic2fa.simulator.policy import Policy

SCHEME = "memory+defect"


def defect_target(name: str) -> MemoryTarget:
    """A fresh broken clinic on its own FakeClock, built as `memory` builds the reference."""
    clock = FakeClock()
    return MemoryTarget(defects.build(name, clock=clock, policy=Policy(hash_cost=MEMORY_HASH)),
                        clock)


def defect_provider(name: str) -> MemoryProvider:
    """A fresh clinic with the defect `name` per scenario; UsageError for an unknown name."""
    if name not in defects.CATALOGUE:
        raise UsageError(f"unknown defect {name!r}: `clinic2fa defects` lists them")
    return MemoryProvider(f"{SCHEME}:{name}", lambda: defect_target(name))


def provider(target: str, config: Any = None) -> MemoryProvider:
    """`--target memory+defect:NAME`."""
    scheme, _, name = target.partition(":")
    if scheme.lower() != SCHEME or not name:
        raise UsageError(f"bad target {target!r}: expected {SCHEME}:NAME "
                         "(`clinic2fa defects` lists the names)")
    return defect_provider(name.strip())
