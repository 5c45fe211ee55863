"""`--target python:MODULE:FACTORY`: a developer's own implementation, in this process.

The worked example (examples/python-target: ToothDesk, on the system clock) passes the suite,
clock scenarios included, because the harness moves its clock with freezegun; a ToothDesk whose
pending sign-ins never expire fails the scenario that needs the clock moved.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from runner_support import run_here

from clinic2fa.scenarios.errors import UsageError
from clinic2fa.scenarios.targets import python as python_target

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "python-target"
TARGET = f"python:{EXAMPLE / 'clinic2fa_target.py'}:make_target"
CLOCK_SCENARIOS = ("SIGNIN-PENDING-EXPIRES", "TOTP-RATE-LIMIT-LOCKOUT-ENDS")


@pytest.fixture
def example(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(EXAMPLE))


def run_python(tmp_path: Path, target: str = TARGET, **options: object):  # type: ignore[no-untyped-def]
    from clinic2fa.scenarios import catalogue

    return run_here(tmp_path, catalogue.load(), target=target, **options)


@pytest.mark.usefixtures("example")
def test_the_example_passes_the_suite_clock_scenarios_included(tmp_path: Path) -> None:
    done = run_python(tmp_path)
    assert done.code == 0, done.out + done.err
    outcomes = done.outcomes()
    assert all(outcomes[s] == "pass" for s in CLOCK_SCENARIOS), outcomes
    failing = {s: o for s, o in outcomes.items() if o not in ("pass", "not_applicable")}
    assert not failing, failing
    report = done.report()
    assert report["target"]["kind"] == "python" and report["target"]["reference"] is False
    assert report["target"]["description"] == "your implementation, in this process"
    assert report["clock"]["source"] == "freezegun"
    assert "clock" in report["target"]["capabilities"]  # the harness lends it one
    assert "your implementation, in this process" in done.out
    assert "(reference)" not in done.out and "memory" not in report["target"]["name"]


@pytest.mark.usefixtures("example")
def test_frozen_time_really_moves_a_pending_sign_in_that_never_expires_fails(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import toothdesk.desk

    monkeypatch.setattr(toothdesk.desk, "PENDING_TTL", 10**9)
    done = run_python(tmp_path, select=list(CLOCK_SCENARIOS), strict=True)  # a SHOULD rule
    assert done.code == 1
    assert done.outcomes() == {"SIGNIN-PENDING-EXPIRES": "fail",
                               "SIGNIN-PENDING-EXPIRES-DECLARED": "pass",
                               "TOTP-RATE-LIMIT-LOCKOUT-ENDS": "pass"}


@pytest.mark.usefixtures("example")
def test_the_timing_check_times_a_frozen_clock_target_on_real_time(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # freezegun freezes time.perf_counter too: timed by it, every sign-in took 0 ms and a
    # ToothDesk that skips the hash for an unknown email passed SIGNIN-NO-ENUMERATION.
    import toothdesk.desk as desk
    from argon2 import PasswordHasher

    monkeypatch.setattr(desk, "HASHER", PasswordHasher(time_cost=1, memory_cost=2048,
                                                       parallelism=1))  # a few ms: plain to see
    checks = desk._hash_ok
    monkeypatch.setattr(desk, "_hash_ok", lambda stored, typed: stored != desk.NOBODY and
                        checks(stored, typed))  # an unknown email answered without the work
    done = run_python(tmp_path, select=["SIGNIN-NO-ENUMERATION-TIMING"], strict=True)
    assert done.outcomes() == {"SIGNIN-NO-ENUMERATION-TIMING": "fail"}, done.out


RACES = ("RACE-LOCKOUT-COUNTS-EVERY-FAILURE", "RACE-TOTP-CODE-ONCE")


@pytest.mark.usefixtures("example")
def test_a_race_burst_meets_at_the_door_so_it_overlaps_however_loaded(tmp_path: Path) -> None:
    # ToothDesk answers in microseconds: timed by the calls' own start and end, a loaded machine
    # answered the first before it started the last, and the race was inconclusive.
    done = run_python(tmp_path, select=list(RACES))
    assert done.code == 0, done.out + done.err
    for scenario in done.report()["scenarios"]:
        bursts = [e["text"] for e in scenario["trace"] if "requests overlapped" in e["text"]
                  or "requests did not overlap" in e["text"]]
        assert bursts and all("at most 20 in flight at once, every one sent before the first "
                              "answer came back" in b and "(as the target saw them)" in b
                              for b in bursts), bursts


def test_an_implementation_with_its_own_clock_uses_it(tmp_path: Path) -> None:
    done = run_python(tmp_path, "python:clinic2fa.scenarios.targets.memory:MemoryTarget",
                      select=list(CLOCK_SCENARIOS))
    assert done.code == 0, done.out + done.err
    assert done.report()["clock"]["source"] == "in-process"


class Half:
    """Half a target: sign-in only, and a capability nobody knows."""

    capabilities = frozenset({"passkeys"})

    def sign_in(self, email: str, password: str) -> None: ...


def half() -> Half:
    return Half()


class Psychic(Half):
    capabilities = frozenset({"telepathy"})


@pytest.mark.parametrize(("target", "said"), [
    ("python:nowhere_at_all:make", "cannot import nowhere_at_all"),
    ("python:tests_only", "expected python:MODULE:FACTORY"),
    ("python:clinic2fa.scenarios.targets.python:no_such_factory", "has no callable"),
    (f"python:{__name__}:half", "lacks account, enter_code"),
    (f"python:{__name__}:half", "begin_passkey_setup (for passkeys)"),
])
def test_a_target_that_breaks_the_contract_is_a_usage_error(
        tmp_path: Path, target: str, said: str) -> None:
    done = run_python(tmp_path, target)
    assert done.code == 2 and said in done.err, done.err


def test_an_unknown_capability_is_named() -> None:
    with pytest.raises(UsageError, match="unknown capability 'telepathy'"):
        python_target.declared(Psychic(), "python:x:psychic")
