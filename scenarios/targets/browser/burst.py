"""A race from the pages: the forms of many browser sessions sent at one moment.

Playwright's sync API serves one caller at a time, so a burst cannot run its calls in threads
(core/parallel.py does, for targets that can). Each call runs in a greenlet of its own instead
(the sync API is built on greenlets): it goes as a person would up to its next form submit and
parks there. Once every call is parked or done, each parked page is told to click its button at
once, and the calls are resumed in turn: each reads the page its answer loaded and goes on to
its next submit, which waits for the next round. Calls that send fewer forms than others (a
reset beside sign-ins of a password and a code) start later, as the burst before showed, so that
the last forms of all go out together.

Once means one of two ways. Where every parked form is a plain POST (URL-encoded fields), the
harness relays them: it reads each form as the page would send it (its fields, its button, the
session's cookies, the page as Referer and Origin), sends them all from threads released
together (core/parallel.py), and hands each answer to its page as the answer to the click,
which sends nothing itself (the page's route). A browser on a small machine spreads twenty
pages' own sends over 0.3-0.5 s, longer than many servers take to answer one; relayed, they
leave within milliseconds. The evidence is then the wire's: when each request's last byte left
and its answer's head came. Otherwise each page is told to click its button at one moment of the
machine's clock (a timer in the page), and the evidence is the browser's own timing of the
request (Resource Timing).

What a browser cannot send this way is Unsupported, decided before anything is sent together:
two calls on one session (one page sends one form at a time), or a call whose request does not
leave through a form the harness holds (a passkey's prompt or answer, which the page's script
sends; an action of a profile's module, which clicks for itself).
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from greenlet import getcurrent, greenlet

from clinic2fa.scenarios.contract import Refused, Unsupported
from clinic2fa.scenarios.core.parallel import MAX_PARALLEL, Outcome
from clinic2fa.scenarios.targets.browser import relay

if TYPE_CHECKING:
    from playwright._impl._sync_base import EventInfo
    from playwright.sync_api import ElementHandle, Locator, Page, Request

    from clinic2fa.scenarios.targets.browser.session import Session

# Milliseconds from arming the first page to the moment all click: arming one page takes a few.
LEAD_MS, LEAD_PER_PAGE_MS = 150, 15
ARM = """(button, at) => { setTimeout(() => button.click(), Math.max(0, at - Date.now())); }"""
CLICK = "(button) => button.click()"  # its answer is already here (relay.py): no moment to wait


def _now_ms() -> float:
    """The wall clock the pages' Date.now() reads (freezegun never holds it)."""
    return time.clock_gettime(time.CLOCK_REALTIME) * 1000


@dataclass
class _Parked:
    """A call waiting at its form's button; the hub sets the waits for what the click brings."""

    call: greenlet
    session: Session
    button: ElementHandle
    loaded: EventInfo[Page] = field(init=False)  # the page its answer loads
    asked: EventInfo[Request] = field(init=False)  # the request the click sends
    relayed: tuple[float, float] | None = None  # when the relay sent it and its answer came
    route: Any = None  # the page's route that hands it the relayed answer


class Burst:
    """One burst's calls, each in its greenlet; the browser target's `_send` parks them here."""

    def __init__(self, calls: Sequence[Callable[[], Any]], forms: Sequence[int] = (), *,
                 timeout: float = 30.0, relaying: bool = True) -> None:
        """`forms`: how many forms each call sent in an earlier burst like this one; a call that
        sent fewer starts as many rounds later, so that every call's last form (the one the
        race is about) goes in the same round. `relaying`: the harness sends plain forms itself
        (relay.py, waiting `timeout` seconds for each answer), else the pages click."""
        if not 0 < len(calls) <= MAX_PARALLEL:
            raise ValueError(f"between 1 and {MAX_PARALLEL} parallel calls, not {len(calls)}")
        self._hub = getcurrent()
        self._calls = [greenlet(call) for call in calls]
        most = max(forms, default=0)
        self._later = dict(zip(self._calls, (most - n for n in forms), strict=True)) \
            if len(forms) == len(calls) else {}
        self._forms: dict[greenlet, int] = {}  # the forms each call sent
        self._parked: list[_Parked] = []
        self._sessions: dict[str, greenlet] = {}  # which call acts in which session
        self._sent: dict[greenlet, tuple[float, float]] = {}  # a call's last request, in seconds
        self._began: dict[greenlet, float] = {}
        self._timeout, self._relaying = timeout, relaying

    def ours(self) -> bool:
        """Whether the running code is one of this burst's calls (else it acts alone)."""
        return getcurrent() in self._began

    def claim(self, handle: str) -> None:
        """A call acts in session `handle`: two calls of a burst cannot share one page."""
        me = getcurrent()
        if self._sessions.setdefault(handle, me) is not me:
            raise Unsupported("in a browser one page sends one form at a time: requests of one "
                              "session in parallel cannot be sent from pages")

    def park(self, s: Session, button: Locator) -> None:
        """In a call: wait for the others, click with them, return once the answer is parsed."""
        me = getcurrent()
        self._forms[me] = self._forms.get(me, 0) + 1
        parked = _Parked(me, s, button.element_handle())  # found now: quick to arm later
        self._parked.append(parked)
        self._hub.switch()  # back to the hub, which arms every parked page, then resumes us
        request = parked.asked.value  # waits for what the click sent (the hub set the waits)
        parked.loaded.value  # noqa: B018 - and for the page its answer loads, parsed
        if parked.route is not None:
            s.page.unroute("**/*", parked.route)
        self._sent[me] = parked.relayed or _timing(request, fallback=self._began[me])

    def run(self) -> list[Outcome[Any]]:
        """Every call to its end, their submits round by round; outcomes in the calls' order."""
        outcomes: dict[greenlet, Outcome[Any]] = {}
        error: BaseException | None = None
        alive = list(self._calls)
        for round_ in itertools.count():
            if not alive:
                break
            self._parked = []
            for call in alive:
                if self._later.get(call, 0) > round_:
                    continue  # it sends fewer forms: it starts later
                self._began.setdefault(call, _now_ms() / 1000)
                try:
                    result = call.switch()
                except Refused as refusal:
                    outcomes[call] = self._outcome(call, None, refusal)
                except (Unsupported, Exception) as exc:  # anything else ends the burst
                    error = error or exc
                else:
                    if call.dead:
                        if call not in self._sent:  # it never parked: no form it sent
                            error = error or Unsupported(
                                "a call of this burst sent its request without a form the "
                                "harness could hold to send it with the others (a passkey's "
                                "prompt or answer, which the page's script sends, or an action "
                                "of the profile's module, which clicks for itself)")
                        outcomes[call] = self._outcome(call, result, None)
            alive = [call for call in alive if not call.dead]
            if error is not None:
                for call in alive:  # parked or not yet started: unwound (GreenletExit)
                    call.throw()
                raise error
            self._fire()
        return [outcomes[call] for call in self._calls]

    def forms(self) -> tuple[int, ...]:
        """How many forms each call sent, in the calls' order (for the next burst like it)."""
        return tuple(self._forms.get(call, 0) for call in self._calls)

    def _fire(self) -> None:
        """Every parked form sent at once: relayed where all are plain, else each page clicks
        its button at one moment of the machine's clock."""
        forms = [relay.Form.read(p.button, p.session.context, p.session.headers)
                 for p in self._parked] if self._relaying else []
        answers: list[Any] = []
        if forms and all(forms):
            answers = relay.send([form for form in forms if form is not None], self._timeout)
        at = _now_ms() + LEAD_MS + LEAD_PER_PAGE_MS * len(self._parked)
        for i, parked in enumerate(self._parked):
            page = parked.session.page
            parked.loaded = page.expect_event("domcontentloaded").__enter__()
            parked.asked = page.expect_request(
                lambda r, frame=page.main_frame: r.is_navigation_request() and r.frame == frame,
            ).__enter__()
            if answers:
                response, sent, came = answers[i]
                parked.relayed = (sent, came)
                parked.route = relay.answer(page, forms[i], response)  # type: ignore[arg-type]
                parked.button.evaluate(CLICK)
            else:
                parked.button.evaluate(ARM, at)

    def _outcome(self, call: greenlet, result: Any, refusal: Refused | None) -> Outcome[Any]:
        if call in self._sent:
            sent, answered = self._sent[call]
            return Outcome(result, refusal, sent, answered, True)
        began = self._began[call]
        return Outcome(result, refusal, began, _now_ms() / 1000, False)


def _timing(request: Request, *, fallback: float) -> tuple[float, float]:
    """When `request` left and its answer's first byte came (seconds of the wall clock), as the
    browser timed it; where it did not, both the moment the call began (no evidence)."""
    timing = request.timing
    start = timing.get("startTime", -1)
    sent, came = timing.get("requestStart", -1), timing.get("responseStart", -1)
    if start <= 0 or came < 0:
        return fallback, fallback
    return (start + max(sent, 0)) / 1000, (start + came) / 1000
