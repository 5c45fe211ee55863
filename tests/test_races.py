"""Race scenarios: the reference holds under real parallel requests; no-locking fails each."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from functools import partial
from typing import Any

import pytest
from fastapi import FastAPI

from clinic2fa.scenarios import catalogue
from clinic2fa.scenarios.catalogue import races
from clinic2fa.scenarios.contract import Refused, SignInResult
from clinic2fa.scenarios.core import parallel
from clinic2fa.scenarios.core.model import Needs, Scenario
from clinic2fa.scenarios.core.verdicts import Outcome, ScenarioResult
from clinic2fa.scenarios.running.execute import run_scenario
from clinic2fa.scenarios.selfcheck import defects
from clinic2fa.scenarios.selfcheck.defects.backup_codes import BackupCodeReusable
from clinic2fa.scenarios.targets.config import TargetConfig
from clinic2fa.scenarios.targets.http import HttpProvider
from clinic2fa.scenarios.targets.memory import MemoryProvider, MemoryTarget
from clinic2fa.scenarios.targets.traffic import is_loopback, may_flood
from clinic2fa.simulator.clinic import Clinic
from clinic2fa.simulator.clock import FakeClock
from clinic2fa.simulator.errors import TwoFactorError
from clinic2fa.simulator.policy import FAST_HASH, Policy
from clinic2fa.simulator.web.app import create_app
from clinic2fa.simulator.web.server import listen, public_origin, running

RACES = [s for s in catalogue.load().values() if s.module == "clinic2fa.scenarios.catalogue.races"]
IDS = [s.id for s in RACES]
BACKUP_RACE = next(s for s in RACES if s.id == "RACE-BACKUP-CODE-ONCE")
SECOND_REQUEST_RACES = {"RACE-BACKUP-REGENERATE", "RACE-ADMIN-RESET-ENDS-SESSIONS"}
# no-locking's regeneration and a second step's write-back meet in either order (with quick
# hashes the list is always replaced before the second steps read it), so its verdict there
# would be a coin's: this race is proven on the reference's mutants instead (mutation/).
NO_LOCKING_RACES = [s for s in RACES if s.id != "RACE-BACKUP-REGENERATE"]


def test_each_race_scenario_is_tied_to_its_requirement_and_the_defect() -> None:
    tied = {s.id: set(s.verifies) for s in RACES}
    assert tied == {"RACE-BACKUP-CODE-ONCE": {"BACKUP-SINGLE-USE"},
                    "RACE-TOTP-CODE-ONCE": {"TOTP-REPLAY"},
                    "RACE-LOCKOUT-COUNTS-EVERY-FAILURE": {"TOTP-RATE-LIMIT"},
                    "RACE-SETUP-ONE-PENDING-SECRET": {"SETUP-FRESH-SECRET"},
                    "RACE-BACKUP-REGENERATE": {"BACKUP-REGENERATE"},
                    "RACE-ADMIN-RESET-ENDS-SESSIONS": {"ADMIN-DISABLE-ENDS-SESSIONS"},
                    "RACE-PASSKEY-SIGN-COUNT": {"PASSKEY-SIGN-COUNT"},
                    "RACE-PASSKEY-CHALLENGES": {"PASSKEY-CHALLENGE"}}
    caught = {s.id for s in NO_LOCKING_RACES}
    assert set().union(*(v for k, v in tied.items() if k in caught)) == set(
        defects.CATALOGUE["no-locking"].violates)
    assert all(Needs.PARALLEL in s.needs for s in RACES)


# -- over HTTP: the server as `clinic2fa serve` runs it, its endpoints in a thread pool ----------


def _app(kind: type[Clinic], threads: int | None = None) -> tuple[FastAPI, socket.socket]:
    """The app and the socket it is served on, known first: the passkeys' origin names it;
    `app.state.made` lists the clinics it makes (each scenario's test clinic)."""
    sock = listen()
    origin, rp_id = public_origin("localhost", sock.getsockname()[1])
    clinic = kind(clock=FakeClock(time.time()), policy=Policy(hash_cost=FAST_HASH),
                  rp_id=rp_id, origin=origin)
    app = create_app(clinic, test_support=True, threads=threads)
    fresh, app.state.made = app.state.fresh_clinic, []

    def recorded(**how: Any) -> Clinic:
        made = fresh(**how)
        app.state.made.append(made)
        return made

    app.state.fresh_clinic = recorded
    return app, sock


def _meetings(app: FastAPI) -> int:
    """Requests met inside a clinic, in the clinics made so far."""
    return sum(c.gap.meetings for c in app.state.made)


@pytest.fixture(scope="module")
def reference() -> Iterator[str]:
    app, sock = _app(Clinic)
    with running(app, sock=sock) as url:
        yield url


@pytest.fixture(scope="module")
def broken() -> Iterator[tuple[str, FastAPI]]:
    app, sock = _app(defects.NoLocking)
    with running(app, sock=sock) as url:
        yield url, app


def _run(scen: Scenario, url: str) -> tuple[Outcome, str]:
    provider = HttpProvider(url, None)
    provider.open()
    try:
        assert Needs.PARALLEL in provider.capabilities  # a server on loopback
        result = run_scenario(scen, provider)
    finally:
        provider.close()
    return result.outcome, result.message


@pytest.mark.parametrize("scen", RACES, ids=IDS)
def test_passes_on_the_reference_over_http(scen: Scenario, reference: str) -> None:
    assert _run(scen, reference) == (Outcome.PASS, "")


@pytest.mark.parametrize("scen", NO_LOCKING_RACES, ids=lambda s: s.id)
def test_fails_on_no_locking_over_http(scen: Scenario, broken: tuple[str, FastAPI]) -> None:
    """Caught over HTTP only if two requests were inside the clinic at once: proof that the
    server runs its endpoints on more than one thread."""
    url, app = broken
    outcome, message = _run(scen, url)
    assert outcome is Outcome.FAIL, message
    assert _meetings(app) > 0  # in the scenario's own test clinic


def test_one_worker_thread_hides_the_race() -> None:
    """The control: with one thread the same defect passes, since requests never overlap."""
    scen = next(s for s in RACES if s.id == "RACE-BACKUP-CODE-ONCE")
    app, sock = _app(defects.NoLocking, threads=1)
    with running(app, sock=sock) as url:
        assert _run(scen, url) == (Outcome.PASS, "")
        assert app.state.made and _meetings(app) == 0


# -- in memory: threads against the in-process clinic -------------------------------------------


@pytest.mark.parametrize(("scen", "kind"), [
    *((s, Clinic) for s in RACES), *((s, defects.NoLocking) for s in NO_LOCKING_RACES)],
    ids=lambda p: p.id if isinstance(p, Scenario) else ("no-locking" if p is not Clinic
                                                        else "reference"))
def test_in_memory_with_threads(scen: Scenario, kind: type[Clinic]) -> None:
    def make() -> MemoryTarget:
        clock = FakeClock()
        return MemoryTarget(kind(clock=clock, policy=Policy(hash_cost=FAST_HASH)), clock)

    result = run_scenario(scen, MemoryProvider(make=make))
    expected = Outcome.PASS if kind is Clinic else Outcome.FAIL
    assert result.outcome is expected, result.message


# -- the evidence: a pass says the requests overlapped; without overlap, inconclusive -----------


def _evidence(result: ScenarioResult) -> list[str]:
    return [e.text for e in result.trace.entries if e.kind == "note" and "overlap" in e.text]


@pytest.mark.parametrize("scen", RACES, ids=IDS)
def test_a_pass_shows_that_the_requests_overlapped(scen: Scenario) -> None:
    result = run_scenario(scen, MemoryProvider())
    assert result.outcome is Outcome.PASS, result.message
    evidence = _evidence(result)
    if scen.id in SECOND_REQUEST_RACES:  # each call's last request follows another (a password)
        rounds = races.REGENERATE_ROUNDS if "REGENERATE" in scen.id else races.RESET_ROUNDS
        last = evidence[-rounds:]  # the attempt that passed: one round raced the first request
        assert last and any("requests overlapped" in e for e in last), last
    else:
        assert evidence
        assert "overlapped: at most 20 in flight at once, every one sent" in evidence[-1]
    assert result.trace.entries[-1].text.startswith("evidence of a race")


class OneAtATime(MemoryTarget):
    """Lets a request in only once the one before it was answered: nothing ever overlaps."""

    gate = threading.Lock()

    def _serially(self, call: Callable[[], Any]) -> Any:
        with self.gate:
            sent = time.monotonic()
            try:
                return call()
            except TwoFactorError as err:
                raise Refused(err.code.value, err.reason.value if err.reason else None) from None
            finally:
                parallel.exchanged(sent, time.monotonic())

    def use_backup_code(self, session: str, code: str) -> SignInResult:
        done = self._serially(lambda: self.clinic.use_backup_code(session, code))
        return SignInResult(done.token, done.stage.value)


def _one_at_a_time(kind: type[Clinic]) -> MemoryProvider:
    def make() -> MemoryTarget:
        clock = FakeClock()
        return OneAtATime(kind(clock=clock, policy=Policy(hash_cost=FAST_HASH)), clock)

    return MemoryProvider("memory+serial", make)


def test_requests_that_never_overlapped_are_inconclusive_never_a_pass() -> None:
    result = run_scenario(BACKUP_RACE, _one_at_a_time(Clinic))
    assert result.outcome is Outcome.INCONCLUSIVE, result.message
    assert f"never all overlapped in {races.ATTEMPTS} attempt(s)" in result.message
    assert "at most 1 in flight at once, 19 sent only after the first answer" in result.message
    assert len(_evidence(result)) == races.ATTEMPTS  # each burst tried, each one's evidence


def test_a_rule_broken_without_overlap_still_fails() -> None:
    result = run_scenario(BACKUP_RACE, _one_at_a_time(BackupCodeReusable))
    assert result.outcome is Outcome.FAIL, result.message
    assert "parallel uses of one backup code signed in" in result.message


def test_overlap_is_half_the_burst_sent_before_the_first_answer() -> None:
    def burst(*times: tuple[float, float]) -> parallel.Overlap:
        return parallel.overlap([parallel.Outcome(sent=s, answered=a, on_the_wire=True)
                                 for s, a in times])

    every = burst((0.0, 0.5), (0.1, 0.3), (0.2, 0.4))
    assert every.overlapped and every.in_flight == 3 and every.late == 0
    assert "every one sent before the first answer came back" in str(every)
    half = burst((0.0, 0.3), (0.1, 0.2), (0.25, 0.4), (0.35, 0.5))
    assert half.overlapped and half.in_flight == 2 and half.late == 2
    # a server answering in milliseconds: the first is answered before the rest are sent,
    # which then queue (many in flight, yet each met a server done with the one before)
    queued = burst((0.0, 0.02), (0.1, 1.0), (0.15, 1.0), (0.2, 1.0), (0.25, 1.0))
    assert queued.in_flight == 4 and queued.late == 4 and not queued.overlapped
    serial = burst((0.0, 0.1), (0.1, 0.2), (0.2, 0.3))  # each sent as the one before answered
    assert not serial.overlapped and serial.in_flight == 1
    assert str(serial).startswith("the 3 requests did not overlap: at most 1 in flight at once")
    assert not burst((0.0, 0.1)).overlapped  # one request races nothing


def test_a_race_against_the_first_request_needs_one_beside_it() -> None:
    """A reset (the first request) sent once the others were answered raced nothing, however
    much the others overlapped each other."""
    def burst(*times: tuple[float, float]) -> parallel.Overlap:
        return parallel.overlap([parallel.Outcome(sent=s, answered=a, on_the_wire=True)
                                 for s, a in times], against_first=True)

    alone = burst((0.55, 0.58), (0.0, 0.5), (0.05, 0.52), (0.1, 0.54))
    assert alone.beside_first == 0 and not alone.overlapped  # the others overlapped, not it
    assert "0 of the others in flight while the first one was" in str(alone)
    met = burst((0.0, 0.3), (0.3, 0.5), (0.35, 0.6), (0.2, 0.7))  # the rest sent late: still
    assert met.overlapped and met.beside_first == 1  # one in flight with it (the one sent as
    # it was answered is not)
    assert parallel.overlap([parallel.Outcome(sent=0.0, answered=0.1)] * 2).beside_first is None
    bursts = races.Bursts(None)  # type: ignore[arg-type] # an attempt's evidence, no sending
    bursts.seen = [alone, alone]
    assert not bursts.overlapped and bursts.weakest() is alone  # the reset never met a use
    bursts.seen = [alone, met]
    assert bursts.overlapped  # in one of its rounds the reset raced the uses


def test_the_http_target_times_each_request_on_the_wire(reference: str) -> None:
    provider = HttpProvider(reference, None)
    provider.open()
    try:
        target = provider.target()
        outcomes = parallel.together([partial(target.profile, "nobody")] * 3)
    finally:
        provider.close()
    assert all(o.on_the_wire and o.refusal is not None for o in outcomes)
    assert all(0 < o.sent < o.answered for o in outcomes)


# -- where parallel traffic may go ---------------------------------------------------------------


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1", "127.8.9.10", "::1", "[::1]",
                                  "app.localhost"])
def test_loopback_by_name_or_address(host: str) -> None:
    assert is_loopback(host)


@pytest.mark.parametrize("host", ["clinic.example", "10.0.0.5", "192.168.1.2", "8.8.8.8",
                                  "localhost.example", "::2"])
def test_not_loopback(host: str) -> None:
    assert not is_loopback(host)


def test_parallel_traffic_only_to_loopback_or_a_host_the_config_names() -> None:
    named = TargetConfig(hosts=("clinic.test.example",))
    assert may_flood("http://127.0.0.1:8000", None)
    assert may_flood("http://[::1]:8000/base", None)
    assert not may_flood("https://clinic.test.example", None)
    assert may_flood("https://clinic.test.example", named)
    assert may_flood("https://CLINIC.test.example:8443", named)
    assert not may_flood("https://other.example", named)
