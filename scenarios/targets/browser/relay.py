"""A burst's forms sent by the harness at once, each answer then shown to the page that had it.

Twenty pages clicking at one moment still send over 0.3-0.5 s on two cores: each page's
renderer must be scheduled. A server that answers in milliseconds then never has two of them in
hand at once, and the race goes unseen. So where a parked form is a plain POST, the harness
reads it as the page would send it (FormData with its submit button, the session's cookies, the
page as Referer and Origin), sends all of them from threads a barrier releases together, and
then lets each page click: the click's request is answered from the relayed answer (a route of
the page), so the server gets each form once, and the page goes on from the answer as if it had
sent it. Anything the relay cannot say the same way (a file, a GET, a form without a button of
its own) leaves the whole round to the pages' own clicks.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode, urlsplit

import httpx

from clinic2fa.scenarios.contract import Unreachable
from clinic2fa.scenarios.core import parallel
from clinic2fa.scenarios.targets.http import Wire

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext, ElementHandle, Page, Route

# The form as the page's click would send it, or null where a relay could not send the same.
READ = """(button) => {
  const form = button.form;
  if (!form) return null;
  const pick = (name, fallback) => button.hasAttribute(name) ? button[name] : fallback;
  const method = String(pick('formMethod', form.method)).toUpperCase();
  const enctype = pick('formEnctype', form.enctype);
  if (method !== 'POST' || enctype !== 'application/x-www-form-urlencoded') return null;
  const fields = [];
  for (const [name, value] of new FormData(form, button)) {
    if (typeof value !== 'string') return null;
    fields.push([name, value]);
  }
  return {action: pick('formAction', form.action), fields, referrer: location.href,
          agent: navigator.userAgent};
}"""
# Headers of an answer that describe how it came over the wire, not what it is: httpx has
# already undone them, so the page gets the body as it is.
HOP = frozenset({"content-encoding", "content-length", "transfer-encoding", "connection",
                 "keep-alive"})


def _now() -> float:
    """Seconds of the wall clock, as the burst's other evidence (Date.now in the pages)."""
    return time.clock_gettime(time.CLOCK_REALTIME)


@dataclass(frozen=True)
class Form:
    """One parked form as its page would send it."""

    action: str
    fields: tuple[tuple[str, str], ...]
    headers: tuple[tuple[str, str], ...]  # what the browser would send with it

    @classmethod
    def read(cls, button: ElementHandle, context: BrowserContext,
             extra: dict[str, str]) -> Form | None:
        """The form of `button`, with the session's cookies and `extra` headers (those the
        context adds to every request: a test clinic's name), or None."""
        said = button.evaluate(READ)
        if not said:
            return None
        action = said["action"]
        headers = {**extra, "content-type": "application/x-www-form-urlencoded",
                   "origin": "{0.scheme}://{0.netloc}".format(urlsplit(said["referrer"])),
                   "referer": said["referrer"], "user-agent": said["agent"]}
        jar = context.cookies(action)
        if jar:
            headers["cookie"] = "; ".join(f"{c['name']}={c['value']}" for c in jar)
        return cls(action, tuple((n, v) for n, v in said["fields"]), tuple(headers.items()))


def send(forms: Sequence[Form], timeout: float) -> list[tuple[httpx.Response, float, float]]:
    """Every form at once (read beforehand: Playwright is not for threads); each answer with
    when it left and when it came (wall-clock seconds)."""
    with httpx.Client(timeout=timeout, follow_redirects=False) as client:

        def one(form: Form) -> httpx.Response:
            request = client.build_request("POST", form.action, headers=list(form.headers),
                                           content=urlencode(form.fields).encode())
            wire = Wire(_now)
            request.extensions["trace"] = wire
            try:
                response = client.send(request)
            except httpx.TransportError as exc:
                raise Unreachable(f"target unreachable: a relayed form to {form.action}: "
                                  f"{type(exc).__name__}") from None
            parallel.exchanged(wire.sent or _now(), wire.answered or _now())
            return response

        calls = [partial(one, form) for form in forms]
        outcomes = parallel.together(calls, deadline=max(timeout, 1.0) * 2)
    return [(o.result, o.sent, o.answered) for o in outcomes]  # type: ignore[misc]


def answer(page: Page, form: Form, response: httpx.Response) -> Any:
    """The page's next POST to the form's action (its click, or the page's script sending it)
    answered with `response`, once, so that the server gets the form only from the relay; the
    handler is returned for `page.unroute`."""
    headers: dict[str, str] = {}
    for name, value in response.headers.multi_items():
        name = name.lower()
        if name in HOP:
            continue
        joint = "\n" if name == "set-cookie" else ", "  # Playwright splits Set-Cookie at lines
        headers[name] = f"{headers[name]}{joint}{value}" if name in headers else value
    body = response.content
    pending = [True]

    def handler(route: Route) -> None:
        request = route.request
        if pending and request.method == "POST" and request.url.split("#")[0] == form.action:
            pending.clear()
            route.fulfill(status=response.status_code, headers=headers, body=body)
        else:
            route.fallback()

    page.route("**/*", handler)
    return handler
