"""Conforms claims only what was seen: a spec item with a scenario the target could not run is
not verified, partly, and the report says which passed and which could not run; a scenario
made not applicable by the deployment's declared choice is neutral."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from report_validation import problems

from clinic2fa.scenarios import catalogue
from clinic2fa.scenarios.core.verdicts import Outcome, ScenarioResult
from clinic2fa.scenarios.reports import document
from clinic2fa.scenarios.reports.html import render

CATALOGUE = catalogue.load()
ONCE, RACE = "BACKUP-SINGLE-USE-ONCE", "RACE-BACKUP-CODE-ONCE"  # BACKUP-SINGLE-USE's two


def report(*results: ScenarioResult) -> dict[str, Any]:
    run = document.RunRecord(target="browser+http://localhost:1", target_kind="browser+http",
                             reference=False, capabilities=[], clock=None,
                             catalogue=CATALOGUE, selected=[r.scenario for r in results],
                             results=list(results))
    built = document.build(run)
    assert problems(built) == []
    return built


def result(scenario_id: str, outcome: Outcome, *, binds: bool = True) -> ScenarioResult:
    return ScenarioResult(CATALOGUE[scenario_id], outcome, binds=binds)


def requirement(built: dict[str, Any], spec_id: str) -> dict[str, Any]:
    return next(r for r in built["requirements"] if r["id"] == spec_id)


def test_every_scenario_passed_conforms() -> None:
    item = requirement(report(result(ONCE, Outcome.PASS), result(RACE, Outcome.PASS)),
                       "BACKUP-SINGLE-USE")
    assert (item["verdict"], "verdict_kind" in item, "partial" in item) == \
        ("conforms", False, False)


@pytest.mark.parametrize("left", [Outcome.NOT_APPLICABLE, Outcome.UNSUPPORTED,
                                  Outcome.INCONCLUSIVE, Outcome.CONFIG_EXHAUSTED, Outcome.ERROR,
                                  None])
def test_a_scenario_left_undecided_for_the_target_s_reasons_leaves_it_partly_verified(
        left: Outcome | None) -> None:
    results = [result(ONCE, Outcome.PASS)] + ([result(RACE, left)] if left else [])
    built = report(*results)
    item = requirement(built, "BACKUP-SINGLE-USE")
    assert (item["verdict"], item["verdict_kind"]) == ("not_verified", "partial")
    assert item["partial"] == {"passed": [ONCE], "could_not_run": [RACE]}
    step = next(g for g in built["guide_items"] if g["id"] == "STEP-5")  # served by it
    assert step["verdict_kind"] == "partial" and RACE in step["partial"]["could_not_run"]


def test_a_declared_choice_that_removes_the_rule_s_object_is_neutral() -> None:
    built = report(result(ONCE, Outcome.PASS),
                   result(RACE, Outcome.NOT_APPLICABLE, binds=False))
    item = requirement(built, "BACKUP-SINGLE-USE")
    assert item["verdict"] == "conforms" and "partial" not in item
    assert {"id": RACE, "outcome": "not_applicable", "binds": False} in item["scenarios"]
    alone = requirement(report(result(RACE, Outcome.NOT_APPLICABLE, binds=False)),
                        "BACKUP-SINGLE-USE")
    assert alone["verdict"] == "not_verified" and "verdict_kind" not in alone  # nothing seen


def test_a_failure_is_reported_whatever_could_not_run() -> None:
    item = requirement(report(result(ONCE, Outcome.FAIL), result(RACE, Outcome.NOT_APPLICABLE)),
                       "BACKUP-SINGLE-USE")
    assert (item["verdict"], item["verdict_kind"]) == ("does_not_conform", "fail")


def test_the_headline_and_the_page_say_what_was_partly_seen(tmp_path: Path) -> None:
    built = report(result(ONCE, Outcome.PASS), result(RACE, Outcome.NOT_APPLICABLE))
    partly = sum(e.get("verdict_kind") == "partial"
                 for e in (*built["guide_items"], *built["requirements"]))
    unverified = built["spec_summary"]["not_verified"]
    assert partly >= 2  # BACKUP-SINGLE-USE and STEP-5 at least
    assert f"; {unverified} not verified ({partly} of them partly: some checks could not run " \
           "on this target)" in built["headline"]
    page = render(built, tmp_path)
    assert f"partly: passed {ONCE}; could not run here {RACE}" in page


def test_behaviour_alone_never_makes_a_storage_rule_conform() -> None:
    # the browser cannot read the store: codes not shown again is a pass, not what is kept
    built = report(result("BACKUP-HASHED-NOT-READ-BACK", Outcome.PASS),
                   result("BACKUP-HASHED-STORAGE", Outcome.NOT_APPLICABLE))
    item = requirement(built, "BACKUP-HASHED")
    assert (item["verdict"], item["verdict_kind"]) == ("not_verified", "partial")
    shown_again = report(result("BACKUP-HASHED-NOT-READ-BACK", Outcome.FAIL),
                         result("BACKUP-HASHED-STORAGE", Outcome.NOT_APPLICABLE))
    assert requirement(shown_again, "BACKUP-HASHED")["verdict"] == "does_not_conform"
