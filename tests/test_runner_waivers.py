"""Waivers: a waived failure passes the run, a waived pass says so, a reason is required."""

from __future__ import annotations

from pathlib import Path

import pytest
from runner_support import ReplayingClinic, memory_of, run_here

from clinic2fa.scenarios.errors import UsageError
from clinic2fa.scenarios.running import waivers


def waiver_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "waivers.toml"
    path.write_text(text, encoding="utf-8")
    return path


REPLAY_WAIVED = '[[waiver]]\nscenario = "T-REPLAY"\nreason = "CLIN-42: replay fix ships in 4.2"\n'


def test_a_waived_failure_does_not_fail_the_run(tmp_path: Path) -> None:
    done = run_here(tmp_path, provider=memory_of(ReplayingClinic),
                    waivers=waiver_file(tmp_path, REPLAY_WAIVED))
    assert done.code == 0, done.out
    scen = next(s for s in done.report()["scenarios"] if s["id"] == "T-REPLAY")
    assert scen["outcome"] == "waived_fail" and not scen["blocking"]
    assert scen["waiver"] == "CLIN-42: replay fix ships in 4.2"
    assert "CLIN-42" in scen["message"]
    requirement = next(r for r in done.report()["requirements"] if r["id"] == "TOTP-REPLAY")
    assert requirement["verdict"] == "does_not_conform"  # waived, but still not conforming
    assert "WAIVED " in done.out


def test_a_waived_scenario_that_passes_is_reported(tmp_path: Path) -> None:
    done = run_here(tmp_path, waivers=waiver_file(tmp_path, REPLAY_WAIVED))
    assert done.code == 0
    scen = next(s for s in done.report()["scenarios"] if s["id"] == "T-REPLAY")
    assert scen["outcome"] == "waived_pass"
    assert scen["message"] == "waived but passed: remove the waiver"
    assert "waived but passed: remove the waiver" in done.out
    assert done.report()["summary"]["waived_pass"] == 1


@pytest.mark.parametrize(("text", "expected"), [
    ('[[waiver]]\nscenario = "T-REPLAY"\n', "waiver for T-REPLAY has no reason"),
    ('[[waiver]]\nscenario = "T-REPLAY"\nreason = "  "\n', "has no reason"),
    ('[[waiver]]\nscenario = "T-NOPE"\nreason = "x"\n', "waiver for unknown scenario T-NOPE"),
    ('[[waiver]]\nreason = "x"\n', "waiver #1 names no scenario"),
    ('[[waiver]]\nscenario = "T-REPLAY"\nreason = "x"\nexpires = 1\n', "unknown field"),
    ('[[waiver]]\nscenario = "T-REPLAY"\nreason = "x"\n' * 2, "T-REPLAY is waived twice"),
    ("[[waiver]\n", "invalid TOML"),
    ('waivers = ["T-REPLAY"]\n', "unexpected key 'waivers'"),
])
def test_bad_waivers_are_usage_errors(tmp_path: Path, text: str, expected: str) -> None:
    done = run_here(tmp_path, waivers=waiver_file(tmp_path, text))
    assert done.code == 2
    assert expected in done.err and done.err.count("\n") == 1


def test_a_missing_waivers_file_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="not found"):
        waivers.load(tmp_path / "none.toml")
