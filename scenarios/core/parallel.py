"""Send the same kind of request many times at once: threads released together by a barrier."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Generic, TypeVar

from clinic2fa.scenarios.contract import Refused

T = TypeVar("T")
MAX_PARALLEL = 64  # a race needs a crowd, not a flood
DEADLINE = 60.0  # seconds for the whole burst, so a hung target cannot hang the run


@dataclass(frozen=True)
class Outcome(Generic[T]):
    """What one of the parallel calls got: a result, or the target's refusal."""

    result: T | None = None
    refusal: Refused | None = None

    @property
    def accepted(self) -> bool:
        return self.refusal is None


def together(calls: Sequence[Callable[[], T]], *, deadline: float = DEADLINE,
             ) -> list[Outcome[T]]:
    """Run every call in its own thread, all released at once; outcomes in the calls' order.

    A barrier holds each thread until all are ready, so the requests leave together rather
    than one thread's head start serialising them. Anything but a refusal (the target
    unreachable, a protocol error) is raised, as from a single call.
    """
    if not 0 < len(calls) <= MAX_PARALLEL:
        raise ValueError(f"between 1 and {MAX_PARALLEL} parallel calls, not {len(calls)}")
    start = threading.Barrier(len(calls), timeout=deadline)

    def one(call: Callable[[], T]) -> Outcome[T]:
        start.wait()
        try:
            return Outcome(result=call())
        except Refused as refusal:
            return Outcome(refusal=refusal)

    with ThreadPoolExecutor(max_workers=len(calls), thread_name_prefix="race") as pool:
        futures = [pool.submit(one, call) for call in calls]
        return [future.result(timeout=deadline) for future in futures]
