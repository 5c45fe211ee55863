"""The reference and a target side by side: each action on both, the first difference raised."""

from __future__ import annotations

from dataclasses import dataclass

from scenarios.explore_sides import ROLES, Action, Observation, Side, describe
from scenarios.model import Needs
from scenarios.targets.memory import MemoryTarget
from scenarios.targets.provider import Provider


@dataclass(frozen=True)
class Finding:
    """Where the target first answered otherwise than the reference, and the steps that led."""

    target: str
    steps: tuple[Action, ...]  # the last one is where the two sides differ
    reference: Observation
    observed: Observation

    def describe(self) -> str:
        last = f"step {len(self.steps)}: {self.steps[-1]}" if self.steps else "the start"
        return (f"{self.target} differs from the reference at {last}\n"
                f"  reference: {describe(self.reference)}\n"
                f"  target:    {describe(self.observed)}")


class Divergence(AssertionError):
    """The target answered an action otherwise than the reference did."""

    def __init__(self, finding: Finding) -> None:
        super().__init__(finding.describe())
        self.finding = finding


class Pair:
    """A clean reference in memory and a fresh target from the provider, every role signed in.

    Both start at the same time; the clock moves on both or (when the target's clock cannot be
    moved) the reference follows the target's.
    """

    def __init__(self, provider: Provider) -> None:
        self.name = provider.name
        self._provider = provider
        self._made = provider.target()
        self.clock_movable = Needs.CLOCK in provider.capabilities
        self.passkeys = provider.kind == "memory" and Needs.PASSKEYS in provider.capabilities
        self.reference = MemoryTarget()
        self._follow()
        self.sides = (Side(self.reference, True), Side(self._made, self.clock_movable))
        self.history: list[Action] = []
        for role in ROLES:  # everyone starts signed in; not part of the steps
            self._compare(Action("sign_in", role, "right"))

    def step(self, action: Action) -> None:
        """Run `action` on both sides; Divergence if the target answers otherwise."""
        self.history.append(action)
        self._compare(action)

    def close(self) -> None:
        self._provider.release(self._made)

    def _compare(self, action: Action) -> None:
        if not self.clock_movable:
            self._follow()
        expected = self.sides[0].do(action)
        got = self.sides[1].do(action)
        if got != expected:
            raise Divergence(Finding(self.name, tuple(self.history), expected, got))

    def _follow(self) -> None:
        """Set the reference's clock to the target's (to the same point in the TOTP step)."""
        self.reference.clock.set(self._made.server_time())
