"""Scenarios declared as data: what each verifies, at which level, quoting the rule it checks."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from clinic2fa.scenarios.core.context import Context


class Level(StrEnum):
    MUST = "MUST"
    SHOULD = "SHOULD"


class Needs(StrEnum):
    """What a scenario needs from a target beyond the HTTP contract."""

    CLOCK = "clock"  # move the server's clock (the reference; a deployment's clock is its own)
    PASSKEYS = "passkeys"
    # send many requests at once (race scenarios): the reference in memory, or a server on
    # loopback or on a host the config names under [target] hosts
    PARALLEL = "parallel"
    # read what the clinic keeps: an account's stored password and backup-code records, and
    # the audit log (the reference, or a deployment's test support: see spec/http-contract.md)
    INSPECT = "inspect"


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


REGISTRY: dict[str, Scenario] = {}


def scenario(id: str, *, verifies: tuple[str, ...] | list[str], level: Level | str,
             quote: str, title: str = "", needs: tuple[Needs, ...] = ()
             ) -> Callable[[Callable[[Context], None]], Callable[[Context], None]]:
    """Register a scenario function under a stable ID (h2spec style: the rule quoted above it)."""

    def register(run: Callable[[Context], None]) -> Callable[[Context], None]:
        if id in REGISTRY:
            raise ValueError(f"duplicate scenario ID {id}")
        doc = (run.__doc__ or "").strip().splitlines()
        REGISTRY[id] = Scenario(id, title or (doc[0] if doc else id), tuple(verifies),
                                Level(level), quote, run, tuple(needs), run.__module__)
        return run

    return register
