"""Seeded defects touch the reference only at its SEAMS, and never at a name it no longer has.

A defect overrides or replaces private parts of the reference (Clinic, its Passkeys relying
party, its Hasher). Were one renamed in the reference, the defect's override would override
nothing and the defect would silently be the clean reference again; `defects --check` would
then report it missed, but only after minutes. These checks take well under a second.
"""

from __future__ import annotations

import ast
import inspect
from dataclasses import fields
from functools import cache
from pathlib import Path
from types import ModuleType

import pytest

from clinic2fa.scenarios.selfcheck import defects
from clinic2fa.scenarios.selfcheck.defects import registry
from clinic2fa.simulator.clinic import Clinic
from clinic2fa.simulator.clock import FakeClock
from clinic2fa.simulator.hashing import Hasher
from clinic2fa.simulator.passkeys import Passkeys
from clinic2fa.simulator.policy import FAST_HASH, Policy
from clinic2fa.simulator.users import User

REFERENCE: tuple[type, ...] = (Clinic, Passkeys, Hasher)  # the classes defects subclass
MODULES: tuple[ModuleType, ...] = (*defects.AREAS, registry)
PACKAGE = Path(defects.__file__).parent


def fresh(**kwargs: object) -> Clinic:
    return Clinic(clock=FakeClock(), policy=Policy(hash_cost=FAST_HASH), **kwargs)


@cache
def reference_names(kind: type) -> frozenset[str]:
    """Every name the reference `kind` has: on the class, or on a freshly built instance."""
    clinic = fresh()
    instance = clinic if kind is Clinic else next(v for v in vars(clinic).values()
                                                  if type(v) is kind)
    return frozenset(dir(kind)) | frozenset(vars(instance))


def is_private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def reference_of(cls: type) -> type:
    return next(kind for kind in REFERENCE if issubclass(cls, kind))


def defect_classes() -> list[type]:
    """The package's subclasses of the reference: each defect's clinic or relying party."""
    found = {obj for module in MODULES for obj in vars(module).values()
             if isinstance(obj, type) and issubclass(obj, REFERENCE)
             and obj not in REFERENCE and obj.__module__ == module.__name__}
    return sorted(found, key=lambda cls: cls.__qualname__)


def test_every_seam_is_a_private_name_the_reference_has() -> None:
    for kind in REFERENCE:
        seams = kind.SEAMS  # type: ignore[attr-defined]
        assert len(set(seams)) == len(seams), f"{kind.__name__}.SEAMS names one twice"
        for name in seams:
            assert is_private(name), f"{kind.__name__}.SEAMS: {name} is not private"
            assert name in reference_names(kind), (
                f"{kind.__name__}.SEAMS names {name}, which {kind.__name__} no longer has: "
                f"rename it in SEAMS and in scenarios/selfcheck/defects/ together")


@pytest.mark.parametrize("cls", defect_classes(), ids=lambda cls: cls.__qualname__)
def test_a_defect_overrides_only_names_the_reference_has_and_private_ones_only_at_seams(
        cls: type) -> None:
    kind = reference_of(cls)
    for klass in cls.__mro__[:cls.__mro__.index(kind)]:
        for name, value in vars(klass).items():
            if name.startswith("__"):
                continue
            behaviour = inspect.isfunction(value) or isinstance(
                value, property | staticmethod | classmethod)
            if behaviour or is_private(name):
                assert name in reference_names(kind), (
                    f"{klass.__qualname__}.{name} overrides nothing: {kind.__name__} has no "
                    f"{name} (renamed?), so the defect would be the clean reference")
            if is_private(name):
                assert name in kind.SEAMS, (  # type: ignore[attr-defined]
                    f"{klass.__qualname__} overrides {kind.__name__}.{name}, which is not in "
                    f"{kind.__name__}.SEAMS: add it there, with what the defect does with it")


@pytest.mark.parametrize("name", list(defects.CATALOGUE))
def test_a_built_defect_replaces_only_seams_and_sets_no_private_name_the_reference_lacks(
        name: str) -> None:
    broken = defects.build(name, clock=FakeClock(), policy=Policy(hash_cost=FAST_HASH))
    clean = fresh()
    assert isinstance(broken, Clinic)
    pairs = [(broken, clean, Clinic)] + [  # and the relying party and the hasher inside
        (getattr(broken, attr), part, type(part)) for attr, part in vars(clean).items()
        if type(part) in REFERENCE and hasattr(broken, attr)]
    assert len(pairs) == len(REFERENCE)
    for made, reference, kind in pairs:
        if type(made) is not kind:
            assert type(made) in defect_classes(), f"{name}: {type(made)} is not a defect class"
        for attr, value in vars(made).items():
            if not is_private(attr):
                continue  # a defect's own state is public
            assert attr in vars(reference), (
                f"{name} sets {kind.__name__}.{attr}, which the reference does not have "
                f"(renamed?); a defect's own state takes a public name")
            if type(value) is not type(vars(reference)[attr]):
                assert attr in kind.SEAMS, (  # type: ignore[attr-defined]
                    f"{name} replaces {kind.__name__}.{attr}, which is not in its SEAMS")


# -- what the source reaches into: checked without running it ------------------------------------


def sources() -> list[tuple[Path, ast.Module]]:
    return [(path, ast.parse(path.read_text(encoding="utf-8")))
            for path in sorted(PACKAGE.glob("*.py"))]


def helper_names() -> set[str]:
    """Private names the package's own helper classes (not the reference's) define."""
    named: set[str] = set()
    modules = {Path(m.__file__ or ""): m for m in (*MODULES, defects)}
    for path, tree in sources():
        module = modules[path]
        for node in ast.walk(tree):
            if not isinstance(node, ast.ClassDef):
                continue
            cls = getattr(module, node.name, None)
            if isinstance(cls, type) and issubclass(cls, REFERENCE):
                continue
            for inner in ast.walk(node):
                if isinstance(inner, ast.FunctionDef):
                    named.add(inner.name)
                elif isinstance(inner, ast.Attribute) and isinstance(inner.ctx, ast.Store):
                    named.add(inner.attr)
    return {n for n in named if is_private(n)}


def test_every_private_name_the_defects_reach_into_is_a_seam() -> None:
    """Reading a renamed name fails loudly, but only when that path runs; this finds it now."""
    seams = {n for kind in REFERENCE for n in kind.SEAMS}  # type: ignore[attr-defined]
    own = helper_names()
    stray = {f"{path.name}:{node.lineno} .{node.attr}" for path, tree in sources()
             for node in ast.walk(tree) if isinstance(node, ast.Attribute)
             and is_private(node.attr) and node.attr not in seams | own}
    assert not stray, f"private names outside the reference's SEAMS: {sorted(stray)}"


def test_every_attribute_a_defect_swaps_by_name_exists_in_the_reference() -> None:
    """registry.swapped(obj, "name", value) changes an attribute by its name, as a string."""
    known = reference_names(Clinic) | reference_names(Passkeys) | {f.name for f in fields(User)}
    seams = {n for kind in REFERENCE for n in kind.SEAMS}  # type: ignore[attr-defined]
    swapped = [(path.name, node.args[1].value) for path, tree in sources()
               for node in ast.walk(tree) if isinstance(node, ast.Call)
               and getattr(node.func, "id", None) == "swapped" and len(node.args) >= 2
               and isinstance(node.args[1], ast.Constant)]
    assert swapped  # the check sees the calls
    for where, attr in swapped:
        assert attr in known, f"{where} swaps {attr!r}, which the reference does not have"
        assert not is_private(attr) or attr in seams, f"{where} swaps {attr!r}, not a seam"
