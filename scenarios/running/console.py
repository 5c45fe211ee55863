"""What the long commands print as they go: n/N, time left, and colour only on a terminal.

Off a terminal (a CI log, `| head`) every line is plain text and nothing is redrawn; NO_COLOR
(any value) turns colour off on a terminal too, FORCE_COLOR on anywhere (https://no-color.org).
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from typing import TextIO

# ANSI styles for the status words; nothing else is coloured.
STYLES = {"PASS": "32", "FAIL": "1;31", "ERROR": "1;35", "ABSENT": "31", "WARN": "33",
          "WAIVED": "36", "WAIVED-PASS": "33", "N/A": "2", "UNSUPPORTED": "2",
          "INCONCLUSIVE": "33", "NO-ACCOUNT": "33", "caught": "32", "MISSED": "1;31",
          "CONFORMS": "1;32", "DOES NOT CONFORM": "1;31", "NOT VERIFIED": "1;33",
          "INTERRUPTED": "1;33", "dim": "2"}


def is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # a closed or unusual stream: treat as a file
        return False


def colour_wanted(stream: TextIO, environ: dict[str, str] | None = None) -> bool:
    """Colour on a terminal unless NO_COLOR is set (or TERM=dumb); FORCE_COLOR forces it."""
    env = os.environ if environ is None else environ
    if env.get("FORCE_COLOR"):
        return True
    if "NO_COLOR" in env or env.get("TERM") == "dumb":
        return False
    return is_terminal(stream)


def paint(text: str, style: str, on: bool) -> str:
    """`text` in the style named (a key of STYLES), or as it is when colour is off."""
    code = STYLES.get(style)
    return f"\033[{code}m{text}\033[0m" if on and code else text


def seconds_left(seconds: float) -> str:
    """A time left as people read it: "under 1s", "8s", "2m05s", "1h03m"."""
    if seconds < 1:
        return "under 1s"
    whole = round(seconds)
    if whole < 60:
        return f"{whole}s"
    if whole < 3600:
        return f"{whole // 60}m{whole % 60:02d}s"
    return f"{whole // 3600}h{whole % 3600 // 60:02d}m"


class Eta:
    """Time left from the pace so far: elapsed / done * (total - done).

    `clock` is injectable so the estimate is tested without waiting.
    """

    def __init__(self, total: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.total = total
        self.clock = clock
        self.started = clock()

    def left(self, done: int) -> float | None:
        """Seconds left after `done` of `total`; None before the first is done."""
        if done <= 0 or self.total <= 0:
            return None
        elapsed = self.clock() - self.started
        return max(0.0, elapsed / done * (self.total - done))

    def says(self, done: int, what: str = "") -> str:
        """"[done/total] 8s left", or "[done/total] examples, 8s left" with `what`; no time
        left at the start and at the end."""
        digits = len(str(self.total))
        left = self.left(done)
        shown = f"{seconds_left(left)} left" if left is not None and done < self.total else ""
        words = ", ".join(w for w in (what, shown) if w)
        return f"[{done:>{digits}}/{self.total}]{' ' + words if words else ''}"


class Console:
    """Lines for a log, plus one redrawn status line on a terminal (never in a file)."""

    def __init__(self, out: TextIO | None = None, *, colour: bool | None = None) -> None:
        self.out = out or sys.stdout
        self.live = is_terminal(self.out)
        self.colour = colour_wanted(self.out) if colour is None else colour
        self._status = False

    def say(self, text: str = "") -> None:
        self._clear()
        try:
            print(text, file=self.out, flush=True)
        except BrokenPipeError:  # `clinic2fa ... | head`: the work and its reports go on
            self.out = open(os.devnull, "w", encoding="utf-8")  # noqa: SIM115 - for the run
            self.live = False

    def status(self, text: str) -> None:
        """A transient line ("[12/80] 8s left, running X"), only where it can be redrawn."""
        if not self.live:
            return
        self._clear()
        try:
            self.out.write(paint(text, "dim", self.colour))
            self.out.flush()
            self._status = True
        except BrokenPipeError:
            self.live = False

    def _clear(self) -> None:
        if self._status:
            self.out.write("\r\033[2K")
            self._status = False

    def paint(self, text: str, style: str) -> str:
        return paint(text, style, self.colour)
