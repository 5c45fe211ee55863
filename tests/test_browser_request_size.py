"""In a browser an oversized request is what a person can send: a huge password, pasted in."""

from __future__ import annotations

import re

import pytest
from browser_support import provider, reference, run
from playwright.sync_api import Browser
from starlette.types import ASGIApp, Message, Receive, Scope, Send


def no_maxlength(app: ASGIApp) -> ASGIApp:
    """The reference's pages without their fields' maxlength: a huge password can be sent."""

    async def wrapped(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        held: list[Message] = []

        async def rewrite(message: Message) -> None:
            held.append(message)
            if message["type"] == "http.response.start" or message.get("more_body"):
                return
            start, body = held[0], b"".join(m.get("body", b"") for m in held[1:])
            headers = list(start["headers"])
            if (b"content-type", b"text/html; charset=utf-8") in headers:
                body = re.sub(rb'\smaxlength="\d+"', b"", body)
                headers = [(k, str(len(body)).encode() if k == b"content-length" else v)
                           for k, v in headers]
            await send({**start, "headers": headers})
            await send({"type": "http.response.body", "body": body})

        await app(scope, receive, rewrite)

    return wrapped


def _outcome(browser: Browser, defect: str | None, wrap: bool) -> tuple[str, str]:
    with reference(defect, wrap=no_maxlength if wrap else None) as url:
        made = provider(url, browser)
        try:
            result = run(made, "REQUEST-SIZE-LIMIT-413")["REQUEST-SIZE-LIMIT-413"]
        finally:
            made.close()
    return result.outcome.value, result.message


@pytest.mark.parametrize(("defect", "outcome"), [(None, "pass"), ("no-body-limit", "fail")])
def test_an_oversized_sign_in_form_is_refused_with_413(browser: Browser, defect: str | None,
                                                       outcome: str) -> None:
    got, message = _outcome(browser, defect, wrap=True)
    assert got == outcome, message
    if defect:
        assert message.startswith("a 2 MiB body got 422, not 413: it was read"), message


def test_a_page_that_will_not_send_so_much_is_no_verdict(browser: Browser) -> None:
    got, message = _outcome(browser, None, wrap=False)  # the reference's own maxlength
    assert got == "unsupported", message
    assert "takes 1024 characters" in message
