"""A catch is a catch: a target that stops answering fails the scenario that was running, the run
goes on (or ends with what it has), and `defects --check` keeps a catch made before the silence."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest
from runner_support import REPLAY, SIGN_IN, ReplayingClinic, catalogue, memory_of, run_here

from clinic2fa.scenarios import catalogue as catalogue_mod
from clinic2fa.scenarios.contract import Unreachable
from clinic2fa.scenarios.core.context import Context
from clinic2fa.scenarios.core.model import Level, Scenario
from clinic2fa.scenarios.running.execute import STOPPED
from clinic2fa.scenarios.selfcheck import check as dc
from clinic2fa.scenarios.selfcheck import defects
from clinic2fa.scenarios.selfcheck.defects.backup_codes import BackupCodeReusable
from clinic2fa.scenarios.targets.config import TargetConfig
from clinic2fa.scenarios.targets.http import Client, HttpProvider
from clinic2fa.scenarios.targets.memory import MemoryProvider, MemoryTarget
from clinic2fa.simulator.clock import FakeClock
from clinic2fa.simulator.policy import FAST_HASH, Policy


def _silent(ctx: Context) -> None:
    """Signs in, then the target stops answering."""
    account = ctx.account("staff")
    ctx.target.sign_in(account.email, account.password)
    ctx.target.sign_out("any")  # the silent target raises here


SILENT = Scenario("T-SILENT", "Signs in, then the target stops answering.", ("AUDIT-LOG",),
                  Level.MUST, "Signs in, then the target stops answering.", _silent, (),
                  "tests.sc_fixture")


class SilentOnSignOut(MemoryTarget):
    """The reference with a replay bug, silent on sign-out (as a timed-out request is)."""

    def sign_out(self, session: str) -> None:
        raise Unreachable("target memory+silent unreachable: POST /api/v1/sign-out: "
                          "no answer within 10 s")


def _silent_replaying() -> MemoryTarget:
    clock = FakeClock()
    return SilentOnSignOut(ReplayingClinic(clock=clock, policy=Policy(hash_cost=FAST_HASH)),
                           clock)


def test_a_silence_mid_scenario_fails_it_with_the_timeout_in_its_trace_and_the_run_goes_on(
        tmp_path: Path) -> None:
    provider = MemoryProvider("memory+silent", _silent_replaying)
    done = run_here(tmp_path, catalogue(REPLAY, SILENT, SIGN_IN), provider=provider)
    assert done.outcomes() == {"T-REPLAY": "fail", "T-SILENT": "fail", "T-SIGN-IN": "pass"}
    report = done.report()
    silent = next(s for s in report["scenarios"] if s["id"] == "T-SILENT")
    assert silent["message"].startswith(f"{STOPPED}: target memory+silent unreachable")
    assert silent["blocking"]
    checks = [e for e in silent["trace"] if e["kind"] == "check"]
    assert checks[-1]["ok"] is False and "no answer within 10 s" in checks[-1]["text"]
    assert report["aborted"] is None and report["exit_code"] == 1
    assert "Traceback" not in done.out + done.err


class GoneAfterOne(MemoryProvider):
    """The replaying reference for one scenario, then unreachable before the next begins."""

    def __init__(self) -> None:
        super().__init__("memory+gone", memory_of(ReplayingClinic).target)
        self.lent = 0

    def target(self) -> MemoryTarget:
        self.lent += 1
        if self.lent > 1:
            raise Unreachable("target memory+gone unreachable: connection refused")
        return super().target()


def test_a_target_gone_before_a_scenario_ends_the_run_with_the_verdicts_it_has(
        tmp_path: Path) -> None:
    done = run_here(tmp_path, catalogue(REPLAY, SIGN_IN, SILENT), provider=GoneAfterOne())
    assert done.code == 3
    assert done.outcomes() == {"T-REPLAY": "fail", "T-SIGN-IN": "error"}  # kept, then stopped
    assert done.report()["aborted"] == "target memory+gone unreachable: connection refused"


def test_check_counts_a_catch_made_before_the_run_lost_its_target(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The run that caught the defect then aborted (exit 3): its report still counts."""

    def aborted_run(options: Any, **_: Any) -> int:
        report = {"aborted": "target http://localhost:1 unreachable: connection refused",
                  "scenarios": [{"id": "BACKUP-SINGLE-USE-ONCE", "outcome": "fail"},
                                {"id": "RACE-BACKUP-CODE-ONCE", "outcome": "error"}]}
        (options.report_dir / "report.json").write_text(json.dumps(report), encoding="utf-8")
        return 3

    monkeypatch.setattr(dc, "run", aborted_run)
    tmp_path.mkdir(exist_ok=True)
    done = dc.run_suite("http://localhost:1", tmp_path, ["BACKUP-SINGLE-USE-ONCE"])
    assert done.exit_code == 3 and "connection refused" in done.problem
    finding = dc.judge(defects.CATALOGUE["backup-code-reusable"], "http", done,
                       catalogue_mod.load())
    assert finding.caught and finding.catching == ["BACKUP-SINGLE-USE-ONCE"]
    (tmp_path / "report.json").unlink()  # a stub of this test's, not a report the harness wrote


# -- over HTTP: a served defect that hangs on parallel requests -----------------------------------


class _HangsInParallel(BackupCodeReusable):
    """backup-code-reusable, and a second backup code sent while one is being judged hangs
    until the test lets it go: the race scenario's burst gets no answers."""

    gate = threading.Event()
    busy = threading.Semaphore(1)

    def __init__(self, **made: Any) -> None:
        """At FAST_HASH's cost: the run's 1 s timeout is for the hang, and ten backup codes at
        the full argon2id cost take longer than that on a loaded machine."""
        made["policy"] = replace(made.get("policy") or Policy(), hash_cost=FAST_HASH)
        super().__init__(**made)

    def use_backup_code(self, token: str, code: str) -> Any:
        if not self.busy.acquire(blocking=False):
            self.gate.wait(30)
            return super().use_backup_code(token, code)
        try:
            return super().use_backup_code(token, code)
        finally:
            self.busy.release()


@pytest.fixture
def hanging(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    name = "hangs-in-parallel"
    monkeypatch.setitem(defects.CATALOGUE, name, defects.Defect(
        name, ("BACKUP-SINGLE-USE",), "reusable, and hangs on parallel uses", _HangsInParallel))
    monkeypatch.setattr(dc, "SERVED_TIMEOUT", 1.0)
    _HangsInParallel.gate.clear()
    try:
        yield name
    finally:
        _HangsInParallel.gate.set()  # after the server is gone: its cut-off requests finish


def test_over_http_the_catch_stands_and_the_servers_tracebacks_go_to_its_log(
        hanging: str, tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    defect = defects.CATALOGUE[hanging]
    finding = dc.check_http(defect, catalogue_mod.load(), tmp_path)
    assert finding.caught, finding.run.problem
    assert finding.catching[0] == "BACKUP-SINGLE-USE-ONCE"
    race = json.loads(finding.run.report.read_text(encoding="utf-8"))  # type: ignore[union-attr]
    scen = next(s for s in race["scenarios"] if s["id"] == "RACE-BACKUP-CODE-ONCE")
    assert scen["outcome"] == "fail" and scen["message"].startswith(STOPPED), scen["message"]
    assert "no answer within 1 s" in scen["message"]
    said = capfd.readouterr()
    assert "Traceback" not in said.out + said.err and "CancelledError" not in said.err
    log = (tmp_path / "defects" / "http" / hanging / dc.SERVER_LOG).read_text(encoding="utf-8")
    assert "CancelledError" in log  # the requests cut off at shutdown, logged where they belong



def test_a_deployment_that_went_silent_is_asked_once_before_the_next_scenario() -> None:
    """Back: the next scenario runs. Still gone: Unreachable, and the run ends there."""
    answering = {"now": False}

    def answer(request: httpx.Request) -> httpx.Response:
        if not answering["now"]:
            raise httpx.ReadTimeout("no answer", request=request)
        return httpx.Response(401, json={"error": "not_signed_in"})

    provider = HttpProvider("http://clinic.test", TargetConfig(test_clinic=True))
    provider.client = Client("http://clinic.test", 2.0, transport=httpx.MockTransport(answer))
    with pytest.raises(Unreachable, match=r"POST /api/v1/sign-in: no answer within 2 s"):
        provider.client.call("POST", "/api/v1/sign-in", {"email": "a", "password": "b"})
    with pytest.raises(Unreachable, match="GET /api/v1/profile: no answer within 2 s"):
        provider.target()
    answering["now"] = True
    assert provider.target() is not None and not provider.client.silent
