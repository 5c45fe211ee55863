"""create_app(): one reference clinic behind the JSON contract, the pages and test support."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import anyio.to_thread
from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles

from clinic2fa.simulator.clinic import Clinic
from clinic2fa.simulator.clock import Clock
from clinic2fa.simulator.web import api, handlers, pages, rooms, support
from clinic2fa.simulator.web.contract import TITLE, VERSION
from clinic2fa.simulator.web.limits import BodyLimit, NoStore
from clinic2fa.simulator.web.middleware import CatchAll, ClockDate
from clinic2fa.simulator.web.screens import SetupScreens

STATIC = Path(__file__).with_name("static")


ClinicFactory = Callable[..., Clinic]  # fresh_clinic(clock=None): None for the served clock


def same_kind(clinic: Clinic) -> ClinicFactory:
    """A factory for empty clinics like `clinic`: same policy, name and relying party, and the
    same clock unless given another (a test clinic's, simulator/web/rooms.py)."""
    party = clinic.relying_party()
    kind = type(clinic)  # a seeded defect's subclass stays that defect

    def fresh(clock: Clock | None = None) -> Clinic:
        return kind(clock=clock or clinic.clock, policy=clinic.policy, name=clinic.name, **party)

    return fresh


def create_app(clinic: Clinic, *, test_support: bool, clock: Clock | None = None,
               fresh_clinic: ClinicFactory | None = None,
               threads: int | None = None) -> FastAPI:
    """The whole web app around one in-memory clinic.

    `clock` dates every response (default: the clinic's), so with a FakeClock the Date header
    follows it. `test_support` mounts /test-support, which a deployment never has;
    `fresh_clinic` is what its reset builds (default: an empty clinic of the same kind), and,
    given a `clock=`, what each test clinic of a parallel run starts as (rooms.py).
    `threads` caps the worker threads the synchronous endpoints run in.
    """

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if threads is not None:
            anyio.to_thread.current_default_thread_limiter().total_tokens = threads
        yield

    app = FastAPI(title=TITLE, version=VERSION, description=DESCRIPTION, docs_url=None,
                  redoc_url=None, openapi_url=None, lifespan=lifespan,
                  generate_unique_id_function=_operation_id)
    app.state.clinic = clinic
    app.state.clock = clock or clinic.clock
    app.state.fresh_clinic = fresh_clinic or same_kind(clinic)
    app.state.csrf_key = secrets.token_bytes(32)
    app.state.setups = SetupScreens()  # the QR code in progress, to show it again
    handlers.install(app)
    app.include_router(api.router)
    app.include_router(pages.router)
    if test_support:
        app.include_router(support.router)
        app.state.rooms = rooms.Rooms(lambda clock: app.state.fresh_clinic(clock=clock),
                                      app.state.clock)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.add_middleware(BodyLimit)  # innermost: its 413 for a streamed body passes CatchAll
    app.add_middleware(NoStore)
    app.add_middleware(CatchAll)
    app.add_middleware(ClockDate, clock=app.state.clock)
    if test_support:  # outermost: every layer below answers as the named test clinic
        app.add_middleware(rooms.PickRoom, rooms=app.state.rooms)
    return app


def _operation_id(route: APIRoute) -> str:
    """operationId = the endpoint's function name: stable and readable in generated clients."""
    return route.name


DESCRIPTION = """\
The JSON API of a clinic deployment's two-factor authentication, as the conformance harness
drives it. Sign in with POST /api/v1/sign-in and send the returned `session` as
`Authorization: Bearer <session>`. Every refusal is `{"error", "reason", "message"}` with a
stable `error` code; see spec/http-contract.md for the status of each code.
"""
