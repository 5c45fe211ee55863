"""The real server: running() for tests and the harness, and `clinic2fa serve` starting quickly."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from clinic2fa.simulator.clinic import Clinic
from clinic2fa.simulator.clock import FakeClock
from clinic2fa.simulator.policy import FAST_HASH, Policy
from clinic2fa.simulator.users import Role
from clinic2fa.simulator.web.app import create_app
from clinic2fa.simulator.web.server import (
    demo_accounts,
    demo_app,
    demo_clinic,
    listen,
    public_origin,
    running,
)

ROOT = Path(__file__).resolve().parent.parent
STOP_TIMEOUT = 60.0  # a bound for a hung server, not a measure: at load 17 10 s was too short


def _interrupted(server: subprocess.Popen[str]) -> tuple[str, str]:
    """Ctrl-C to a served process and what it printed; a server that does not stop is killed
    (its pipes closed, so no ResourceWarning lands on a later test) and fails the test."""
    server.send_signal(signal.SIGINT)
    try:
        return server.communicate(timeout=STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        server.kill()
        server.communicate()
        pytest.fail(f"the server did not stop within {STOP_TIMEOUT:.0f} s of SIGINT")

def test_running_serves_on_localhost_and_stops(clinic: Clinic, people: object) -> None:
    with running(create_app(clinic, test_support=True)) as url:
        assert re.fullmatch(r"http://localhost:\d+", url)
        response = httpx.get(f"{url}/api/v1/profile")
        assert response.status_code == 401
        assert len(response.headers.get_list("date")) == 1  # ours, not uvicorn's as well
        assert "server" not in response.headers
        assert httpx.get(f"{url}/test-support/clock").json()["now"] == clinic.clock.now()
        port = int(url.rsplit(":", 1)[1])
    with pytest.raises(OSError), socket.create_connection(("localhost", port), timeout=1):
        pass


def test_a_socket_from_listen_fixes_the_origin_first() -> None:
    sock = listen()
    origin, rp_id = public_origin("localhost", sock.getsockname()[1])
    clinic = Clinic(clock=FakeClock(), policy=Policy(hash_cost=FAST_HASH), rp_id=rp_id,
                    origin=origin)
    clinic.add_user("a@clinic.test", "a-password", Role.STAFF)
    with running(create_app(clinic, test_support=False), sock=sock) as url:
        assert url == origin
        session = httpx.post(f"{url}/api/v1/sign-in", json={"email": "a@clinic.test",
                                                            "password": "a-password"}).json()
        options = httpx.post(f"{url}/api/v1/security/passkeys/options",
                             headers={"Authorization": f"Bearer {session['session']}"}).json()
        assert options["rp"]["id"] == "localhost"


@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT to a child process")
def test_clinic2fa_serve_prints_working_accounts_and_logs_no_secret() -> None:
    server = subprocess.Popen(
        [sys.executable, "-m", "clinic2fa.simulator.web.cli", "--port", "0", "--log-level", "info"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        assert server.stdout is not None
        banner = server.stdout.readline()
        url = re.search(r"on (http://localhost:\d+)", banner)
        assert url, banner
        owner = re.search(r"owner\s+(\S+)\s+password: (\S+)", server.stdout.readline())
        assert owner
        ready = httpx.get(f"{url.group(1)}/healthz", timeout=5)
        assert ready.status_code == 200  # start-up time is measured in bench/, not here

        signed = httpx.post(f"{url.group(1)}/api/v1/sign-in",
                            json={"email": owner.group(1), "password": owner.group(2)})
        assert signed.json()["stage"] == "signed_in"
        httpx.get(f"{url.group(1)}/healthz?code=424242")
    finally:
        out, err = _interrupted(server)
    assert server.returncode == 0, err
    assert "Traceback" not in err
    logs = out + err
    assert "GET /healthz HTTP/1.1" in logs  # the access log is on...
    assert "424242" not in logs  # ...without query strings
    assert owner.group(2) not in err


class Marked(Clinic):
    """Another clinic than the reference, as a factory passed in from outside would build."""


def test_the_demo_clinic_is_built_by_the_factory_given_with_the_demo_accounts() -> None:
    accounts = demo_accounts()
    made = {"clock": FakeClock(), "origin": "http://localhost:1", "rp_id": "localhost",
            "policy": Policy(hash_cost=FAST_HASH)}
    assert type(demo_clinic(accounts, **made)) is Clinic  # the reference by default
    clinic = demo_clinic(accounts, **made, make_clinic=Marked)
    assert type(clinic) is Marked
    signed = clinic.sign_in(accounts[0].email, accounts[0].password)
    assert signed.stage.value == "signed_in"
    assert len({a.password for a in accounts}) == len(accounts) == 4


def test_each_reset_builds_a_fresh_clinic_from_the_same_factory() -> None:
    accounts = demo_accounts()
    app = demo_app(accounts, clock=FakeClock(), origin="http://testserver", rp_id="testserver",
                   policy=Policy(hash_cost=FAST_HASH), make_clinic=Marked)
    first = app.state.clinic
    with TestClient(app) as client:
        first.set_enforcement(first.sign_in(accounts[0].email, accounts[0].password).token, True)
        assert client.post("/test-support/reset").status_code == 204
        second = app.state.clinic
        assert client.post("/test-support/reset").status_code == 204
    assert type(second) is Marked and type(app.state.clinic) is Marked
    assert len({id(first), id(second), id(app.state.clinic)}) == 3
    assert not second.enforcement_required  # fresh, not the first one's state
    assert second.sign_in(accounts[1].email, accounts[1].password).stage.value == "signed_in"


@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT to a child process")
def test_clinic2fa_serve_defect_serves_the_broken_clinic_and_resets_to_it_again() -> None:
    """End to end: the harness's `serve --defect` composes the server with the defect."""
    server = subprocess.Popen(
        [sys.executable, "-m", "clinic2fa.scenarios.cli", "serve", "--port", "0",
         "--defect", "security-always-on"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        assert server.stdout is not None
        banner = server.stdout.readline()
        url = re.search(r"on (http://localhost:\d+) .*; defect security-always-on\)", banner)
        owner = re.search(r"owner\s+(\S+)\s+password: (\S+)", server.stdout.readline())
        assert url and owner, banner
        assert httpx.get(f"{url.group(1)}/healthz", timeout=5).status_code == 200
        for _ in range(2):  # before and after a reset: a fresh clinic, broken the same way
            token = httpx.post(f"{url.group(1)}/api/v1/sign-in", json={
                "email": owner.group(1), "password": owner.group(2)}).json()["session"]
            shown = httpx.get(f"{url.group(1)}/api/v1/security",
                              headers={"Authorization": f"Bearer {token}"}).json()
            assert shown["two_factor_enabled"] is True  # nothing was set up: the defect
            assert httpx.post(f"{url.group(1)}/test-support/reset").status_code == 204
    finally:
        _, err = _interrupted(server)
    assert server.returncode == 0, err
    assert "Traceback" not in err


def test_clinic2fa_serve_an_unknown_defect_is_one_line_and_exit_2(
        capsys: pytest.CaptureFixture[str]) -> None:
    from clinic2fa.scenarios.cli import main

    assert main(["serve", "--port", "0", "--defect", "nope"]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err == "clinic2fa serve: unknown defect 'nope'; `clinic2fa defects` lists them\n"


def test_the_simulators_own_serve_command_has_no_defect_option(
        capsys: pytest.CaptureFixture[str]) -> None:
    from clinic2fa.simulator.web.cli import main

    with pytest.raises(SystemExit):
        main(["--defect", "totp-replay"])
    assert "unrecognized arguments: --defect" in capsys.readouterr().err
