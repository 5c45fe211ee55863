"""Scenarios declared as data: what each verifies, at which level, quoting the rule it checks."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING

from clinic2fa.scenarios.contract import Needs

if TYPE_CHECKING:
    from clinic2fa.scenarios.core.context import Context


__all__ = ["REGISTRY", "Level", "Needs", "Scenario", "scenario"]


class Level(StrEnum):
    MUST = "MUST"
    SHOULD = "SHOULD"


@dataclass(frozen=True)
class Scenario:
    """One conformance scenario. `verifies` names spec IDs; `quote` is the sentence it checks."""

    id: str
    title: str
    verifies: tuple[str, ...]
    level: Level
    quote: str
    run: Callable[[Context], None]
    needs: tuple[Needs, ...] = field(default=())
    module: str = ""
    alone: bool = False  # it measures the target (timings): nothing runs beside it (-j N)


REGISTRY: dict[str, Scenario] = {}


def scenario(id: str, *, verifies: tuple[str, ...] | list[str], level: Level | str,
             quote: str, title: str = "", needs: tuple[Needs, ...] = (), alone: bool = False
             ) -> Callable[[Callable[[Context], None]], Callable[[Context], None]]:
    """Register a scenario function under a stable ID (h2spec style: the rule quoted above it)."""

    def register(run: Callable[[Context], None]) -> Callable[[Context], None]:
        if id in REGISTRY:
            raise ValueError(f"duplicate scenario ID {id}")
        doc = (run.__doc__ or "").strip().splitlines()
        REGISTRY[id] = Scenario(id, title or (doc[0] if doc else id), tuple(verifies),
                                Level(level), quote, run, tuple(needs), run.__module__, alone)
        return run

    return register
