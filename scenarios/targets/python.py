"""`--target python:MODULE:FACTORY`: the user's own implementation, checked in this process.

FACTORY() is called once per scenario and returns a fresh object that implements the Target
contract (scenarios/contract.py: the methods of `Target`, plus those of each capability it lists
in `capabilities`). An implementation that reads the system clock (time.time(), datetime.now())
leaves `clock` out of its capabilities: the harness then freezes the system clock for each
scenario with freezegun and moves it where a scenario moves time, so the clock scenarios run on
it too. One whose clock is injected declares `clock` and `advance_clock(seconds)` itself.
MODULE is a dotted module name (the current folder is on the import path) or a path to a .py
file. In a race's burst each call waits at a door for the rest of the burst, as requests that
came together wait in a server's socket (the memory target's door): an implementation this fast
would otherwise answer the first before a loaded machine has started the last.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import os
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import wraps
from pathlib import Path
from types import ModuleType
from typing import Any

from clinic2fa.scenarios.contract import (
    CAPABILITY_PROTOCOLS,
    ClockEstimate,
    Needs,
    Provider,
    Target,
    implied,
)
from clinic2fa.scenarios.core import parallel, realtime
from clinic2fa.scenarios.errors import UsageError

SCHEME = "python"
# What the harness supplies when the implementation leaves it out.
DEFAULTS = frozenset({"name", "capabilities", "origin", "server_time"})
CLOCK_SOURCE_FROZEN = "freezegun"  # ClockEstimate.source: the harness moves the system clock
CLOCK_SOURCE_OWN = "in-process"  # the implementation's own (injected) clock, read directly


def members(protocol: type) -> list[str]:
    """The methods a protocol asks for, in the order it declares them."""
    return [name for name, value in vars(protocol).items()
            if not name.startswith("_") and inspect.isfunction(value)]


def missing(obj: Any, protocol: type) -> list[str]:
    return [name for name in members(protocol)
            if name not in DEFAULTS and not callable(getattr(obj, name, None))]


class OnFrozenClock:
    """The user's target on a system clock the harness holds still and moves (freezegun).

    Every other attribute is the implementation's own; the defaults of the contract it left
    out (name, origin, server_time) are filled in.
    """

    def __init__(self, target: Any, name: str, capabilities: frozenset[Needs],
                 freezer: Any | None) -> None:
        self._target = target
        self._freezer = freezer
        self.name = getattr(target, "name", None) or name
        self.capabilities = capabilities
        self.origin = getattr(target, "origin", None)

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._target, name)
        return _at_the_door(value) if callable(value) else value

    def server_time(self) -> float:
        own = getattr(self._target, "server_time", None)
        return float(own()) if callable(own) else time.time()

    def advance_clock(self, seconds: float) -> None:
        if self._freezer is None:
            self._target.advance_clock(seconds)
        else:
            self._freezer.tick(timedelta(seconds=seconds))


def _at_the_door(method: Callable[..., Any]) -> Callable[..., Any]:
    """In a burst the call goes in only once the whole burst has reached the door, and says when
    it went in and when it was answered (core/parallel.py); elsewhere it simply goes in."""

    @wraps(method)
    def call(*args: Any, **kwargs: Any) -> Any:
        sent = parallel.arrive()
        try:
            return method(*args, **kwargs)
        finally:
            if sent is not None:
                parallel.exchanged(sent, realtime.monotonic())

    return call


class PythonProvider(Provider):
    """A fresh implementation per scenario from the user's factory, in this process."""

    kind = SCHEME
    reference = False  # the user's implementation, not the reference

    def __init__(self, name: str, factory: Callable[[], Any]) -> None:
        self.name = name
        self._factory = factory
        self.frozen = False  # the harness holds the system clock (decided in open())
        self._declared: frozenset[Needs] = frozenset()
        self._freezes: dict[int, Any] = {}  # target -> its running freeze

    def open(self) -> None:
        """Make one target to learn what it declares and check it keeps the contract."""
        sample = self._make()
        self._declared = declared(sample, self.name)
        gaps = missing(sample, Target)
        for need in sorted(self._declared):
            protocol = CAPABILITY_PROTOCOLS.get(need)
            if protocol is not None:
                gaps += [f"{m} (for {need.value})" for m in missing(sample, protocol)]
        if gaps:
            raise UsageError(f"{self.name}: the object FACTORY() returns lacks "
                             f"{', '.join(gaps)} (the contract: clinic2fa.scenarios.contract)")
        self.frozen = Needs.CLOCK not in self._declared
        self.capabilities = implied(self._declared | {Needs.CLOCK})
        _close(sample)

    def _make(self) -> Any:
        try:
            return self._factory()
        except Exception as exc:
            raise UsageError(f"{self.name}: FACTORY() raised {type(exc).__name__}: "
                             f"{exc}") from exc

    def target(self) -> OnFrozenClock:
        freeze = None
        if self.frozen:
            from freezegun import freeze_time  # only for an implementation on the system clock

            freeze = freeze_time(datetime.now(UTC))
        moving = freeze.start() if freeze is not None else None
        try:
            made = OnFrozenClock(self._factory(), self.name, self.capabilities, moving)
        except BaseException:
            if freeze is not None:
                freeze.stop()
            raise
        self._freezes[id(made)] = freeze
        return made

    def release(self, target: Any) -> None:
        try:
            _close(target._target)
        finally:
            freeze = self._freezes.pop(id(target), None)
            if freeze is not None:
                freeze.stop()

    def clock(self) -> ClockEstimate:
        if self.frozen:
            return ClockEstimate(CLOCK_SOURCE_FROZEN, 0.0, 0.0, 0)
        sample = OnFrozenClock(self._make(), self.name, self.capabilities, None)
        offset = sample.server_time() - time.time()
        _close(sample._target)
        return ClockEstimate(CLOCK_SOURCE_OWN, offset, 0.0, 1)


def declared(target: Any, name: str) -> frozenset[Needs]:
    """The capabilities an implementation lists (Needs or their names); a typo is an error."""
    values = getattr(target, "capabilities", frozenset()) or frozenset()
    found = set()
    for value in values:
        try:
            found.add(Needs(value))
        except ValueError:
            known = ", ".join(n.value for n in Needs)
            raise UsageError(f"{name}: unknown capability {value!r} (known: {known})") from None
    if Needs.CLOCK in found and not callable(getattr(target, "advance_clock", None)):
        raise UsageError(f"{name}: declares clock but has no advance_clock(seconds); leave "
                         "clock out and the harness moves the system clock (freezegun)")
    return frozenset(found)


def _close(target: Any) -> None:
    close = getattr(target, "close", None)
    if callable(close):
        close()


def load_module(spec: str) -> ModuleType:
    """A dotted module name (the current folder first on the path) or a .py file's path."""
    if spec.endswith(".py") or os.sep in spec:
        path = Path(spec)
        if not path.is_file():
            raise UsageError(f"python target: no file {spec}")
        if str(path.parent.resolve()) not in sys.path:  # its own packages beside it import
            sys.path.insert(0, str(path.parent.resolve()))
        found = importlib.util.spec_from_file_location(path.stem, path)
        if found is None or found.loader is None:
            raise UsageError(f"python target: cannot import {spec}")
        module = importlib.util.module_from_spec(found)
        sys.modules[path.stem] = module
        found.loader.exec_module(module)
        return module
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        return importlib.import_module(spec)
    except ImportError as exc:
        raise UsageError(f"python target: cannot import {spec}: {exc}") from None


def provider(target: str, config: Any = None) -> PythonProvider:
    """`--target python:MODULE:FACTORY`."""
    _, _, rest = target.partition(":")
    module_name, _, factory_name = rest.rpartition(":")
    if not module_name or not factory_name:
        raise UsageError(f"bad target {target!r}: expected python:MODULE:FACTORY, e.g. "
                         "python:mybackend.testing:make_target")
    factory = getattr(load_module(module_name), factory_name, None)
    if not callable(factory):
        raise UsageError(f"python target: {module_name} has no callable {factory_name}")
    return PythonProvider(target, factory)
