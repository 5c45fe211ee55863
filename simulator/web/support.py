"""Test support: make accounts, move a fake clock, read the audit log, reset. Never deployed.

Mounted only by create_app(..., test_support=True), as `clinic2fa serve` does; a real deployment
offers the harness the same through its own means. Routes (JSON, outside the contract schema):

- POST /test-support/users {role, email?} -> 201 {email, password, role}: a random password
- GET  /test-support/clock -> {now}: the clinic's Unix time
- POST /test-support/clock {advance: seconds} or {set: unix} -> {now}; 409 on the real clock
- GET  /test-support/audit -> [{at, event, actor, subject, detail}]
- GET  /test-support/users/{email}/stored -> {password, backup_codes}: what is kept at rest
  (argon2id PHC strings; a spent backup code is null), 404 for an unknown email
- POST /test-support/reset -> 204: a fresh clinic (same clock and policy), setups forgotten
- POST /test-support/clinics -> 201 {clinic, now}: a test clinic of its own (rooms.py) for the
  requests that name it in the Test-Clinic header, on a clock of its own;
  DELETE /test-support/clinics/{clinic} -> 204 (404 if unknown)

Every route but /clinics answers for the request's test clinic, if it names one.
"""

from __future__ import annotations

import secrets
from typing import Any

from fastapi import APIRouter, HTTPException, Request, Response
from pydantic import BaseModel, ConfigDict, Field, model_validator

from clinic2fa.simulator.clinic import Clinic
from clinic2fa.simulator.errors import ErrorCode, TwoFactorError
from clinic2fa.simulator.users import Role
from clinic2fa.simulator.web.models import RoleName
from clinic2fa.simulator.web.rooms import Rooms, movable, room_of

router = APIRouter(prefix="/test-support", include_in_schema=False)
LAST_SECOND = 253_402_300_799  # 9999-12-31T23:59:59Z: HTTP dates have four-digit years


class NewUser(BaseModel):
    model_config = ConfigDict(strict=True)

    role: RoleName
    email: str | None = Field(default=None, min_length=3, max_length=320)


class Account(BaseModel):
    email: str
    password: str
    role: RoleName


class ClockMove(BaseModel):
    """Exactly one of `advance` (seconds, may be negative) and `set` (Unix time)."""

    model_config = ConfigDict(strict=False)

    advance: float | None = Field(default=None, allow_inf_nan=False)
    set: float | None = Field(default=None, allow_inf_nan=False)

    @model_validator(mode="after")
    def one_of(self) -> ClockMove:
        if (self.advance is None) == (self.set is None):
            raise ValueError("give exactly one of advance and set")
        return self


class Now(BaseModel):
    now: float


def _clinic(request: Request) -> Clinic:
    return room_of(request.scope).clinic


@router.post("/users", status_code=201)
def add_user(body: NewUser, request: Request) -> Account:
    """An account for one test: a random password, so no two runs share one."""
    email = body.email or f"{body.role}-{secrets.token_hex(6)}@clinic.test"
    password = secrets.token_urlsafe(18)
    _clinic(request).add_user(email, password, Role(body.role))
    return Account(email=email.strip().lower(), password=password, role=body.role)


@router.get("/users/{email}/stored")
def stored(email: str, request: Request) -> dict[str, Any]:
    """The account's stored password and backup-code records, so BACKUP-HASHED and
    PASSWORD-HASH can be checked from outside; only a test clinic ever answers this."""
    try:
        return _clinic(request).stored_credentials(email)
    except TwoFactorError as err:
        raise HTTPException(404, err.message) from None


@router.get("/clock")
def read_clock(request: Request) -> Now:
    return Now(now=room_of(request.scope).clock.now())


@router.post("/clock")
def move_clock(body: ClockMove, request: Request) -> Now:
    """Move a FakeClock; a server on the real clock refuses with 409."""
    clock = room_of(request.scope).clock
    if not movable(clock):
        raise HTTPException(409, "This server runs on the real clock; start it with a fake one.")
    target = body.set if body.set is not None else clock.now() + (body.advance or 0.0)
    if not 0 <= target <= LAST_SECOND:
        raise TwoFactorError(ErrorCode.INVALID_REQUEST, "The clock stays within years 1970-9999.")
    clock.set(target)
    return Now(now=clock.now())


@router.get("/audit")
def audit(request: Request) -> list[dict[str, Any]]:
    return [entry.to_dict() for entry in _clinic(request).audit.entries()]


@router.post("/reset", status_code=204, response_class=Response)
def reset(request: Request) -> Response:
    """Start over: no users but the factory's, no sessions, enforcement off, empty audit log."""
    room = room_of(request.scope)
    state = request.app.state
    if room.clinic is state.clinic:
        state.clinic = state.fresh_clinic()
        state.setups.clear()
    else:
        state.rooms.fresh(room)
    return Response(status_code=204)


class Opened(BaseModel):
    clinic: str
    now: float


@router.post("/clinics", status_code=201)
def open_clinic(request: Request) -> Opened:
    """A test clinic for one scenario: nothing another scenario does reaches it."""
    name, room = _rooms(request).open()
    return Opened(clinic=name, now=room.clock.now())


@router.delete("/clinics/{name}", status_code=204, response_class=Response)
def close_clinic(name: str, request: Request) -> Response:
    if not _rooms(request).close(name):
        raise HTTPException(404, "No such test clinic.")
    return Response(status_code=204)


def _rooms(request: Request) -> Rooms:
    return request.app.state.rooms  # type: ignore[no-any-return]


