"""Test support (only when asked for), the Date header from the clinic's clock, and no 500 leaks."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from email.utils import parsedate_to_datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient

from clinic2fa.simulator.clinic import Clinic
from clinic2fa.simulator.clock import FakeClock, SystemClock
from clinic2fa.simulator.policy import FAST_HASH, Policy
from clinic2fa.simulator.web.app import create_app


@pytest.fixture
def api(clinic: Clinic) -> Iterator[TestClient]:
    with TestClient(create_app(clinic, test_support=True)) as client:
        yield client


def date_of(response: Any) -> float:
    return parsedate_to_datetime(response.headers["date"]).timestamp()


def test_test_support_is_absent_unless_asked_for(clinic: Clinic) -> None:
    with TestClient(create_app(clinic, test_support=False)) as client:
        for method, path in [("post", "/test-support/users"), ("get", "/test-support/clock"),
                             ("post", "/test-support/clock"), ("get", "/test-support/audit"),
                             ("post", "/test-support/reset")]:
            assert client.request(method, path, json={}).status_code == 404


def test_new_users_get_random_passwords_that_sign_in(api: TestClient) -> None:
    first = api.post("/test-support/users", json={"role": "staff"})
    second = api.post("/test-support/users", json={"role": "staff"})
    assert first.status_code == second.status_code == 201
    assert first.json()["role"] == "staff"
    assert first.json()["password"] != second.json()["password"]
    assert len(first.json()["password"]) >= 20
    signed = api.post("/api/v1/sign-in", json={"email": first.json()["email"],
                                               "password": first.json()["password"]})
    assert signed.json()["stage"] == "signed_in"
    named = api.post("/test-support/users", json={"role": "admin", "email": "Ann@Clinic.Test"})
    assert named.json()["email"] == "ann@clinic.test"
    assert api.post("/test-support/users", json={"role": "root"}).status_code == 422
    assert api.post("/test-support/users", json={"role": "admin",
                                                 "email": "ann@clinic.test"}).status_code == 422


def test_the_fake_clock_moves_and_dates_every_response(api: TestClient, clock: FakeClock) -> None:
    start = api.get("/test-support/clock").json()["now"]
    assert start == clock.now()
    moved = api.post("/test-support/clock", json={"advance": 90})
    assert moved.json() == {"now": start + 90}
    assert date_of(moved) == start + 90
    api.post("/test-support/clock", json={"set": 2_000_000_000})
    for response in (api.get("/api/v1/profile"), api.get("/sign-in"),
                     api.get("/static/style.css"), api.get("/api/v1/nothing"),
                     api.post("/api/v1/sign-in", json={})):
        assert date_of(response) == 2_000_000_000
        assert len(response.headers.get_list("date")) == 1


@pytest.mark.parametrize("body", [{}, {"advance": 1, "set": 1}, {"advance": "soon"},
                                  {"set": 1e300}, {"advance": -1e12}])
def test_bad_clock_moves_are_invalid_requests(api: TestClient, body: dict[str, Any]) -> None:
    response = api.post("/test-support/clock", json=body)
    assert response.status_code == 422
    assert response.json()["error"] == "invalid_request"


def test_the_real_clock_cannot_be_moved() -> None:
    clinic = Clinic(clock=SystemClock(), policy=Policy(hash_cost=FAST_HASH))
    with TestClient(create_app(clinic, test_support=True)) as client:
        response = client.post("/test-support/clock", json={"advance": 60})
        assert response.status_code == 409
        assert response.json()["error"] == "invalid_request"
        assert abs(client.get("/test-support/clock").json()["now"] - date_of(response)) < 2


def test_audit_lists_the_events_and_reset_starts_over(api: TestClient, people: Any) -> None:
    api.post("/api/v1/sign-in", json={"email": people.staff.email, "password": "wrong"})
    api.post("/api/v1/sign-in", json={"email": people.staff.email,
                                      "password": people.staff.password})
    entries = api.get("/test-support/audit").json()
    assert [e["event"] for e in entries] == ["sign_in_failed", "signed_in"]
    assert set(entries[0]) == {"at", "event", "actor", "subject", "detail"}
    assert people.staff.password not in str(entries)

    assert api.post("/test-support/reset").status_code == 204
    assert api.get("/test-support/audit").json() == []
    gone = api.post("/api/v1/sign-in", json={"email": people.staff.email,
                                             "password": people.staff.password})
    assert gone.json()["error"] == "invalid_credentials"


def test_an_unexpected_failure_is_a_bare_500_logged_by_type_only(
        api: TestClient, clinic: Clinic, people: Any, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    session = api.post("/api/v1/sign-in", json={"email": people.staff.email,
                                                "password": people.staff.password}).json()

    def broken(token: str) -> None:
        raise RuntimeError(f"boom with {token} and {people.staff.password}")

    monkeypatch.setattr(clinic, "profile", broken)
    with caplog.at_level(logging.DEBUG):
        response = api.get("/api/v1/profile",
                           headers={"Authorization": f"Bearer {session['session']}"})
    assert response.status_code == 500
    assert response.json()["error"] == "internal"
    assert "boom" not in response.text
    assert "RuntimeError" in caplog.text
    assert session["session"] not in caplog.text
    assert people.staff.password not in caplog.text
    assert "Traceback" not in caplog.text


# -- test clinics: one of its own for each scenario of a parallel run (rooms.py) ----------------


def _room(api: TestClient) -> dict[str, str]:
    opened = api.post("/test-support/clinics")
    assert opened.status_code == 201
    return {"test-clinic": opened.json()["clinic"]}


def test_a_test_clinic_has_its_own_accounts_clock_and_dates(api: TestClient,
                                                            clock: FakeClock) -> None:
    one, other = _room(api), _room(api)
    assert one != other
    made = api.post("/test-support/users", json={"role": "staff"}, headers=one).json()
    credentials = {"email": made["email"], "password": made["password"]}
    assert api.post("/api/v1/sign-in", json=credentials, headers=one).status_code == 200
    for elsewhere in (other, {}):  # neither another test clinic nor the served one knows it
        assert api.post("/api/v1/sign-in", json=credentials,
                        headers=elsewhere).status_code == 401
    start = clock.now()
    moved = api.post("/test-support/clock", json={"advance": 3600}, headers=one)
    assert moved.json() == {"now": start + 3600} and date_of(moved) == start + 3600
    assert api.get("/test-support/clock", headers=other).json() == {"now": start}
    assert date_of(api.get("/api/v1/profile", headers=other)) == start
    assert clock.now() == start  # the served clinic's clock stays where it was
    events = {name: [e["event"] for e in api.get("/test-support/audit", headers=h).json()]
              for name, h in (("one", one), ("other", other))}
    assert events == {"one": ["signed_in"], "other": ["sign_in_failed"]}


def test_a_test_clinic_resets_alone_and_closes(api: TestClient, clinic: Clinic) -> None:
    one = _room(api)
    made = api.post("/test-support/users", json={"role": "staff"}, headers=one).json()
    served = api.post("/test-support/users", json={"role": "staff"}).json()
    assert api.post("/test-support/reset", headers=one).status_code == 204
    for who, headers, status in ((made, one, 401), (served, {}, 200)):
        assert api.post("/api/v1/sign-in", json={"email": who["email"],
                                                 "password": who["password"]},
                        headers=headers).status_code == status
    assert api.app.state.clinic is clinic  # the served clinic was not reset
    assert api.delete(f"/test-support/clinics/{one['test-clinic']}").status_code == 204
    gone = api.get("/api/v1/profile", headers=one)
    assert gone.status_code == 404 and gone.json()["error"] == "invalid_request"
    assert api.delete(f"/test-support/clinics/{one['test-clinic']}").status_code == 404


def test_test_clinics_are_bounded_the_oldest_goes() -> None:
    from clinic2fa.simulator.web.rooms import Rooms

    rooms = Rooms(lambda clock: Clinic(clock=clock, policy=Policy(hash_cost=FAST_HASH)),
                  FakeClock(), limit=2)
    first, _ = rooms.open()
    second, _ = rooms.open()
    assert rooms.get(first) is not None  # used: now the most recent
    rooms.open()
    assert len(rooms) == 2 and rooms.get(second) is None and rooms.get(first) is not None


def test_without_test_support_the_header_names_nothing(clinic: Clinic) -> None:
    with TestClient(create_app(clinic, test_support=False)) as client:
        assert client.post("/test-support/clinics").status_code == 404
        assert client.get("/api/v1/profile",
                          headers={"test-clinic": "anything"}).status_code == 401
