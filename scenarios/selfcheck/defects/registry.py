"""The catalogue's registry: what a seeded defect is, how one is registered and built."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, replace
from typing import Any

from clinic2fa.simulator.clinic import Clinic
from clinic2fa.simulator.policy import Policy
from clinic2fa.simulator.users import Role

ClinicFactory = Callable[..., Clinic]  # takes Clinic's own keyword arguments


WEB = ("http",)  # a defect of the web layer's answers: nothing of it shows in memory


@dataclass(frozen=True)
class Defect:
    """A named broken variant, the spec IDs it violates, and how to build it.

    `shows_on`: the target kinds it can show on (None: every one); a defect of what the web
    layer answers (a header, a status) has nothing to show in memory, where nothing travels.
    """

    name: str
    violates: tuple[str, ...]
    summary: str
    build: ClinicFactory
    shows_on: tuple[str, ...] | None = None

    def shows(self, target: str) -> bool:
        return self.shows_on is None or target in self.shows_on


CATALOGUE: dict[str, Defect] = {}


def register(name: str, violates: tuple[str, ...], summary: str, build: ClinicFactory,
             shows_on: tuple[str, ...] | None = None) -> None:
    """Add one defect; a name used twice is a mistake in the catalogue, not a replacement."""
    if name in CATALOGUE:
        raise ValueError(f"defect {name!r} is registered twice")
    CATALOGUE[name] = Defect(name, violates, summary, build, shows_on)


def defect(name: str, violates: tuple[str, ...], summary: str,
           shows_on: tuple[str, ...] | None = None,
           ) -> Callable[[type[Clinic]], type[Clinic]]:
    """Register a Clinic subclass as a seeded defect."""

    def add(cls: type[Clinic]) -> type[Clinic]:
        register(name, violates, summary, cls, shows_on)
        return cls

    return add


def policy_defect(name: str, violates: tuple[str, ...], summary: str,
                  shows_on: tuple[str, ...] | None = None, **change: Any) -> None:
    """Register a defect that is only a wrong number in the policy."""

    def build(*, policy: Policy | None = None, **kwargs: Any) -> Clinic:
        return Clinic(policy=replace(policy or Policy(), **change), **kwargs)

    register(name, violates, summary, build, shows_on)


def factory(name: str) -> ClinicFactory:
    """What builds the broken clinic called `name`; KeyError (one line) for an unknown name."""
    if name not in CATALOGUE:
        raise KeyError(f"unknown defect {name!r}; `clinic2fa defects` lists them")
    return CATALOGUE[name].build


def build(name: str, **clinic_kwargs: Any) -> Clinic:
    """The broken clinic called `name`, built with Clinic's own keyword arguments."""
    return factory(name)(**clinic_kwargs)


@contextmanager
def swapped(obj: object, attr: str, value: object) -> Iterator[None]:
    """Change one attribute of the reference for the length of a call.

    `attr` must be one the object has: a renamed attribute fails here, loudly, instead of
    leaving a defect that changes nothing (tests/test_defect_seams.py checks the names too).
    """
    saved = getattr(obj, attr)
    setattr(obj, attr, value)
    try:
        yield
    finally:
        setattr(obj, attr, saved)


def as_role(clinic: Clinic, token: str, role: Role) -> AbstractContextManager[None]:
    """Let the caller act with another role for one call."""
    session = clinic._sessions.get(token)
    user = clinic._users[session.email] if session else None
    return swapped(user, "role", role) if user else nullcontext()
