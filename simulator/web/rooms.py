"""Test clinics: a clinic, a clock and setup screens of its own for each scenario of a parallel run.

Test support only. POST /test-support/clinics opens one (a fresh clinic like the served one, on
a FakeClock of its own starting at the served clock's time); a request that names it in the
`Test-Clinic` header is answered by it alone, pages and API alike, its Date header from its
clock. Scenarios running at once thus never see each other's accounts, throttles or clock
moves, as each scenario of the in-memory reference has its own clinic. A request without the
header is answered by the served clinic, as before.
"""

from __future__ import annotations

import json
import secrets
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from starlette.types import ASGIApp, Receive, Scope, Send

from clinic2fa.simulator.clinic import Clinic
from clinic2fa.simulator.clock import Clock, FakeClock
from clinic2fa.simulator.errors import ErrorCode
from clinic2fa.simulator.web.screens import SetupScreens

HEADER = "test-clinic"
LIMIT = 64  # open test clinics kept; past it the least recently used goes (a harness that died)
_SCOPE_KEY = "clinic2fa.room"


@dataclass
class Room:
    """What one clinic's requests share: the clinic, its clock, its setup screens."""

    clinic: Clinic
    clock: Clock
    setups: SetupScreens


def movable(clock: Clock) -> bool:
    return hasattr(clock, "advance") and hasattr(clock, "set")


class Rooms:
    """The open test clinics, by their random names; bounded, thread-safe."""

    def __init__(self, make: Callable[[Clock], Clinic], clock: Clock,
                 limit: int = LIMIT) -> None:
        self._make = make
        self._clock = clock
        self._limit = limit
        self._rooms: OrderedDict[str, Room] = OrderedDict()
        self._lock = threading.Lock()

    def open(self) -> tuple[str, Room]:
        """A fresh clinic on a clock of its own (the real clock stays shared: nobody moves it)."""
        clock: Clock = FakeClock(self._clock.now()) if movable(self._clock) else self._clock
        room = Room(self._make(clock), clock, SetupScreens())
        name = secrets.token_urlsafe(12)
        with self._lock:
            self._rooms[name] = room
            while len(self._rooms) > self._limit:
                self._rooms.popitem(last=False)
        return name, room

    def get(self, name: str) -> Room | None:
        with self._lock:
            room = self._rooms.get(name)
            if room is not None:
                self._rooms.move_to_end(name)
            return room

    def close(self, name: str) -> bool:
        with self._lock:
            return self._rooms.pop(name, None) is not None

    def fresh(self, room: Room) -> None:
        """The room's clinic started over (test-support reset), on the room's clock."""
        room.clinic = self._make(room.clock)
        room.setups.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._rooms)


def room_of(scope: Scope) -> Room:
    """The clinic this request talks to: its test clinic, else the one the app serves."""
    room = scope.get(_SCOPE_KEY)
    if room is not None:
        return room  # type: ignore[no-any-return]
    state = scope["app"].state
    return Room(state.clinic, state.clock, state.setups)


NO_SUCH_ROOM = json.dumps({"error": ErrorCode.INVALID_REQUEST.value, "reason": None,
                           "message": "No such test clinic (closed, or never opened)."}).encode()


class PickRoom:
    """Route a request naming a test clinic (the Test-Clinic header) to it; 404 if unknown."""

    def __init__(self, app: ASGIApp, rooms: Rooms) -> None:
        self.app = app
        self.rooms = rooms

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            name = next((v for k, v in scope.get("headers", []) if k == HEADER.encode()), None)
            if name is not None:
                room = self.rooms.get(name.decode("latin-1"))
                if room is None:
                    await send({"type": "http.response.start", "status": 404,
                                "headers": [(b"content-type", b"application/json"),
                                            (b"content-length", str(len(NO_SUCH_ROOM)).encode()),
                                            (b"cache-control", b"no-store")]})
                    await send({"type": "http.response.body", "body": NO_SUCH_ROOM})
                    return
                scope[_SCOPE_KEY] = room
        await self.app(scope, receive, send)
