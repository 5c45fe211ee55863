"""ASGI middleware: request bodies over the limit refused with 413, and no-store on answers.

REQUEST-SIZE-LIMIT: a body whose Content-Length is over the clinic's `max_body_bytes` is
refused before a byte of it is read; one without a length is counted as it arrives and refused
once it passes the limit. SECRET-NO-STORE: every answer but a static file carries the clinic's
`cache_control` (no-store): sign-in answers hold tokens, the setup screen a secret,
backup codes are shown once, and a redirect may set the session cookie.
"""

from __future__ import annotations

import json

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from clinic2fa.simulator.errors import ErrorCode
from clinic2fa.simulator.web.handlers import TOO_LARGE
from clinic2fa.simulator.web.rooms import room_of

CACHEABLE = ("/static/",)  # the stylesheet and scripts: the same for everyone, no secret


def _policy(scope: Scope) -> object:
    return room_of(scope).clinic.policy


def _too_large_body() -> bytes:
    return json.dumps({"error": ErrorCode.REQUEST_TOO_LARGE.value, "reason": None,
                       "message": TOO_LARGE}).encode()


class BodyLimit:
    """413 for a body over the limit, without reading it whole (REQUEST-SIZE-LIMIT)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = int(_policy(scope).max_body_bytes)  # type: ignore[attr-defined]
        declared = dict(scope.get("headers", [])).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            body = _too_large_body()
            await send({"type": "http.response.start", "status": 413,
                        "headers": [(b"content-type", b"application/json"),
                                    (b"content-length", str(len(body)).encode()),
                                    (b"connection", b"close")]})
            await send({"type": "http.response.body", "body": body})
            return
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:  # FastAPI passes an HTTPException on as it is
                    raise HTTPException(413, TOO_LARGE)
            return message

        await self.app(scope, counted, send)


class NoStore:
    """Cache-Control from the clinic's policy on every answer but a static file."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("path", "").startswith(CACHEABLE):
            await self.app(scope, receive, send)
            return
        directive = str(_policy(scope).cache_control).encode()  # type: ignore[attr-defined]

        async def stamped(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", [])
                           if k.lower() != b"cache-control"]
                headers.append((b"cache-control", directive))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, stamped)
