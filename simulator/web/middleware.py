"""ASGI middleware: Date from the clinic's clock; no traceback ever reaches a client or a log."""

from __future__ import annotations

import json
import logging
import time
from email.utils import formatdate

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from clinic2fa.simulator.clock import Clock

log = logging.getLogger("clinic2fa.web")

INTERNAL = {"error": "internal", "reason": None, "message": "Something went wrong on the server."}


class ClockDate:
    """Set every response's Date from `clock` (a test clinic's own, for a request naming one:
    rooms.py), so the harness reads the clinic's time from it.

    With a FakeClock the Date follows test-support clock moves. The server must not add its own
    Date header too (uvicorn: date_header=False), or a client would see two.
    """

    def __init__(self, app: ASGIApp, clock: Clock) -> None:
        self.app = app
        self.clock = clock

    def _date(self, clock: Clock) -> str:
        try:
            return formatdate(clock.now(), usegmt=True)
        except (OverflowError, ValueError, OSError):  # a fake clock moved past what HTTP dates say
            return formatdate(time.time(), usegmt=True)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        clock = scope["clinic2fa.room"].clock if "clinic2fa.room" in scope else self.clock

        async def dated(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"date"]
                headers.append((b"date", self._date(clock).encode()))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, dated)


class CatchAll:
    """Turn any unexpected exception into a bare 500 and log only its type.

    Starlette's own server-error handler re-raises after answering, so the server would print a
    traceback, whose locals could hold a password or a code; here nothing is re-raised.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def watch(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, watch)
        except Exception as exc:  # the last line of defence: any failure becomes a 500
            log.error("internal error: %s on %s %s", type(exc).__name__, scope.get("method"),
                      scope.get("path"))
            if started:
                return  # too late for a status; the server closes the connection
            body = json.dumps(INTERNAL).encode()
            await send({"type": "http.response.start", "status": 500,
                        "headers": [(b"content-type", b"application/json"),
                                    (b"content-length", str(len(body)).encode())]})
            await send({"type": "http.response.body", "body": body})
