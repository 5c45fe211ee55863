"""Clocks the reference reads time from, so tests can freeze or move time instead of sleeping."""

from __future__ import annotations

import time
from typing import Protocol


class Clock(Protocol):
    """Anything that tells the current Unix time in seconds."""

    def now(self) -> float: ...


class SystemClock:
    """The real clock; follows freezegun when a test freezes time."""

    def now(self) -> float:
        return time.time()


class FakeClock:
    """A clock that only moves when told to: the suite's control over the server's time."""

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self._now = float(start)

    def now(self) -> float:
        return self._now

    def set(self, when: float) -> None:
        self._now = float(when)

    def advance(self, seconds: float) -> None:
        self._now += seconds
