"""Send the same kind of request many times at once, and show whether they really overlapped.

Threads released together by a barrier send the requests; each records when its request left
and when its answer came back. A target that knows those moments reports them with
`exchanged()`: the HTTP target from the wire (the request's last byte written, the answer's
head read); the in-memory target, whose calls share one interpreter, lets each request in at
its door only once all of the burst have reached it (`arrive()`), as a server's socket holds
requests that came together. Otherwise the call's own start and end stand in. A burst
overlapped when at least half its requests were sent before any of them was answered (so all
of those were in flight at one moment); the evidence says how many were in flight at most,
and how many were sent only after the first answer came back.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Generic, TypeVar

from clinic2fa.scenarios.contract import Refused
from clinic2fa.scenarios.core.realtime import monotonic

T = TypeVar("T")
MAX_PARALLEL = 64  # a race needs a crowd, not a flood
DEADLINE = 60.0  # seconds for the whole burst, so a hung target cannot hang the run
DOOR_WAIT = 10.0  # seconds a request waits at a target's door for the rest of its burst
# During a burst the interpreter switches threads this often (seconds; Python's default is
# 0.005): a check-then-act left unguarded in a target in this process (memory, or a server in a
# thread) then interleaves with another request's, as it would on a server with many cores.
SWITCH = 1e-6
_wire = threading.local()  # the exchanges the current thread's call made, while recording


def exchanged(sent: float, answered: float) -> None:
    """A target says when one request left and its answer came (time.monotonic() seconds).

    Called by the target in the calling thread; kept only while a burst's call records.
    """
    log = getattr(_wire, "log", None)
    if log is not None:
        log.append((sent, answered))


def arrive() -> float | None:
    """A request reaches a target that has no wire: in a burst, it waits until every request
    of the burst has arrived (once per call) and gets the moment they all had, its "sent".

    None outside a burst, or when the others never came (the door gives up after DOOR_WAIT).
    """
    door = getattr(_wire, "door", None)
    if door is None:
        return None
    _wire.door = None
    barrier, opened = door
    try:
        barrier.wait()
    except threading.BrokenBarrierError:
        return None
    return opened[0]


def recording() -> bool:
    """Whether the current thread's call is part of a burst (timing it costs nothing else)."""
    return getattr(_wire, "log", None) is not None


@dataclass(frozen=True)
class Outcome(Generic[T]):
    """What one of the parallel calls got (a result, or the target's refusal), and when."""

    result: T | None = None
    refusal: Refused | None = None
    sent: float = 0.0  # when the request had left (monotonic)
    answered: float = 0.0  # when its answer came back (monotonic)
    on_the_wire: bool = False  # the times are the target's (else the call's start and end)

    @property
    def accepted(self) -> bool:
        return self.refusal is None


@dataclass(frozen=True)
class Overlap:
    """The evidence of one burst: how many of its requests were in flight together?"""

    requests: int
    in_flight: int  # the most requests sent and not yet answered at one moment
    late: int  # requests sent after the first answer had come back
    last_sent: float  # seconds after the first request left
    first_answer: float  # seconds after the first request left
    on_the_wire: bool
    # how many of the others were in flight while the burst's first request was, where the
    # race is that request against the rest (an admin's reset, a regeneration); else None
    beside_first: int | None = None

    @property
    def overlapped(self) -> bool:
        """Where the race is the first request against the rest: another was in flight with it.
        Else at least half the burst (and at least two requests) sent before the first answer
        came back, so all of them in flight at once. Many in flight is not enough: a server
        that answers each in milliseconds has them queue one after another, sent too late."""
        if self.beside_first is not None:
            return self.beside_first > 0
        return self.requests - self.late >= max(2, -(-self.requests // 2))

    def __str__(self) -> str:
        how = "as the target saw them" if self.on_the_wire else "by the calls' start and end"
        said = "overlapped" if self.overlapped else "did not overlap"
        every = "every one sent before the first answer came back" if not self.late else \
            f"{self.late} sent only after the first answer came back"
        beside = "" if self.beside_first is None else \
            f"; {self.beside_first} of the others in flight while the first one was"
        return (f"the {self.requests} requests {said}: at most {self.in_flight} in flight at once, "
                f"{every}{beside}; the last sent at +{self.last_sent * 1000:.1f} ms, the first "
                f"answer at +{self.first_answer * 1000:.1f} ms ({how})")


def overlap(outcomes: Sequence[Outcome[object]], *, against_first: bool = False) -> Overlap:
    """How a burst's requests lay in time against each other (`against_first`: and against
    the first of them, where the race is that one against the rest)."""
    first_sent = min(o.sent for o in outcomes)
    first_answer = min(o.answered for o in outcomes)
    # +1 as a request leaves, -1 as its answer comes; an answer at the very moment another
    # request leaves counts first, so touching is not overlapping.
    events = sorted([(o.sent, 1) for o in outcomes] + [(o.answered, -1) for o in outcomes])
    flying = most = 0
    for _, change in events:
        flying += change
        most = max(most, flying)
    first = outcomes[0]
    beside = sum(o.sent < first.answered and first.sent < o.answered for o in outcomes[1:]) \
        if against_first else None
    return Overlap(len(outcomes), most, sum(o.sent >= first_answer for o in outcomes),
                   max(o.sent for o in outcomes) - first_sent, first_answer - first_sent,
                   all(o.on_the_wire for o in outcomes), beside)


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
    opened: list[float] = []
    door = threading.Barrier(len(calls), action=lambda: opened.append(monotonic()),
                             timeout=min(DOOR_WAIT, deadline))

    def one(call: Callable[[], T]) -> Outcome[T]:
        start.wait()
        _wire.door = (door, opened)
        _wire.log = wire = []
        began = monotonic()
        try:
            result, refusal = call(), None
        except Refused as refused:
            result, refusal = None, refused
        finally:
            ended = monotonic()
            _wire.log = _wire.door = None
        # The last exchange is the request the call was about (a call may ask more first).
        sent, answered = wire[-1] if wire else (began, ended)
        return Outcome(result, refusal, sent, answered, bool(wire))

    saved = sys.getswitchinterval()
    sys.setswitchinterval(SWITCH)  # threads of one interpreter interleave as finely as it can
    try:
        with ThreadPoolExecutor(max_workers=len(calls), thread_name_prefix="race") as pool:
            futures = [pool.submit(one, call) for call in calls]
            return [future.result(timeout=deadline) for future in futures]
    finally:
        sys.setswitchinterval(saved)
