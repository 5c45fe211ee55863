"""The scenario catalogue as data: every spec ID covered, honest quotes, levels and needs right."""

from __future__ import annotations

import inspect
import re

import pytest

from clinic2fa import spec
from clinic2fa.scenarios import catalogue
from clinic2fa.scenarios.core.model import Level, Needs, Scenario

CATALOGUE = catalogue.load()
SPEC = spec.load()
SCENARIOS = list(CATALOGUE.values())
SCENARIO_ID = re.compile(r"[A-Z][A-Z0-9]*(?:-[A-Z0-9]+)+")

# Requirements about what a clinic keeps, not what it answers: only a target that lays its
# storage and audit log open (the reference, test support) can show them.
INSPECTED = {"BACKUP-HASHED", "PASSWORD-HASH", "AUDIT-LOG"}


def _texts(spec_id: str) -> list[str]:
    """What a scenario verifying `spec_id` may quote: the spec's own words for it."""
    if spec_id in {r.id for r in SPEC.requirements}:
        req = SPEC.requirement(spec_id)
        return [req.statement, req.source_text]
    item = SPEC.item(spec_id)
    return [t for t in (item.text, item.symptom, item.cause, item.fix) if t]


def test_every_module_is_a_section_with_a_one_line_docstring() -> None:
    modules = {s.module for s in SCENARIOS}
    assert len(modules) >= 10
    for name in modules:
        module = __import__(name, fromlist=["_"])
        doc = (module.__doc__ or "").strip()
        assert doc and "\n" not in doc, f"{name}: the module docstring must be one line"


def test_every_guide_item_and_requirement_has_a_scenario() -> None:
    covered = {v for s in SCENARIOS for v in s.verifies}
    missing = [i for i in SPEC.all_ids() if i not in covered]
    assert not missing, f"spec IDs no scenario verifies: {missing}"


def test_every_guide_item_has_a_scenario_of_its_own() -> None:
    """Not only through a requirement: each item is walked through in the guide's words."""
    for item in SPEC.guide_items:
        assert any(item.id in s.verifies for s in SCENARIOS), item.id


def test_verified_ids_exist() -> None:
    assert catalogue.unknown_spec_ids(CATALOGUE, SPEC) == []


@pytest.mark.parametrize("scen", SCENARIOS, ids=lambda s: s.id)
def test_scenario_id_title_and_quote(scen: Scenario) -> None:
    assert SCENARIO_ID.fullmatch(scen.id), scen.id
    assert scen.title and "\n" not in scen.title
    assert scen.verifies, f"{scen.id} verifies nothing"
    texts = [t for v in scen.verifies for t in _texts(v)]
    assert any(scen.quote in t for t in texts), \
        f"{scen.id}: the quote is not the words of any spec ID it verifies"


@pytest.mark.parametrize("scen", SCENARIOS, ids=lambda s: s.id)
def test_level_is_the_level_of_what_it_checks(scen: Scenario) -> None:
    """A SHOULD check in a MUST scenario would fail a conforming run; the reverse would hide a
    MUST failure as a warning. Guide items have no level: the guide promises them (MUST)."""
    levels = {SPEC.requirement(v).level for v in scen.verifies
              if v in {r.id for r in SPEC.requirements}}
    assert levels <= {scen.level.value}, f"{scen.id} mixes levels {levels}"
    if not levels:
        assert scen.level is Level.MUST


@pytest.mark.parametrize("scen", SCENARIOS, ids=lambda s: s.id)
def test_needs_are_declared(scen: Scenario) -> None:
    """A scenario that moves the clock or uses passkeys outright says so, so a deployment run
    reports it not applicable instead of failing half-way."""
    source = inspect.getsource(scen.run)
    if "advance_clock" in source and "Needs.CLOCK not in ctx.capabilities" not in source:
        assert Needs.CLOCK in scen.needs, scen.id
    uses_passkeys = any(word in source for word in ("ctx.passkey(", "add_passkey", "_holder("))
    guarded = 'ctx.offers("passkeys")' in source
    if uses_passkeys and not guarded:
        assert Needs.PASSKEYS in scen.needs, scen.id


def test_storage_requirements_are_read_from_the_store() -> None:
    """A storage rule conforms only on what the store shows: a scenario behind it reads the
    store. One that watches behaviour instead (codes shown again) can fail it; where the store
    cannot be read, its pass leaves the rule partly verified (test_report_partial)."""
    store = {Needs.INSPECT, Needs.PASSWORD_STORE}  # the store, or the password as the owner's
    for req_id in INSPECTED:                        # pages show it (inspection implies that)
        behind = [s for s in SCENARIOS if req_id in s.verifies]
        assert any(store & set(s.needs) for s in behind), req_id
    for scen in SCENARIOS:
        uses = any(w in inspect.getsource(scen.run) for w in ("stored_credentials", "audit_log"))
        assert not uses or Needs.INSPECT in scen.needs, scen.id
        shows = "stored_password" in inspect.getsource(scen.run)
        assert not shows or Needs.PASSWORD_STORE in scen.needs, scen.id


def test_counts_per_module() -> None:
    """A catalogue worth the name: most sections have several scenarios."""
    per_module: dict[str, int] = {}
    for scen in SCENARIOS:
        per_module[scen.module] = per_module.get(scen.module, 0) + 1
    assert sum(per_module.values()) == len(CATALOGUE) >= 60
