"""The checks can fail: per guide item, a reference broken in that promise fails its scenario."""

from __future__ import annotations

import pytest
from memory_support import CATALOGUE, memory, run_body

from clinic2fa import spec
from clinic2fa.scenarios.core.context import NonConformance
from clinic2fa.scenarios.selfcheck import defects
from clinic2fa.simulator.policy import FAST_HASH

# Each guide item, the seeded defect (scenarios/selfcheck/defects/) breaking it, its scenario.
BROKEN: list[tuple[str, str, str]] = [
    ("STEP-1", "security-always-on", "STEP-1-SECURITY-SETTINGS"),
    ("STEP-2", "no-manual-entry", "STEP-2-SETUP-SCREEN"),
    ("STEP-3", "qr-other-issuer", "STEP-3-SCAN-QR"),
    ("STEP-4", "confirm-any-code", "STEP-4-CONFIRM-ENROLMENT"),
    ("STEP-5", "too-few-backup-codes", "STEP-5-BACKUP-CODES"),
    ("STEP-6", "second-step-skipped", "STEP-6-SIGN-IN-TEST"),
    ("STEP-7", "passkey-never-signs-in", "STEP-7-ADD-PASSKEY"),
    ("STEP-8", "enforcement-not-forcing", "STEP-8-ENFORCE"),
    ("OUTCOME-1", "remembers-devices", "OUTCOME-1-EVERY-SIGN-IN"),
    ("OUTCOME-2", "backup-codes-refused", "OUTCOME-2-BACKUP-CODE"),
    ("OUTCOME-3", "owner-cannot-enforce", "OUTCOME-3-CLINIC-WIDE"),
    ("TROUBLE-1", "manual-secret-mismatch", "TROUBLE-1-MANUAL-ENTRY"),
    ("TROUBLE-2", "window-too-wide", "TROUBLE-2-SYNC-CLOCK"),
    ("TROUBLE-3", "admin-disable-keeps-factors", "TROUBLE-3-LOST-PHONE"),
    ("TROUBLE-4", "disable-without-password", "TROUBLE-4-DISABLE"),
    ("TROUBLE-5", "same-secret-on-retry", "TROUBLE-5-RETRY-SETUP"),
]

# Rules a catalogue defect breaks one way, and the other ways to break them, each its own defect.
OTHER_WAYS: list[tuple[str, str]] = [
    ("passkey-user-verification-ignored", "PASSKEY-USER-VERIFICATION-REQUIRED"),
    ("shared-salt", "PASSWORD-HASH-STORAGE"),
    ("shared-salt", "BACKUP-HASHED-STORAGE"),
    ("admin-disable-unrecorded", "AUDIT-LOG-RECORDED"),
    ("skew-horizon-wider", "SKEW-REASON-HORIZON"),
]


def test_every_guide_item_has_a_broken_variant() -> None:
    assert sorted(item for item, _, _ in BROKEN) == sorted(i.id for i in spec.load().guide_items)
    for item, name, scenario_id in BROKEN:
        assert item in CATALOGUE[scenario_id].verifies
        assert name in defects.CATALOGUE


@pytest.mark.parametrize(("item", "name", "scenario_id"), BROKEN, ids=[b[0] for b in BROKEN])
def test_broken_variant_fails_the_items_scenario(item: str, name: str, scenario_id: str) -> None:
    """The clean reference passes the same scenario (test_scenarios_memory)."""
    with pytest.raises(NonConformance):
        run_body(scenario_id, memory(name, hash_cost=FAST_HASH))


@pytest.mark.parametrize(("name", "scenario_id"), OTHER_WAYS,
                         ids=[f"{n}-{s}" for n, s in OTHER_WAYS])
def test_other_ways_to_break_a_rule_fail_its_scenario(name: str, scenario_id: str) -> None:
    """The catalogue's storage defects store in plain, its passkey ones skip a check; these
    break the rest of each rule (a shared salt, an unrecorded admin disable, UV not checked)."""
    assert set(defects.CATALOGUE[name].violates) & set(CATALOGUE[scenario_id].verifies)
    with pytest.raises(NonConformance):
        run_body(scenario_id, memory(name, hash_cost=FAST_HASH))
