"""The reference and a target side by side: each action on both, the first difference raised."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace

from clinic2fa.scenarios.contract import Provider
from clinic2fa.scenarios.core.model import Needs
from clinic2fa.scenarios.explore.sides import ROLES, Action, Observation, Side, describe
from clinic2fa.scenarios.targets.memory import MemoryTarget


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
        self.inspectable = Needs.INSPECT in provider.capabilities
        self.reference = MemoryTarget()
        self._follow()
        self.sides = (Side(self.reference, True, self.inspectable),
                      Side(self._made, self.clock_movable, self.inspectable))
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


def diverges(provider: Provider, steps: Sequence[Action]) -> Finding | None:
    """Run `steps` on a fresh pair; where the target first answers otherwise, or None."""
    if not steps:
        return None
    pair = Pair(provider)
    try:
        for action in steps:
            pair.step(action)
    except Divergence as found:
        return found.finding
    finally:
        pair.close()
    return None


def shortest(provider: Provider, found: Finding) -> Finding:
    """`found` cut down to a sequence no step of which can go and still show a divergence.

    Steps are symbolic, so any subsequence replays: runs of steps are left out, halving the run
    down to single steps (each accepted leaving-out ends the sequence where it now diverges); a
    sign-in and the second step right after it become one step; a sign-in's second step is
    dropped. Repeated until nothing more goes. A few dozen replays, not the thousands a
    shrinker over hypothesis's choices takes for the same result.
    """
    best = found

    def better(steps: Sequence[Action]) -> bool:
        nonlocal best
        finding = diverges(provider, steps)
        if finding is None or len(finding.steps) > len(steps):
            return False
        best = finding
        return True

    changed = True
    while changed:
        changed = False
        size = max(1, len(best.steps) // 2)
        while True:
            start = 0
            while start < len(best.steps):
                if not better(best.steps[:start] + best.steps[start + size:]):
                    start += size
                else:
                    changed = True
            if size == 1:
                break
            size //= 2
        for at in range(len(best.steps) - 1, -1, -1):
            if at < len(best.steps) and any(better(c) for c in _plainer(best.steps, at)):
                changed = True
    return best


def _plainer(steps: tuple[Action, ...], at: int) -> Iterator[tuple[Action, ...]]:
    """`steps` with step `at` merged with the second step after it, or without its own."""
    one, after = steps[at], steps[at + 1 : at + 2]
    if (one.verb == "sign_in" and one.arg == "right" and not one.then and after
            and after[0].verb == "second_step" and after[0].who == one.who):
        yield (*steps[:at], replace(one, then=str(after[0].arg)), *steps[at + 2:])
    if one.then:
        yield (*steps[:at], replace(one, then=""), *steps[at + 1:])
