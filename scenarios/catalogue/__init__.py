"""The scenario catalogue: one module per spec section, loaded, selected, mapped onto the spec."""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterable, Mapping
from fnmatch import fnmatchcase

from clinic2fa import spec
from clinic2fa.scenarios.core.model import REGISTRY, Scenario
from clinic2fa.scenarios.errors import UsageError


def load() -> dict[str, Scenario]:
    """Import every module of this package (each registers its scenarios); the registry."""
    for module in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{module.name}")
    return dict(REGISTRY)


def spec_ids(scenario: Scenario, loaded: spec.Spec) -> frozenset[str]:
    """What a scenario verifies: its `verifies` plus the guide items those requirements serve."""
    ids = set(scenario.verifies)
    for req in loaded.requirements:
        if req.id in ids:
            ids.update(req.serves)
    return frozenset(ids)


def select(catalogue: Mapping[str, Scenario], patterns: Iterable[str],
           loaded: spec.Spec) -> list[Scenario]:
    """Scenarios whose ID or spec IDs match any glob (all when none); a dead pattern is an error.

    Matching ignores case, so `--select 'totp-*'` works as well as `--select 'TOTP-*'`.
    """
    patterns = [p.upper() for p in patterns]
    if not patterns:
        return list(catalogue.values())
    chosen, used = [], set()
    for scen in catalogue.values():
        names = {scen.id.upper(), *spec_ids(scen, loaded)}
        hits = {p for p in patterns if any(fnmatchcase(n, p) for n in names)}
        used |= hits
        if hits:
            chosen.append(scen)
    dead = [p for p in patterns if p not in used]
    if dead:
        raise UsageError(f"--select {dead[0]} matches no scenario ID or spec ID")
    return chosen


def unknown_spec_ids(catalogue: Mapping[str, Scenario], loaded: spec.Spec) -> list[str]:
    """`verifies` entries that name no guide item or requirement (a typo hides a gap)."""
    known = set(loaded.all_ids())
    return sorted({f"{s.id}: {v}" for s in catalogue.values() for v in s.verifies
                   if v not in known})
