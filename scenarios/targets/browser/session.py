"""One browser session: a fresh context and its page, as one person's browser, with its evidence.

A session is what a Target session string names in the browser: the harness signs in with a new
context each time (no cookies shared), so two sessions of one user are two browsers. While the
report wants evidence, the context is traced (Playwright trace, kept if the scenario fails) and
each action leaves a small screenshot with the secrets on screen masked.
"""

from __future__ import annotations

import io
import itertools
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PIL import Image

from clinic2fa.scenarios.targets.browser.passkey import HOLD_SCRIPT

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, CDPSession, Locator, Page, Response

VIEWPORT = {"width": 800, "height": 1100}  # tall enough for every page: shots show it all
SHOT_WIDTH = 480  # pixels: screenshots are scaled down to keep report.html reasonable
SHOT_QUALITY = 55  # JPEG


_LOADS = itertools.count()  # orders the pages every session loaded: which came last


def _waited(response: Response) -> float | None:
    """Seconds the page's requests waited for their answers (Resource Timing: request sent to
    first byte), the redirects that led to it included: the server's time, without the page
    work the browser does around it. None when a hop's timing is unknown."""
    total, request = 0.0, response.request
    while request is not None:
        timing = request.timing
        sent, came = timing.get("requestStart", -1), timing.get("responseStart", -1)
        if not 0 <= sent <= came:
            return None
        total += (came - sent) / 1000
        request = request.redirected_from
    return total


@dataclass
class Shot:
    """A screenshot after one Target action, as the report shows it."""

    action: str
    note: str
    jpeg: bytes


@dataclass
class Session:
    """A context and its page; `cdp` is opened when a passkey ceremony first needs it."""

    handle: str
    context: BrowserContext
    page: Page
    traced: bool = False
    seen: int = -1  # the target's change count when this page last loaded (see BrowserTarget)
    email: str = ""  # who signed in here, and their password (a re-authentication asks it)
    password: str = ""
    answer: Any = None  # what the last flow's module function returned
    headers: dict[str, str] = field(default_factory=dict)  # the context adds them to requests
    _cdp: CDPSession | None = field(default=None, repr=False)
    # the last page the browser loaded: its status and headers (SECRET-NO-STORE), the
    # seconds its request waited for the answer (SIGNIN-NO-ENUMERATION), and when it came
    document: tuple[int, dict[str, str], float | None, int] | None = None

    @classmethod
    def open(cls, browser: Browser, handle: str, *, timeout_ms: float, traced: bool,
             cookies: list[dict[str, str]] | None = None,
             headers: dict[str, str] | None = None) -> Session:
        """A fresh context (with `cookies`, to replay someone's, SESSION-NEW-TOKEN; `headers`
        on every request, such as the name of the scenario's test clinic on the reference)."""
        context = browser.new_context(viewport=VIEWPORT,  # type: ignore[arg-type]
                                      extra_http_headers=headers or None)
        context.set_default_timeout(timeout_ms)
        context.add_init_script(HOLD_SCRIPT)
        if cookies:
            context.add_cookies(cookies)  # type: ignore[arg-type]
        if traced:
            context.tracing.start(title=handle, snapshots=True, screenshots=False,
                                  sources=False)
        session = cls(handle, context, context.new_page(), traced, headers=dict(headers or {}))
        session.page.on("response", session._seen)
        return session

    def _seen(self, response: Response) -> None:
        """Keep the status, headers and wait of each page (not images or scripts) as it loads."""
        if response.request.resource_type == "document" and response.frame == self.page.main_frame:
            self.document = (response.status, dict(response.headers), _waited(response),
                             next(_LOADS))

    @property
    def cdp(self) -> CDPSession:
        """The page's DevTools session, with WebAuthn's virtual environment on (no UI)."""
        if self._cdp is None:
            self._cdp = self.context.new_cdp_session(self.page)
            self._cdp.send("WebAuthn.enable", {"enableUI": False})
        return self._cdp

    def shoot(self, masked: list[Locator]) -> bytes:
        """The page as shown, secrets masked, scaled down as a JPEG."""
        raw = self.page.screenshot(type="jpeg", quality=80, mask=masked, scale="css")
        image = Image.open(io.BytesIO(raw))
        if image.width > SHOT_WIDTH:
            height = round(image.height * SHOT_WIDTH / image.width)
            image = image.resize((SHOT_WIDTH, height), Image.Resampling.BILINEAR)
        out = io.BytesIO()
        image.convert("RGB").save(out, "JPEG", quality=SHOT_QUALITY, optimize=True)
        return out.getvalue()

    def close(self, trace_to: Path | None = None) -> None:
        """End the session; its trace is written to `trace_to`, or dropped."""
        try:
            if self.traced:
                if trace_to is not None:
                    self.context.tracing.stop(path=trace_to)
                else:
                    self.context.tracing.stop()
        finally:
            self.context.close()
