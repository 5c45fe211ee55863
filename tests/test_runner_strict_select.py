"""--strict turns a failing SHOULD from a warning into a failure; --select picks scenarios."""

from __future__ import annotations

from pathlib import Path

import pytest
from runner_support import CLOCK, REPLAY, SIGN_IN, SKEW, catalogue, memory_of, run_here

from clinic2fa import spec
from clinic2fa.scenarios.catalogue import select
from clinic2fa.scenarios.errors import UsageError

SKEW_BLIND = {"skew_horizon": 1}  # codes outside the window are "wrong", never "time skew"


def test_a_failing_should_is_a_warning_without_strict(tmp_path: Path) -> None:
    done = run_here(tmp_path, provider=memory_of(**SKEW_BLIND))
    assert done.code == 0, done.out
    scen = next(s for s in done.report()["scenarios"] if s["id"] == "T-SKEW")
    assert (scen["outcome"], scen["blocking"], scen["warning"]) == ("fail", False, True)
    assert done.report()["summary"]["warnings"] == 1
    assert "WARN" in next(x for x in done.out.splitlines() if " T-SKEW " in x)


def test_a_failing_should_fails_the_run_with_strict(tmp_path: Path) -> None:
    done = run_here(tmp_path, provider=memory_of(**SKEW_BLIND), strict=True)
    assert done.code == 1
    scen = next(s for s in done.report()["scenarios"] if s["id"] == "T-SKEW")
    assert (scen["outcome"], scen["blocking"]) == ("fail", True)
    assert done.report()["options"]["strict"] is True


@pytest.mark.parametrize(("patterns", "chosen"), [
    ([], ["T-SIGN-IN", "T-REPLAY", "T-SKEW", "T-CLOCK"]),
    (["T-REPLAY"], ["T-REPLAY"]),
    (["t-s*"], ["T-SIGN-IN", "T-SKEW"]),  # globs, any case
    (["TOTP-REPLAY"], ["T-REPLAY"]),  # a requirement ID
    (["TOTP-*"], ["T-REPLAY", "T-CLOCK"]),
    (["STEP-6"], ["T-SIGN-IN", "T-REPLAY", "T-CLOCK"]),  # a guide item, via what serves it
    (["T-SKEW", "TOTP-WINDOW"], ["T-SKEW", "T-CLOCK"]),
])
def test_select_matches_scenario_ids_and_spec_ids(patterns: list[str],
                                                  chosen: list[str]) -> None:
    picked = select(catalogue(), patterns, spec.load())
    assert [s.id for s in picked] == chosen


def test_select_with_a_dead_pattern_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="--select T-NOPE matches no scenario"):
        select(catalogue(), ["T-REPLAY", "T-NOPE"], spec.load())


def test_a_selected_run_reports_the_rest_as_not_run_in_the_matrix(tmp_path: Path) -> None:
    done = run_here(tmp_path, catalogue(SIGN_IN, REPLAY, SKEW, CLOCK), select=["T-REPLAY"])
    assert done.code == 0
    report = done.report()
    assert [s["id"] for s in report["scenarios"]] == ["T-REPLAY"]
    assert report["options"]["select"] == ["T-REPLAY"]
    window = next(r for r in report["requirements"] if r["id"] == "TOTP-WINDOW")
    assert window["scenarios"] == [{"id": "T-CLOCK", "outcome": "not_run"}]
    assert window["verdict"] == "not_verified"
    assert "[1/1] T-REPLAY" in done.out
