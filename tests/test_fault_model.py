"""The fault model: every MUST has one, each way covered by a seeded defect or a killed mutant."""

from __future__ import annotations

import argparse
import io
from pathlib import Path

import pytest

from clinic2fa import spec
from clinic2fa.scenarios.selfcheck import check as dc
from clinic2fa.scenarios.selfcheck import coverage
from clinic2fa.scenarios.selfcheck.defects import CATALOGUE, Defect
from clinic2fa.simulator.clinic import Clinic
from clinic2fa.spec import faults

SPEC = spec.load()
MUSTS = [r.id for r in SPEC.requirements if r.level == "MUST"]
ONE_WAY = '[[{id}]]\nkind = "missing_check"\nway = "the rule is not checked"\ndefects = ["x"]\n'


def _every_must(but: str = "") -> str:
    return "".join(ONE_WAY.format(id=r) for r in MUSTS if r != but)


def test_every_must_requirement_has_a_fault_model_and_no_way_is_a_gap() -> None:
    model = faults.load()
    assert set(MUSTS) <= set(model.requirements)
    rows = coverage.coverage(model)
    assert not coverage.gaps(rows), [f"{r.way.requirement}: {r.way.way} {r.problems}"
                                     for r in coverage.gaps(rows)]
    assert not [r.problems for r in rows if r.problems]
    kinds = {w.kind for w in model.ways}
    assert {"wrong_subject", "partial_cleanup", "shared_state", "one_path",
            "no_switch_back", "wrong_order"} <= kinds  # the kinds, all modelled


def test_the_one_sided_rules_are_modelled_from_their_other_side() -> None:
    """Another user's factor, an old enrolment's leftovers, per-user counters, switching back."""
    ways = {(w.requirement, w.kind) for w in faults.load().ways}
    assert {("SIGNIN-SECOND-STEP", "wrong_subject"), ("DISABLE-REAUTH", "partial_cleanup"),
            ("ADMIN-DISABLE-ENDS-SESSIONS", "partial_cleanup"),
            ("TOTP-RATE-LIMIT", "shared_state"), ("TOTP-REPLAY", "shared_state"),
            ("ENFORCE-OWNER-ONLY", "no_switch_back")} <= ways


@pytest.mark.parametrize(("text", "message"), [
    (_every_must() + ONE_WAY.format(id="NO-SUCH-RULE"), "'NO-SUCH-RULE' is no requirement"),
    (_every_must(but="TOTP-REPLAY"), "MUST requirement TOTP-REPLAY has no fault model"),
    (_every_must().replace('"missing_check"', '"bad_luck"', 1), "kind 'bad_luck' is not one"),
    (_every_must().replace('defects = ["x"]', 'defects = ["x"]\nwho = "me"', 1),
     "unknown field 'who'"),
    (_every_must().replace('"the rule is not checked"', '" "', 1), "way must be a non-empty"),
    (_every_must().replace('["x"]', '["x", "x"]', 1), "defects names one twice"),
    ("TOTP-STEP = 1\n", "must be an array of tables"),
    ("[[TOTP-STEP]\n", "not valid TOML"),
])
def test_a_bad_fault_model_is_one_line_naming_the_problem(text: str, message: str) -> None:
    with pytest.raises(spec.SpecError, match=message):
        faults.parse(text, SPEC)


def test_a_way_is_covered_only_by_a_defect_of_its_rule_or_a_killed_mutant() -> None:
    model = faults.FaultModel((
        faults.Way("TOTP-REPLAY", "missing_check", "replayed", ("totp-replay",)),
        faults.Way("TOTP-REPLAY", "missing_check", "another rule's defect", ("no-window",)),
        faults.Way("TOTP-REPLAY", "missing_check", "unknown", ("no-such-defect",)),
        faults.Way("TOTP-REPLAY", "wrong_time", "a mutant", (), ("m1", "m2")),
        faults.Way("TOTP-REPLAY", "wrong_time", "nothing at all"),
    ))
    rows = coverage.coverage(model, killed=frozenset({"m1"}))
    assert [r.gap for r in rows] == [False, True, True, False, True]
    assert rows[1].problems == ("no-window does not violate TOTP-REPLAY",)
    assert rows[2].problems == ("no defect no-such-defect",)
    assert rows[3].mutants == ("m1",) and rows[3].problems == ("mutant m2 not killed",)
    shown = coverage.shown(rows)
    assert shown[0][3] == "totp-replay" and shown[3][3].startswith("mutant m1")
    assert shown[4][3] == "GAP: nothing covers this way"
    assert coverage.totals(rows) == "fault model: 5 ways over 1 requirements, 3 gaps"


def test_clinic2fa_defects_lists_the_coverage_per_requirement_and_a_gap_as_gap(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    parser = argparse.ArgumentParser()
    dc.add_arguments(parser)

    def listed() -> str:
        out = io.StringIO()
        assert dc.command(parser.parse_args(["--report-dir", str(tmp_path)]), out) == 0
        return out.getvalue()

    text = listed()
    assert "requirement" in text and "covered by" in text
    assert "TOTP-REPLAY" in text and "replay-state-shared-by-users" in text
    assert text.rstrip().endswith("0 gaps") and "GAP" not in text
    monkeypatch.setitem(CATALOGUE, "totp-replay", Defect(
        "totp-replay", ("TOTP-WINDOW",), "now breaking another rule", Clinic))
    assert "GAP: nothing covers this way  (totp-replay does not violate TOTP-REPLAY)" in listed()
