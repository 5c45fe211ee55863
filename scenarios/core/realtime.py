"""Real monotonic seconds for the harness's own timing, even while freezegun holds the clock."""

from __future__ import annotations

import time


def monotonic() -> float:
    """time.monotonic()'s clock, read where freezegun (holding the system clock for a python:
    target) cannot hand out its frozen one: it replaces time.monotonic and time.perf_counter,
    not clock_gettime."""
    return time.clock_gettime(time.CLOCK_MONOTONIC)
