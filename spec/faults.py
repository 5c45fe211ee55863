"""The fault model (faults.toml): for each MUST requirement, the ways an implementation breaks it.

Kept apart from requirements.toml, keyed by requirement ID. Each way has a kind (KINDS), a
sentence, and what covers it: seeded defects and mutants of the reference, by name. This
module checks the file against the spec (known IDs, every MUST modelled, known kinds); whether
the named defects and mutants exist and are caught is the harness's to check
(scenarios/selfcheck/coverage.py), since the spec imports nothing of the project.
"""

from __future__ import annotations

import functools
import tomllib
from dataclasses import dataclass
from importlib import resources
from types import MappingProxyType
from typing import Any

from clinic2fa.spec import Spec, SpecError
from clinic2fa.spec import load as load_spec

FAULTS_FILE = "faults.toml"

# The ways a rule breaks, as the fault model names them.
KINDS: MappingProxyType[str, str] = MappingProxyType({
    "wrong_subject": "for or by the wrong person (another user's factor, the actor not the user)",
    "wrong_object": "on the wrong thing (another code, credential or account)",
    "wrong_time": "too early, too late or for ever (window, expiry, lock-out)",
    "wrong_order": "acts before the check is done, or checks then acts apart (parallel requests)",
    "partial_cleanup": "leaves part of what it must remove (factors, sessions, old codes)",
    "shared_state": "state that belongs to one user kept for several, or for the clinic",
    "one_path": "the rule holds on one path and not on another",
    "no_switch_back": "a setting or a state that does not switch back",
    "wrong_value": "a wrong number, format or algorithm",
    "weak_randomness": "randomness too short, predictable or repeated",
    "disclosure": "a secret shown, logged or stored where it must not be",
    "missing_check": "the rule is not checked at all",
})
_FIELDS = {"kind", "way", "defects", "mutants"}


@dataclass(frozen=True)
class Way:
    """One way of breaking one requirement, and what shows the suite catches it."""

    requirement: str
    kind: str
    way: str
    defects: tuple[str, ...] = ()
    mutants: tuple[str, ...] = ()


@dataclass(frozen=True)
class FaultModel:
    """Every requirement's ways, in file order."""

    ways: tuple[Way, ...]

    def of(self, requirement: str) -> tuple[Way, ...]:
        return tuple(w for w in self.ways if w.requirement == requirement)

    @property
    def requirements(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(w.requirement for w in self.ways))


def parse(text: str, spec: Spec) -> FaultModel:
    """faults.toml's text, checked against `spec`; SpecError (one line) on the first problem."""
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SpecError(f"{FAULTS_FILE}: not valid TOML: {exc}") from None
    levels = {r.id: r.level for r in spec.requirements}
    ways: list[Way] = []
    for req_id, entries in doc.items():
        if req_id not in levels:
            raise SpecError(f"{FAULTS_FILE}: {req_id!r} is no requirement of requirements.toml")
        if not isinstance(entries, list) or not entries:
            raise SpecError(f"{FAULTS_FILE}: {req_id} must be an array of tables ([[{req_id}]])")
        for number, entry in enumerate(entries, 1):
            ways.append(_way(req_id, number, entry))
    unmodelled = [r for r, level in levels.items() if level == "MUST" and r not in doc]
    if unmodelled:
        raise SpecError(f"{FAULTS_FILE}: MUST requirement {unmodelled[0]} has no fault model")
    return FaultModel(tuple(ways))


def _way(req_id: str, number: int, entry: Any) -> Way:
    where = f"{FAULTS_FILE}: {req_id} way #{number}"
    if not isinstance(entry, dict):
        raise SpecError(f"{where} must be a table")
    unknown = sorted(set(entry) - _FIELDS)
    if unknown:
        raise SpecError(f"{where}: unknown field {unknown[0]!r}")
    kind, way = entry.get("kind"), entry.get("way")
    if kind not in KINDS:
        raise SpecError(f"{where}: kind {kind!r} is not one of {', '.join(KINDS)}")
    if not isinstance(way, str) or not way.strip():
        raise SpecError(f"{where}: way must be a non-empty sentence")
    names: dict[str, tuple[str, ...]] = {}
    for field in ("defects", "mutants"):
        value = entry.get(field, [])
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            raise SpecError(f"{where}: {field} must be a list of names")
        if len(set(value)) != len(value):
            raise SpecError(f"{where}: {field} names one twice")
        names[field] = tuple(value)
    return Way(req_id, kind, way.strip(), names["defects"], names["mutants"])


@functools.cache
def load() -> FaultModel:
    """The packaged fault model, checked against the packaged spec; parsed once per process."""
    text = resources.files("clinic2fa.spec").joinpath(FAULTS_FILE).read_text(encoding="utf-8")
    return parse(text, load_spec())
