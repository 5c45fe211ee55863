"""The committed contract (spec/openapi.json) is what the app serves; fuzzing it finds no 5xx."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from schemathesis.specs.openapi.checks import ignored_auth, positive_data_acceptance

from clinic2fa.simulator.clinic import Clinic
from clinic2fa.simulator.clock import FakeClock
from clinic2fa.simulator.policy import FAST_HASH, Policy
from clinic2fa.simulator.users import Role
from clinic2fa.simulator.virtual.authenticator_app import AuthenticatorApp
from clinic2fa.simulator.web.app import create_app
from clinic2fa.simulator.web.contract import REGENERATE, TITLE, VERSION, dumps
from clinic2fa.simulator.web.openapi import schema

SPEC = Path(__file__).resolve().parent.parent / "spec" / "openapi.json"
EXAMPLES_PER_OPERATION = 50
STALE = f"spec/openapi.json is not the app's contract; if the change is meant, run: {REGENERATE}"


def normal(document: Any) -> str:
    return json.dumps(document, sort_keys=True, separators=(",", ":"))


def test_committed_contract_is_what_the_app_serves(clinic: Clinic) -> None:
    committed = json.loads(SPEC.read_text(encoding="utf-8"))
    assert normal(committed) == normal(schema()), STALE
    with TestClient(create_app(clinic, test_support=True)) as client:
        served = client.get("/api/v1/openapi.json")
    assert served.status_code == 200
    assert normal(served.json()) == normal(committed), STALE


def test_committed_file_is_in_its_canonical_form() -> None:
    text = SPEC.read_text(encoding="utf-8")
    assert text == dumps(json.loads(text)), STALE


def test_contract_names_itself_and_covers_only_the_versioned_api() -> None:
    document = json.loads(SPEC.read_text(encoding="utf-8"))
    assert document["info"]["title"] == TITLE == "clinic2fa HTTP contract"
    assert document["info"]["version"] == VERSION == "1.1.0"
    assert document["paths"]
    assert all(path.startswith("/api/v1/") for path in document["paths"])
    assert not any("test-support" in path for path in document["paths"])


def test_every_refusal_is_documented_with_the_error_body() -> None:
    document = json.loads(SPEC.read_text(encoding="utf-8"))
    for path, item in document["paths"].items():
        for method, operation in item.items():
            refusals = {status for status in operation["responses"] if status.startswith("4")}
            assert "422" in refusals, f"{method.upper()} {path} documents no 422"
            for status in refusals:
                body = operation["responses"][status]["content"]["application/json"]["schema"]
                assert body == {"$ref": "#/components/schemas/ErrorBody"}, (method, path, status)


# -- fuzzing the committed contract ------------------------------------------------------------
# Every operation of the committed schema gets generated requests (valid and invalid) against an
# app without test support, each with a fresh session: the second-step operations with a pending
# sign-in of an enrolled user (so generated codes reach the code checks and the lock-out), all
# others with a full owner session.

OWNER = ("owner@fuzz.test", "fuzz-owner-password")
ENROLLED = ("enrolled@fuzz.test", "fuzz-enrolled-password")


def fuzz_target() -> FastAPI:
    clinic = Clinic(clock=FakeClock(), policy=Policy(hash_cost=FAST_HASH))
    clinic.add_user(*OWNER, Role.OWNER)
    clinic.add_user(*ENROLLED, Role.STAFF)
    token = clinic.sign_in(*ENROLLED).token
    phone = AuthenticatorApp(clinic.clock.now)
    phone.add_uri(clinic.start_authenticator_setup(token).uri)
    clinic.confirm_authenticator(token, phone.code())
    return create_app(clinic, test_support=False)


fuzzed = schemathesis.openapi.from_path(SPEC)
fuzzed.app = fuzz_target()
fuzzed.config.generation.update(max_examples=EXAMPLES_PER_OPERATION)


@fuzzed.auth(refresh_interval=None)
class FreshSession:
    """A new session per case; enforcement off, so a fuzzed PUT does not stick."""

    def get(self, case: Any, ctx: Any) -> str:
        clinic: Clinic = ctx.app.state.clinic
        clinic.enforcement_required = False
        second_step = ctx.operation.path.startswith("/api/v1/sign-in/")
        return clinic.sign_in(*(ENROLLED if second_step else OWNER)).token

    def set(self, case: Any, data: str, ctx: Any) -> None:
        case.headers = {**(case.headers or {}), "Authorization": f"Bearer {data}"}


# Checks left out, each on purpose:
# - positive_data_acceptance: schema-valid input is refused on meaning by contract (a made-up
#   passkey credential is a 400 passkey_*, a code sent on a full session a 422 invalid_request);
# - ignored_auth on sign-out: it answers 204 for any bearer token, known or not (RFC 7009 style),
#   so signing out twice is not an error.


@fuzzed.parametrize()
def test_no_input_makes_the_server_fail(case: Any) -> None:
    skipped = [positive_data_acceptance]
    if case.operation.path == "/api/v1/sign-out":
        skipped.append(ignored_auth)
    response = case.call_and_validate(excluded_checks=skipped)
    assert response.status_code < 500
