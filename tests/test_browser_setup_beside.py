"""While a setup screen is open, the browser target looks at Security and My Profile in a second
tab of the same browser, so a setup screen that no address brings back (a POST's answer, as on
Flask-Security-Too) is still there to confirm: SETUP-CONFIRM is judged, and can fail."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from http.cookies import SimpleCookie

import pytest
from browser_support import outcome
from playwright.sync_api import Browser
from starlette.types import ASGIApp, Receive, Scope, Send

from clinic2fa.scenarios.targets.browser.target import BrowserTarget
from clinic2fa.simulator.web.cookies import SESSION_COOKIE

SCENARIO = "SETUP-CONFIRM-OFF-UNTIL-CONFIRMED"
SETUP = "/settings/security/authenticator"


class SetupShownOnce:
    """The setup screen is shown once, right after "Set up authenticator app"; asked for again
    by its address, it sends the browser to Security (the screen is gone)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.showable: set[str] = set()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == SETUP:
            raw = dict(scope["headers"]).get(b"cookie", b"").decode("latin-1")
            jar = SimpleCookie(raw)
            session = jar[SESSION_COOKIE].value if SESSION_COOKIE in jar else ""
            if scope["method"] == "POST":
                self.showable.add(session)
            elif session in self.showable:
                self.showable.discard(session)
            else:
                await send({"type": "http.response.start", "status": 303,
                            "headers": [(b"location", b"/settings/security")]})
                await send({"type": "http.response.body", "body": b""})
                return
        await self.app(scope, receive, send)


@contextmanager
def _in_one_tab() -> Iterator[None]:
    yield


@pytest.mark.parametrize(("defect", "one_tab", "expected"), [
    (None, False, "pass"),
    (None, True, "fail"),  # without the second tab the screen is lost: not a judgement
    ("active-before-confirm", False, "fail"),
], ids=["second-tab", "one-tab", "active-before-confirm"])
def test_a_setup_screen_shown_once_is_kept(browser: Browser, monkeypatch: pytest.MonkeyPatch,
                                           defect: str | None, one_tab: bool,
                                           expected: str) -> None:
    if one_tab:
        monkeypatch.setattr(BrowserTarget, "_beside_setup", lambda self, s: _in_one_tab())
    result = outcome(browser, SCENARIO, defect=defect, wrap=SetupShownOnce)
    assert result.outcome.value == expected, result.message
    if defect:
        assert "2FA is on before the code was confirmed" in result.message
