"""How far a server's clock is from ours: from its clock endpoint, or from `Date` headers."""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from email.utils import parsedate_to_datetime

from clinic2fa.scenarios.contract import ClockEstimate

__all__ = ["DATE_RESOLUTION", "ClockEstimate", "Sample", "date_seconds", "estimate"]

DATE_RESOLUTION = 1.0  # an HTTP Date says whole seconds


@dataclass(frozen=True)
class Sample:
    """One exchange: local time sent and received, and what the server said its time was."""

    sent: float
    received: float
    server: float  # for a Date header, the whole second it named

    @property
    def rtt(self) -> float:
        return self.received - self.sent


def date_seconds(header: str | None) -> float | None:
    """A Date header as Unix seconds; None when missing or unreadable."""
    if not header:
        return None
    try:
        return parsedate_to_datetime(header).timestamp()
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


def estimate(samples: list[Sample], source: str, resolution: float) -> ClockEstimate | None:
    """Median offset over the samples, each read at the middle of its round trip.

    A Date of second S was written at some time in [S, S+1): read it as S + 0.5. The answer can
    be off by half the resolution plus half the median round trip.
    """
    if not samples:
        return None
    offsets = [s.server + resolution / 2 - (s.sent + s.received) / 2 for s in samples]
    rtt = statistics.median(s.rtt for s in samples)
    return ClockEstimate(source, statistics.median(offsets), resolution / 2 + rtt / 2,
                         len(samples))
