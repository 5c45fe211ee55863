"""HttpTarget against the reference web app: as `clinic2fa serve` (test support) and as a
deployment (none), plus the contract's refusals and the clock estimate."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import httpx
import pytest
from runner_support import CLOCK, SIGN_IN, SKEW, catalogue, run_here

from clinic2fa.scenarios import catalogue as catalogue_mod
from clinic2fa.scenarios.contract import Refused, Unreachable
from clinic2fa.scenarios.core.model import Needs
from clinic2fa.scenarios.targets.clock import Sample, date_seconds, estimate
from clinic2fa.scenarios.targets.config import TargetConfig
from clinic2fa.scenarios.targets.http import Client, HttpProvider, ProtocolError, provider
from clinic2fa.simulator.clinic import Clinic
from clinic2fa.simulator.clock import FakeClock
from clinic2fa.simulator.policy import FAST_HASH, Policy
from clinic2fa.simulator.users import Role
from clinic2fa.simulator.web.app import create_app
from clinic2fa.simulator.web.server import listen, public_origin, running

MID_STEP = 1_800_000_015.5  # the middle of a 30 s step and of a second: no boundary is near
STAFF = [(f"staff{n}@deploy.test", f"staff-{n}-Pa55-cavity-free") for n in (1, 2)]
OWNER = ("owner@deploy.test", "owner-Pa55-root-canal")


def serve(make_app: Callable[[str, str], object]) -> Iterator[str]:
    """Serve on a socket with TCP_NODELAY: without it every exchange waits ~40 ms for an ACK.

    `make_app(origin, rp_id)`: the port is known first, so passkeys can be bound to it.
    """
    sock = listen()
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    app = make_app(*public_origin("localhost", sock.getsockname()[1]))
    with running(app, sock=sock) as url:  # type: ignore[arg-type]
        yield url


def reference_app(origin: str, rp_id: str) -> object:
    """The reference with test support and a fake clock, as `clinic2fa serve --fake-clock`."""
    clinic = Clinic(clock=FakeClock(time.time()), policy=Policy(hash_cost=FAST_HASH),
                    origin=origin, rp_id=rp_id)
    return create_app(clinic, test_support=True)


@pytest.fixture(scope="module")
def reference() -> Iterator[str]:
    yield from serve(reference_app)


@pytest.fixture(scope="module")
def deployment() -> Iterator[str]:
    """The reference without test support: to the harness, a deployment with known accounts.

    Its clock stands still mid-step, so the Date-header estimate (±0.5 s) cannot straddle a
    TOTP step boundary and make the test flaky.
    """
    clinic = Clinic(clock=FakeClock(MID_STEP), policy=Policy(hash_cost=FAST_HASH))
    clinic.add_user(*OWNER, Role.OWNER)
    for email, password in STAFF:
        clinic.add_user(email, password, Role.STAFF)
    yield from serve(lambda origin, rp_id: create_app(clinic, test_support=False))


def deployment_config(tmp_path: Path, test_clinic: bool = True, extra: str = "") -> Path:
    staff = "".join(f'[[staff]]\nemail = "{e}"\npassword = "{p}"\n' for e, p in STAFF)
    path = tmp_path / "deployment.toml"
    path.write_text(f"[clinic]\ntest_clinic = {str(test_clinic).lower()}\n"
                    f'owner = {{ email = "{OWNER[0]}", password = "{OWNER[1]}" }}\n'
                    f"{staff}{extra}", encoding="utf-8")
    return path


# -- against the reference ----------------------------------------------------------------------


def test_the_reference_over_http_conforms_and_lends_its_clock(tmp_path: Path,
                                                             reference: str) -> None:
    done = run_here(tmp_path, target=reference)
    assert done.code == 0, done.out + done.err
    report = done.report()
    assert set(done.outcomes().values()) == {"pass"}  # T-CLOCK too: the clock moves
    assert {k: v for k, v in report["target"].items() if k != "policy"} == {
        "name": reference, "kind": "http", "reference": True, "description": "the reference",
        "capabilities": ["clock", "http", "inspect", "parallel", "passkeys", "password-store",
                         "sessions"]}
    assert report["target"]["policy"]["declared"] == []  # the reference's own choices
    assert report["clock"]["source"] == "test-support"
    assert report["clock"]["uncertainty_seconds"] < 0.5
    assert "server clock offset" in done.out


def test_the_whole_catalogue_passes_on_the_reference_over_http(tmp_path: Path,
                                                              reference: str) -> None:
    """Every scenario speaks HTTP as well as memory: the reference passes them all."""
    done = run_here(tmp_path, catalogue_mod.load(), target=reference)
    assert done.code == 0, done.out + done.err
    summary = done.report()["summary"]
    assert summary["run"] == summary["scenarios"] > 0
    assert summary["fail"] == summary["error"] == summary["warnings"] == 0, done.out


def test_refusals_arrive_with_the_contracts_code_and_reason(reference: str) -> None:
    provider = HttpProvider(reference, None)
    provider.open()
    try:
        target = provider.target()
        account = target.account("staff")
        with pytest.raises(Refused) as wrong:
            target.sign_in(account.email, account.password + "x")
        assert (wrong.value.code, wrong.value.reason) == ("invalid_credentials", None)
        session = target.sign_in(account.email, account.password).session
        target.start_authenticator_setup(session)
        with pytest.raises(Refused) as malformed:
            target.confirm_enrolment(session, "12ab")
        assert (malformed.value.code, malformed.value.reason) == ("code_rejected", "malformed")
        with pytest.raises(Refused, match="not_signed_in"):
            target.profile("no-such-session")
        security = target.security(session)
        assert (security.two_factor_enabled, security.enforcement_required) == (False, False)
        before = target.server_time()
        target.advance_clock(60)
        assert target.server_time() - before == pytest.approx(60, abs=1)
    finally:
        provider.close()


def test_a_reference_without_a_movable_clock_offers_no_clock(tmp_path: Path) -> None:
    clinic = Clinic(policy=Policy(hash_cost=FAST_HASH))  # the real clock: moves refused, 409
    for url in serve(lambda origin, rp_id: create_app(clinic, test_support=True)):
        done = run_here(tmp_path, catalogue(SIGN_IN, CLOCK), target=url)
        assert done.code == 0
        assert done.outcomes() == {"T-SIGN-IN": "pass", "T-CLOCK": "not_applicable"}
        assert done.report()["target"]["capabilities"] == ["http", "inspect", "parallel",
                                                            "passkeys", "password-store",
                                                            "sessions"]


# -- against a deployment -----------------------------------------------------------------------


def test_a_deployment_must_be_declared_a_test_clinic(tmp_path: Path, deployment: str) -> None:
    for options in ({}, {"config": deployment_config(tmp_path, test_clinic=False)}):
        done = run_here(tmp_path, target=deployment, **options)  # type: ignore[arg-type]
        assert done.code == 2
        assert done.err.startswith(f"clinic2fa: refusing to run against {deployment}: ")
        assert "test_clinic = true" in done.err and done.err.count("\n") == 1


def test_a_config_claiming_the_reference_needs_test_support(tmp_path: Path,
                                                           deployment: str) -> None:
    config = deployment_config(tmp_path, extra="[target]\nreference = true\n")
    done = run_here(tmp_path, target=deployment, config=config)
    assert done.code == 2 and "has no test-support endpoints" in done.err


def test_a_deployment_runs_on_its_config_accounts(tmp_path: Path, deployment: str) -> None:
    config = deployment_config(tmp_path)
    again = replace(SIGN_IN, id="T-SIGN-IN-AGAIN")  # a third scenario: the pool has two staff
    done = run_here(tmp_path, catalogue(SIGN_IN, SKEW, CLOCK, again), target=deployment,
                    config=config)
    assert done.code == 0, done.out + done.err
    report = done.report()
    assert done.outcomes() == {"T-SIGN-IN": "pass", "T-SKEW": "pass",
                               "T-CLOCK": "not_applicable", "T-SIGN-IN-AGAIN": "pass"}
    again = next(s for s in report["scenarios"] if s["id"] == "T-SIGN-IN-AGAIN")
    assert "account: staff staff1@deploy.test" in [e["text"] for e in again["trace"]]  # reused
    clock = next(s for s in report["scenarios"] if s["id"] == "T-CLOCK")
    assert clock["message"] == "the target does not offer clock"
    assert report["target"]["reference"] is False
    assert report["clock"]["source"] == "date-header"
    assert report["clock"]["uncertainty_seconds"] >= 0.5
    assert abs(report["clock"]["offset_seconds"] - (MID_STEP - time.time())) < 5
    window = next(r for r in report["requirements"] if r["id"] == "TOTP-WINDOW")
    assert window["verdict"] == "not_verified"  # its only scenario was not applicable
    text = "".join(p.read_text() for p in done.report_dir.iterdir())
    for _, password in (OWNER, *STAFF):
        assert password not in text


def test_a_failing_reset_hook_stops_the_run_in_one_line(tmp_path: Path, deployment: str) -> None:
    config = deployment_config(tmp_path, extra='[hooks]\nreset = { command = ["false"] }\n')
    done = run_here(tmp_path, catalogue(SIGN_IN), target=deployment, config=config)
    assert done.code == 2
    assert done.err == "clinic2fa: reset hook (false) failed: exit 1\n"


def test_the_passkey_capability_can_be_declared(tmp_path: Path, deployment: str) -> None:
    config = deployment_config(tmp_path, extra="[target]\npasskeys = false\n")
    provider = HttpProvider(deployment, TargetConfig(test_clinic=True, passkeys=False))
    provider.open()
    provider.close()
    assert Needs.PASSKEYS not in provider.capabilities
    done = run_here(tmp_path, catalogue(SIGN_IN), target=deployment, config=config)
    assert done.report()["target"]["capabilities"] == ["http", "parallel", "sessions"]


# -- the client and the clock estimate ----------------------------------------------------------


def client_answering(status: int, body: bytes, content_type: str = "application/json") -> Client:
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, content=body, headers={"content-type": content_type})

    return Client("http://clinic.test", 5.0, transport=httpx.MockTransport(answer))


def test_the_client_tells_refusals_from_broken_answers() -> None:
    refusal = b'{"error": "locked_out", "reason": null, "message": "Try later."}'
    with pytest.raises(Refused) as refused:
        client_answering(429, refusal).call("POST", "/api/v1/sign-in/code", {"code": "1"})
    assert (refused.value.code, refused.value.message) == ("locked_out", "Try later.")
    with pytest.raises(ProtocolError, match="HTTP 500, a server error"):
        client_answering(500, b'{"error": "internal"}').call("GET", "/api/v1/profile")
    with pytest.raises(ProtocolError, match="no contract error body"):
        client_answering(404, b"<html>Not Found</html>", "text/html").call("GET", "/x")
    assert client_answering(204, b"").call("POST", "/api/v1/sign-out") is None


def test_a_closed_port_is_unreachable_in_one_line() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = Client(f"http://127.0.0.1:{port}", 2.0)
    with pytest.raises(Unreachable) as down:
        client.call("GET", "/api/v1/profile")
    assert str(down.value) == f"target http://127.0.0.1:{port} unreachable: connection refused"


def test_credentials_in_the_url_never_show() -> None:
    shown = provider("https://qa:hunter2@clinic.example/app/", None)
    assert shown.name == "https://clinic.example/app"


def test_passkeys_are_made_for_the_page_origin() -> None:
    assert provider("https://clinic.example/app", None).origin == "https://clinic.example"
    assert provider("http://127.0.0.1:8000", None).origin == "http://localhost:8000"
    declared = TargetConfig(origin="https://pages.clinic.example")
    assert provider("https://api.clinic.example", declared).origin == declared.origin


def test_the_clock_estimate_is_a_median_with_its_uncertainty() -> None:
    server = date_seconds("Fri, 15 Jan 2027 08:00:00 GMT")
    assert server is not None
    samples = [Sample(server - 10.3, server - 10.2, server) for _ in range(4)]
    samples.append(Sample(server - 50.0, server - 49.0, server))  # one slow outlier
    found = estimate(samples, "date-header", 1.0)
    assert found is not None
    assert found.offset_seconds == pytest.approx(10.25 + 0.5)
    assert found.uncertainty_seconds == pytest.approx(0.5 + 0.05)
    assert estimate([], "date-header", 1.0) is None
    assert date_seconds("not a date") is None and date_seconds(None) is None
