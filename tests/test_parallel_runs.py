"""Scenarios in parallel (-j N): the reports, verdicts and traces of a serial run, sooner."""

from __future__ import annotations

import io
import json
import re
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from runner_support import REPLAY, SIGN_IN, DroppingProvider, catalogue, failing, run_here
from runner_support import Outcome as Done

from clinic2fa.scenarios import catalogue as scenario_catalogue
from clinic2fa.scenarios.core.context import Context
from clinic2fa.scenarios.core.model import Level, Needs, Scenario
from clinic2fa.scenarios.core.verdicts import Outcome, ScenarioResult
from clinic2fa.scenarios.running.command import RunOptions, run
from clinic2fa.scenarios.running.schedule import Ahead, measures_the_target
from clinic2fa.scenarios.targets.memory import MemoryProvider
from clinic2fa.simulator.clinic import Clinic
from clinic2fa.simulator.clock import FakeClock
from clinic2fa.simulator.policy import FAST_HASH, Policy
from clinic2fa.simulator.web.app import create_app
from clinic2fa.simulator.web.server import listen, public_origin, running

# a passkey challenge, a credential ID: base64url with a capital or a digit (not a word_code)
RANDOM = re.compile(r"^(?=.*[A-Z0-9])[A-Za-z0-9_-]{16,}={0,2}$")


# a random name part (nobody-1f3a9c0e2b7d@...): hex from secrets.token_hex
HEX = re.compile(r"\b[0-9a-f]{8,}\b")
NUMBER = re.compile(r"\d+(?:\.\d+)?")
# a timing's trace depends on what its first sample measured (a second one only when the medians
# came out far apart), one serial run to the next as well: its outcome and message are compared
TIMED = {s.id for s in scenario_catalogue.load().values() if s.alone}


def _same_anywhere(value: Any) -> Any:
    """A trace detail without what is fresh in every run: random challenges, IDs and names."""
    if isinstance(value, str):
        return "<random>" if RANDOM.match(value) else HEX.sub("<hex>", value)
    if isinstance(value, dict):  # an answer's Date, length and time: when, how long its QR
        return {k: "<varies>" if k in ("date", "content-length", "seconds")  # was, how fast
                else _same_anywhere(v)
                for k, v in value.items()}
    if isinstance(value, list):
        return [_same_anywhere(v) for v in value]
    return value


def _trace(scen: dict[str, Any]) -> list[Any]:
    """The entries of a scenario's trace, in order. A race's (Needs.PARALLEL) requests are
    answered in whatever order they land, one serial run to the next as well: which one loses
    decides its refusal, its evidence notes tell how they overlapped, and it tries again until
    they did. So a race's entries but its notes, as a set, without details, numbers or words'
    order."""
    if scen["id"] in TIMED:
        return ["<sampled>"]
    if Needs.PARALLEL.value in scen["needs"]:
        return sorted({(e["kind"], tuple(sorted(set(re.findall(r"[^\W\d]+",
                                                               _wording(e["text"]))))), e["ok"])
                       for e in scen["trace"] if e["kind"] != "note"
                       and not e["text"].startswith(RETRIED)}, key=repr)
    return [(e["kind"], _wording(e["text"]), e["ok"], _same_anywhere(e["detail"]))
            for e in scen["trace"]]


# A race whose requests did not overlap is tried again with a fresh account (races.py
# until_overlapped): how many tries a burst needed depends on the machine's load, not the run.
RETRIED = "The requests did not overlap (attempt"


def _wording(text: str) -> str:
    """A step, call, note or check without its figures: what a sample measured (a timing, the
    alphabet random codes happened to show) differs one serial run to the next as well."""
    return NUMBER.sub("#", HEX.sub("<hex>", text))


def comparable(report_dir: Path) -> tuple[int, list[Any]]:
    """What a serial and a parallel run must agree on: order, verdicts, messages and traces
    (not timings)."""
    report = json.loads((report_dir / "report.json").read_text(encoding="utf-8"))
    scenarios = [
        (s["id"], s["outcome"], s["message"], s["blocking"], s["policy"], s["not_verified"],
         _trace(s))
        for s in report["scenarios"]]
    return report["exit_code"], [scenarios, report["summary"], report["spec_summary"],
                                 report["guide_items"], report["requirements"]]


def assert_same(serial: tuple[int, list[Any]], parallel: tuple[int, list[Any]]) -> None:
    """Equal, or the first scenario (and the first entry of its trace) that differs."""
    for one, other in zip(serial[1][0], parallel[1][0], strict=True):
        if one != other:
            first = next((i for i, (a, b) in enumerate(zip(one[-1], other[-1], strict=False))
                          if a != b), None)
            shown = (one[:-1], other[:-1]) if first is None else \
                (one[-1][first], other[-1][first])
            pytest.fail(f"{one[0]} differs (trace entry {first}): {shown}")
    assert serial == parallel


def whole_catalogue(report_dir: Path, **options: Any) -> Done:
    """The real catalogue on the in-memory reference (or `target=`), in this process."""
    out, err = io.StringIO(), io.StringIO()
    options.setdefault("target", "memory")
    code = run(RunOptions(report_dir=report_dir, **options), out=out, err=err)
    return Done(code, out.getvalue(), err.getvalue(), report_dir)


def test_a_parallel_run_of_the_whole_catalogue_equals_a_serial_one(tmp_path: Path) -> None:
    serial = whole_catalogue(tmp_path / "serial", jobs=1)
    parallel = whole_catalogue(tmp_path / "parallel", jobs=4)
    assert serial.code == parallel.code == 0
    assert_same(comparable(serial.report_dir), comparable(parallel.report_dir))
    # the progress lines too: one per scenario, in the catalogue's order
    lines = [re.sub(r"\s+\d+\.\d+s.*", "", line) for line in parallel.out.splitlines()
             if line.startswith("[")]
    assert lines == [re.sub(r"\s+\d+\.\d+s.*", "", line) for line in serial.out.splitlines()
                     if line.startswith("[")]
    assert len(lines) == len(serial.report()["scenarios"]) > 80


def test_over_http_a_parallel_run_of_the_whole_catalogue_equals_a_serial_one(
        tmp_path: Path) -> None:
    """The reference as `clinic2fa serve --fake-clock` runs it: each scenario in a test
    clinic of its own, so the clock scenarios move only their own clinic's clock."""
    sock = listen()
    origin, rp_id = public_origin("localhost", sock.getsockname()[1])
    clinic = Clinic(clock=FakeClock(time.time()), policy=Policy(hash_cost=FAST_HASH),
                    origin=origin, rp_id=rp_id)
    app = create_app(clinic, test_support=True)
    with running(app, sock=sock) as url:
        serial = whole_catalogue(tmp_path / "serial", target=url, jobs=1)
        parallel = whole_catalogue(tmp_path / "parallel", target=url, jobs=3)
        assert len(app.state.rooms) == 0  # every test clinic closed with its scenario
    assert serial.code == parallel.code == 0, parallel.out
    assert_same(comparable(serial.report_dir), comparable(parallel.report_dir))
    assert len(serial.report()["scenarios"]) > 80


def _blocked_until(other_started: threading.Event, mine: threading.Event) -> Scenario:
    def run(ctx: Context) -> None:
        mine.set()
        ctx.check(other_started.wait(timeout=30), "the other scenario never ran beside it")

    run.__doc__ = "Passes only while another scenario runs at the same time."
    return Scenario(f"T-BESIDE-{id(mine)}", run.__doc__, ("AUDIT-LOG",), Level.MUST, "",
                    run, (), "tests.sc_fixture")


def test_with_two_jobs_two_scenarios_run_at_once_and_report_in_order(tmp_path: Path) -> None:
    first, second = threading.Event(), threading.Event()
    a, b = _blocked_until(second, first), _blocked_until(first, second)
    done = run_here(tmp_path, {a.id: a, b.id: b}, target="memory", jobs=2)
    assert done.code == 0, done.out
    assert list(done.outcomes()) == [a.id, b.id]


def test_results_come_back_in_the_order_of_the_run_not_as_they_finish() -> None:
    release = threading.Event()
    order: list[str] = []

    def run(scenario: Scenario) -> ScenarioResult:
        if scenario is SIGN_IN:
            release.wait(timeout=30)  # the first finishes last
            order.append(scenario.id)
        else:
            order.append(scenario.id)
            release.set()
        return ScenarioResult(scenario, Outcome.PASS)

    scenarios = [SIGN_IN, REPLAY]
    ahead = Ahead([s for s in scenarios], run, 2)
    ahead.start()
    try:
        got = [ahead.result(s).scenario.id for s in scenarios]
    finally:
        ahead.close()
    assert got == ["T-SIGN-IN", "T-REPLAY"]
    assert order == ["T-REPLAY", "T-SIGN-IN"]


class _Waited(Exception):
    """A worker would wait here for the scenarios running to finish."""


class _NeverWaits(threading.Condition):
    def wait(self, timeout: float | None = None) -> bool:
        raise _Waited


def test_a_scenario_that_measures_the_target_runs_with_nothing_beside_it() -> None:
    """The scenarios before it finish first, and none starts until it has finished."""
    timing = Scenario("T-TIMING", "alone", ("AUDIT-LOG",), Level.MUST, "", lambda _: None,
                      (), "tests.sc_fixture", alone=True)
    race = Scenario("T-RACE", "a race", ("AUDIT-LOG",), Level.MUST, "", lambda _: None,
                    (Needs.PARALLEL,), "tests.sc_fixture")
    order = [SIGN_IN, timing, REPLAY, race, SIGN_IN]
    ahead = Ahead(order, lambda s: ScenarioResult(s, Outcome.PASS), 4,
                  alone=measures_the_target)
    ahead._lock = _NeverWaits()  # not started: the test takes each next scenario itself
    started = [ahead._next()]
    for alone in (timing, race):
        with pytest.raises(_Waited):  # one running: the alone one waits
            ahead._next()
        ahead._done()
        started.append(ahead._next())
        with pytest.raises(_Waited):  # it runs: nothing starts beside it
            ahead._next()
        ahead._done()
        started.append(ahead._next())
        assert started[-2] is not None and started[-2][0] is alone
    assert [s[0].id for s in started if s] == [s.id for s in order]


def test_a_target_that_drops_stops_new_scenarios_and_the_report_ends_there(
        tmp_path: Path) -> None:
    later = [failing(f"T-LATER-{n}", Level.MUST) for n in range(6)]
    done = run_here(tmp_path, catalogue(SIGN_IN, REPLAY, *later),
                    provider=DroppingProvider(alive=1), jobs=2)
    assert done.code == 3
    report = done.report()
    assert [s["id"] for s in report["scenarios"]] == ["T-SIGN-IN", "T-REPLAY"]
    assert report["scenarios"][1]["outcome"] == "error"
    assert report["summary"]["not_run"] == 6


def test_exitfirst_in_parallel_stops_where_a_serial_run_stops(tmp_path: Path) -> None:
    scenarios = catalogue(SIGN_IN, failing("T-FAILS", Level.MUST), REPLAY,
                          *[failing(f"T-LATER-{n}", Level.MUST) for n in range(4)])
    serial = run_here(tmp_path, scenarios, target="memory", jobs=1, exitfirst=True,
                      report_dir=tmp_path / "serial")
    parallel = run_here(tmp_path, scenarios, target="memory", jobs=3, exitfirst=True,
                        report_dir=tmp_path / "parallel")
    assert serial.code == parallel.code == 1
    assert_same(comparable(serial.report_dir), comparable(parallel.report_dir))
    assert list(parallel.outcomes()) == ["T-SIGN-IN", "T-FAILS"]


class OneAtATime(MemoryProvider):
    """A target that allows one scenario at a time, as a deployment does by default."""

    def max_jobs(self) -> int | None:
        return 1


def test_more_jobs_than_a_target_allows_is_a_usage_error(tmp_path: Path) -> None:
    done = run_here(tmp_path, provider=OneAtATime("memory+serial"), jobs=2)
    assert done.code == 2
    assert done.err == ("clinic2fa: -j 2: memory+serial allows 1 scenario at a time (a "
                        "deployment's config may allow more: [target] jobs)\n")


@pytest.mark.parametrize("jobs", [0, -1])
def test_jobs_below_one_is_a_usage_error(tmp_path: Path, jobs: int) -> None:
    done = run_here(tmp_path, jobs=jobs)
    assert done.code == 2 and "at least one scenario" in done.err


def test_a_target_allowing_one_at_a_time_runs_serially_by_default(tmp_path: Path) -> None:
    seen: list[str] = []
    running = threading.Lock()

    def run(ctx: Context) -> None:
        ctx.check(running.acquire(blocking=False), "two scenarios ran at once")
        try:
            seen.append(threading.current_thread().name)
        finally:
            running.release()

    scenarios = {f"T-{n}": Scenario(f"T-{n}", "one at a time", ("AUDIT-LOG",), Level.MUST, "",
                                    run, (), "tests.sc_fixture") for n in range(4)}
    done = run_here(tmp_path, scenarios, provider=OneAtATime("memory+serial"))
    assert done.code == 0, done.out
    assert set(seen) == {threading.main_thread().name}


def test_leave_worker_runs_in_each_worker_thread(tmp_path: Path) -> None:
    left: list[str] = []

    class Counting(MemoryProvider):
        def leave_worker(self) -> None:
            left.append(threading.current_thread().name)

    scenarios = catalogue(SIGN_IN, REPLAY, failing("T-X", Level.SHOULD))
    done = run_here(tmp_path, scenarios, provider=Counting("memory+count"), jobs=2)
    assert done.code == 0, done.out
    assert sorted(left) == ["clinic2fa-scenario-1", "clinic2fa-scenario-2"]


def test_a_scenario_needing_parallel_requests_still_runs_in_a_parallel_run(
        tmp_path: Path) -> None:
    """Races send their own burst of requests from inside a worker: nothing nests wrongly."""
    done = whole_catalogue(tmp_path / "races", jobs=2, select=["RACE-*"])
    assert done.code == 0, done.out
    races = done.report()["scenarios"]
    assert len(races) >= 4 and all(s["outcome"] == "pass" for s in races)
    assert all(Needs.PARALLEL.value in s["needs"] for s in races)
