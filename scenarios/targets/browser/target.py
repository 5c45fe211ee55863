"""The Target interface through a deployment's web pages, clicking as a person would.

Each session string names a browser context (session.py). Elements are found by role and the
guide's labels (locators.py, overridable); an action is done the reference's way or by the flow
the mapping gives for it (flows.py), and Security's facts are read the reference's way or as the
mapping says (facts.py); reading pages is pages.py's. After every action the page must land
somewhere the harness can read: the page the action leads to, or a refusal. A refusal is read as
a person reads it: the role=alert text (mapped to the contract's codes by locators.py), or being
sent to the sign-in page, the code page or enrolment. Where the page offers no control at all
for an action, the refusal is inferred from what the page says instead, and its message says so.
A form the browser itself will not send (an empty required field) is refused without asking the
server. Accounts and the clock come from the HTTP side (test support, or the config's accounts).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from playwright.sync_api import Error as PlaywrightError

from clinic2fa.scenarios.contract import (
    Account,
    Answer,
    FeatureAbsent,
    NotApplicable,
    Refused,
    Security,
    SetupScreen,
    SignInResult,
    Unsupported,
)
from clinic2fa.scenarios.targets.browser import passkey as browser_passkey
from clinic2fa.scenarios.targets.browser.burst import Burst
from clinic2fa.scenarios.targets.browser.facts import digits, yes
from clinic2fa.scenarios.targets.browser.facts import read as read_fact
from clinic2fa.scenarios.targets.browser.flows import run as run_flow
from clinic2fa.scenarios.targets.browser.names import PasskeyNames
from clinic2fa.scenarios.targets.browser.pages import (
    BLOCKED,
    STAGES,
    PageError,
    Pages,
    _described,
    _inferred,
)
from clinic2fa.scenarios.targets.browser.passkey import ANSWER, HELD, MARK, BrowserPasskey
from clinic2fa.scenarios.targets.browser.session import Session, Shot

if TYPE_CHECKING:
    from playwright.sync_api import Locator

    from clinic2fa.scenarios.core.parallel import Outcome
    from clinic2fa.scenarios.targets.browser.provider import BrowserProvider
    from clinic2fa.scenarios.targets.http import HttpTarget

# A long text pasted into a field at once (typing two million characters takes minutes).
PASTE = """(e, n) => { e.value = "x".repeat(n); e.dispatchEvent(new Event("input")); }"""
SIGN_IN_PATH = "/api/v1/sign-in"  # what the contract's sign-in is, in pages: the form


class _Act:
    """What the screenshot after an action says about it."""

    note = ""


class _Driver:
    """What a mapping's flow needs from the target, for one session (flows.Driver)."""

    def __init__(self, target: BrowserTarget, s: Session) -> None:
        self._target, self._s = target, s

    def locate(self, what: Any) -> Locator:
        return self._target._map.locate(self._s.page, what)

    def find(self, what: Any, *, watch: bool) -> Locator:
        return self._target._find(self._s, what, watch=watch)

    def goto(self, path: str) -> None:
        self._target._goto_path(self._s, path)

    def submit(self, button: Locator) -> None:
        self._target._send(self._s, button)


class BrowserTarget(Pages):
    """One scenario's view of the deployment through Chromium."""

    def __init__(self, provider: BrowserProvider, http: HttpTarget) -> None:
        self.name = provider.name
        self.origin = provider.origin  # the page origin its passkeys are used on
        self.capabilities = provider.capabilities
        self.shots: list[Shot] = []
        self.sessions: dict[str, Session] = {}
        self._provider = provider
        self._http = http
        self.http = http  # the HTTP side, which the provider gives its accounts back through
        self._map = provider.mapping
        self._devices: dict[str, BrowserPasskey] = {}
        self._roles: dict[str, str] = {}  # email -> role, for the accounts it lent
        self._names = PasskeyNames()  # a site that names a passkey before its prompt
        # Actions that may change what pages show, counted: a page loaded since the last one
        # still shows the clinic as it is, so a person already on it need not open it again.
        self._changes = 0
        self._burst: Burst | None = None  # the parallel calls being sent, while they are
        self._forms: dict[int, tuple[int, ...]] = {}  # per burst size: the forms each call sent

    # -- accounts and time: the HTTP side --------------------------------------------------------

    def account(self, role: str) -> Account:
        self._changes += 1  # Settings -> Staff lists one more
        account = self._http.account(role)
        self._roles[account.email.casefold()] = role  # whose page a session shows
        return account

    def server_time(self) -> float:
        return self._http.server_time()

    def advance_clock(self, seconds: float) -> None:
        self._changes += 1
        self._http.advance_clock(seconds)

    def new_passkey(self, **flags: Any) -> BrowserPasskey:
        """A passkey in Chromium's virtual authenticator (misbehaviour it cannot: Unsupported)."""
        return browser_passkey.make(self._devices, **flags)

    # -- what the browser holds and sees (Needs.SESSIONS, Needs.HTTP) ------------------------------

    def session_credentials(self, session: str) -> tuple[str, ...]:
        """The browser's cookies for the pages, name=value, sorted."""
        s = self._session(session)
        return tuple(sorted(f"{c['name']}={c['value']}"
                            for c in s.context.cookies(self._provider.origin)))

    def replay_session(self, credentials: tuple[str, ...]) -> str:
        """Another browser with exactly these cookies, as whoever copied them would have."""
        cookies = [{"name": name, "value": value, "url": self._provider.origin}
                   for name, _, value in (c.partition("=") for c in credentials)]
        return self._new_session(cookies).handle

    def last_answer(self, session: str | None = None) -> Answer | None:
        """The status, headers and wait of the last page this session (None: any session of
        this scenario, such as a sign-in that was refused) loaded."""
        if session is None:
            loaded = [s.document for s in self.sessions.values() if s.document]
            document = max(loaded, key=lambda d: d[3]) if loaded else None
        else:
            document = self.sessions[session].document if session in self.sessions else None
        if document is None:
            return None
        headers = {k.lower(): v for k, v in document[1].items()
                   if k.lower() not in ("set-cookie", "cookie", "authorization")}
        return Answer(document[0], headers, seconds=document[2])

    def send_raw(self, method: str, path: str, body: bytes,
                 headers: dict[str, str]) -> Answer:
        """Only what a person can send: an oversized sign-in is the sign-in form with a
        password as long as the body (pasted in), and the answer is the page it loads."""
        if (method, path) != ("POST", SIGN_IN_PATH):
            raise Unsupported("a person's browser sends only the forms its pages have: a "
                              "request shaped by the harness goes over --target http://")
        s = self._new_session()
        with self._acting("sign_in", s):
            self._goto(s, "sign_in")
            self._loc(s, "sign_in_email").fill("nobody@example.com")
            field = self._loc(s, "sign_in_password")
            took = int(field.evaluate("e => e.maxLength"))  # -1: no limit of the page's own
            if 0 <= took < len(body):  # nobody can type or paste more into it
                raise Unsupported(f"the sign-in page's password field takes {took} characters: "
                                  "a person cannot send an oversized sign-in through it")
            field.evaluate(PASTE, len(body))
            with s.page.expect_event("domcontentloaded"):
                self._loc(s, "sign_in_submit").click()
        answer = self.last_answer(s.handle)
        if answer is None:
            raise PageError("the oversized sign-in form loaded no page")
        if "json" in answer.headers.get("content-type", ""):  # the browser shows it as text
            with suppress(ValueError, PlaywrightError):
                return Answer(answer.status, answer.headers,
                              json.loads(s.page.locator("body").inner_text()))
        return answer

    # -- parallel requests (Needs.PARALLEL) --------------------------------------------------------

    def together(self, calls: Sequence[Callable[[], Any]]) -> list[Outcome[Any]]:
        """`calls` sent at once from their pages, as core/parallel.together (burst.py)."""
        self._burst = Burst(calls, self._forms.get(len(calls), ()),
                            timeout=self._provider.timeout)
        try:
            outcomes = self._burst.run()
            self._forms[len(calls)] = self._burst.forms()  # the next burst of as many, aligned
            return outcomes
        finally:
            self._burst = None
            # each page loaded in the burst may be older than another call's change (its
            # action began, and counted, before this page's answer came): none is current
            self._changes += 1

    def _send(self, s: Session, button: Locator) -> None:
        """A form's button clicked; in a burst, at the moment the burst's other forms go."""
        if self._burst is not None and self._burst.ours():
            self._check_form(button)
            self._burst.park(s, button)
            s.seen = self._changes
            return
        super()._send(s, button)

    # -- sign-in ---------------------------------------------------------------------------------
    #
    # Each action is done the reference's way, or by the flow the mapping gives for it
    # (flows.py); either way the page it lands on is read the same way.

    def sign_in(self, email: str, password: str) -> SignInResult:
        s = self._new_session()
        s.email, s.password = email, password
        with self._acting("sign_in", s) as act:
            if self._flow("sign_in", s):
                landed = self._settle(s, self._marks(s, *STAGES))
            else:
                self._goto(s, "sign_in")
                self._loc(s, "sign_in_email").fill(email)
                self._loc(s, "sign_in_password").fill(password)
                landed = self._submit(s, self._loc(s, "sign_in_submit"),
                                      self._marks(s, *STAGES))
            act.note = STAGES[landed]
        return SignInResult(s.handle, STAGES[landed])

    def enter_code(self, session: str, code: str) -> SignInResult:
        s = self._session(session)
        with self._acting("enter_code", s):
            if self._flow("enter_code", s, code=code):
                self._settle(s, self._marks(s, "page_profile"))
            else:
                self._on_code_page(s, "code_field")
                self._loc(s, "code_field").fill(code)
                self._submit(s, self._loc(s, "code_submit"), self._marks(s, "page_profile"))
        return SignInResult(s.handle, "signed_in")

    def use_backup_code(self, session: str, code: str) -> SignInResult:
        s = self._session(session)
        with self._acting("use_backup_code", s):
            if self._flow("use_backup_code", s, code=code):
                self._settle(s, self._marks(s, "page_profile"))
                return SignInResult(s.handle, "signed_in")
            if not self._shown(s, "backup_code_field"):  # not still on it after a refusal
                self._on_code_page(s, "use_backup_code")
                self._click_through(s, self._loc(s, "use_backup_code"),
                                    self._marks(s, "backup_code_field"))
            self._loc(s, "backup_code_field").fill(code)
            self._submit(s, self._loc(s, "backup_code_submit"), self._marks(s, "page_profile"))
        return SignInResult(s.handle, "signed_in")

    def sign_out(self, session: str) -> None:
        s = self._session(session)
        with self._acting("sign_out", s):
            if self._flow("sign_out", s):
                self._settle(s, self._marks(s, "notice_signed_out"))
                return
            button = self._sign_out_control(s)
            if button is None:
                return  # already signed out: signing out twice is not an error
            self._submit(s, button, self._marks(s, "notice_signed_out"))

    def profile(self, session: str) -> dict[str, Any]:
        s = self._session(session)
        with self._acting("profile", s, reads=True), self._beside_setup(s):
            if self._flow("profile", s):
                self._settle(s, self._marks(s, "page_profile"))
            else:
                self._open(s, "profile", "page_profile")
            return {"name": self._text(s, "profile_name"),
                    "email": self._text(s, "profile_email"),
                    "role": self._text(s, "profile_role").lower(),
                    "two_factor_enabled": self._fact(
                        s, "profile_two_factor", lambda: yes(self._text(s, "profile_two_factor"))),
                    "page_text": self._page_text(s)}

    # -- Security settings -----------------------------------------------------------------------

    def security(self, session: str) -> Security:
        s = self._session(session)
        with self._acting("security", s, reads=True), self._beside_setup(s):
            pages: dict[str, str] = {}
            if "backup_codes" in self._map.pages or "backup_codes" in self._map.flows:
                # where the deployment shows codes again (its flow passes a password prompt)
                if not self._flow("backup_codes", s):
                    self._goto(s, "backup_codes")
                self._settle(s, {"body": self._loc(s, "page_body")}, landings=False)
                pages[urlsplit(s.page.url).path] = self._page_text(s)
            self._to_security(s)
            text = self._page_text(s)
            defaults: dict[str, Callable[[], Any]] = {
                "two_factor": lambda: yes(self._text(s, "fact_two_factor")),
                "authenticator_app": lambda: yes(self._text(s, "fact_authenticator_app")),
                "backup_codes_left": lambda: digits(self._text(s, "fact_backup_codes_left")),
                "passkeys": lambda: tuple(t.strip() for t in
                                          self._loc(s, "passkey_names").all_inner_texts()),
                "enforcement_required": lambda: self._enforcement_shown(s),
            }
            # Facts read on the Security page first, then those the mapping reads elsewhere.
            order = sorted(defaults, key=lambda n: n in self._map.facts
                           and self._map.facts[n].page is not None)
            seen: dict[str, Any] = {}
            for name in order:
                seen[name] = self._fact(s, name, defaults[name])
                if name in self._map.facts and self._map.facts[name].page is not None:
                    pages[self._map.facts[name].page] = self._page_text(s)
            # every page read is part of what Security showed (BACKUP-SHOWN-ONCE looks in it)
            return Security(bool(seen["two_factor"]), bool(seen["authenticator_app"]),
                            int(seen["backup_codes_left"]),
                            self._names.shown(tuple(seen["passkeys"])),
                            bool(seen["enforcement_required"]),
                            {"page_text": text, "pages": pages})

    def start_authenticator_setup(self, session: str) -> SetupScreen:
        s = self._session(session)
        with self._acting("start_authenticator_setup", s):
            if self._flow("start_authenticator_setup", s):
                self._settle(s, self._marks(s, "qr_code"))
                return self._setup_screen(s)
            self._open(s, "security", "page_security")
            button = self._loc(s, "setup_authenticator")
            if not button.is_visible():
                self._not_offered(s, '"Set up authenticator app"',
                                  already=("fact_authenticator_app", "already_enrolled"))
            self._submit(s, button, self._marks(s, "qr_code"))
            return self._setup_screen(s)

    def confirm_enrolment(self, session: str, code: str) -> list[str]:
        s = self._session(session)
        with self._acting("confirm_enrolment", s):
            if self._flow("confirm_enrolment", s, code=code):
                self._settle(s, self._marks(s, "backup_codes", "notice_enrolled"))
                return self._codes(s)  # where it landed, a notice beside them or not
            if not (self._loc(s, "qr_code").is_visible()
                    and self._loc(s, "confirm_field").is_visible()):
                self._goto(s, "setup")  # back to the setup screen in progress
                self._settle(s, self._marks(s, "confirm_field"),
                             {"page_security": "no_setup_in_progress"})
            self._loc(s, "confirm_field").fill(code)
            self._submit(s, self._loc(s, "confirm_submit"), self._marks(s, "backup_codes"))
            return self._codes(s)

    def regenerate_backup_codes(self, session: str, password: str) -> list[str]:
        s = self._session(session)
        with self._acting("regenerate_backup_codes", s):
            if self._flow("regenerate_backup_codes", s, password=password):
                self._settle(s, self._marks(s, "backup_codes"))
                return self._codes(s)
            self._open(s, "security", "page_security")
            if not self._loc(s, "regenerate_form").is_visible():
                self._not_offered(s, '"Regenerate backup codes"')
            self._loc(s, "regenerate_password").fill(password)
            self._submit(s, self._loc(s, "regenerate_submit"), self._marks(s, "backup_codes"))
            return self._codes(s)

    def disable_2fa(self, session: str, password: str) -> None:
        s = self._session(session)
        with self._acting("disable_2fa", s):
            if self._flow("disable_2fa", s, password=password):
                self._settle(s, self._marks(s, "notice_disabled"))
                return
            self._open(s, "security", "page_security")
            if not self._loc(s, "disable_form").is_visible():
                self._not_offered(s, '"Disable 2FA"', blocked=("disable_blocked", "enforced"))
            self._loc(s, "disable_password").fill(password)
            self._submit(s, self._loc(s, "disable_submit"), self._marks(s, "notice_disabled"))

    # -- owner and admin -------------------------------------------------------------------------

    def set_enforcement(self, session: str, required: bool) -> None:
        s = self._session(session)
        with self._acting("set_enforcement", s):
            action = "set_enforcement_required" if required else "set_enforcement_optional"
            if self._flow(action, s):
                self._settle(s, self._marks(s, "notice_saved"))
                return
            self._open(s, "security", "page_security")
            choice = self._loc(s, "enforcement_required" if required else "enforcement_optional")
            if not choice.is_visible():
                if self._shown(s, "notice_enrol"):
                    raise _inferred("2FA enforcement (Security shows only enrolment)",
                                    "enrolment_required")
                if self._roles.get(s.email.casefold()) == "owner":  # no choice, not a "no"
                    raise FeatureAbsent("the owner's Security page offers no 2FA enforcement "
                                        "(read from the page)", "enforcement")
                raise _inferred("2FA enforcement choice for this user", "not_permitted")
            choice.check()
            self._submit(s, self._loc(s, "enforcement_save"), self._marks(s, "notice_saved"))

    def staff(self, session: str) -> list[dict[str, Any]]:
        s = self._session(session)
        with self._acting("staff", s, reads=True):
            if self._flow("staff", s):
                if isinstance(s.answer, list):  # a module's function read the rows itself
                    return [dict(row) for row in s.answer]
                self._settle(s, self._marks(s, "page_staff"))
            else:
                self._open(s, "staff", "page_staff")
            return self._staff_rows(s)

    def stored_password(self, session: str, email: str) -> str | None:
        """As the profile's `stored_password` function reads it from the owner's pages (a
        Django admin's user page shows the hash masked)."""
        s = self._session(session)
        with self._acting("stored_password", s, reads=True):
            if not self._flow("stored_password", s, subject=email):
                raise NotApplicable("the profile names no stored_password flow")
            return s.answer if isinstance(s.answer, str) else None

    def disable_2fa_for(self, session: str, email: str) -> None:
        s = self._session(session)
        with self._acting("disable_2fa_for", s) as act:
            if self._flow("disable_2fa_for", s, subject=email):
                self._settle(s, self._marks(s, "notice_staff_disabled"))
                return
            self._open(s, "staff", "page_staff")
            rows = {r["email"].casefold(): r for r in self._staff_rows(s)}
            if email.casefold() not in rows:
                raise _inferred(f"row for {email} in Settings -> Staff", "unknown_user")
            cell = s.page.get_by_role("cell", name=rows[email.casefold()]["email"], exact=True)
            row = self._loc(s, "staff_table").get_by_role("row").filter(has=cell)
            button = self._map.locate(row, "staff_disable")
            if not button.is_visible():
                if not rows[email.casefold()]["two_factor_enabled"]:
                    act.note = f"2FA already off for {email}: nothing to disable"
                    return
                raise _inferred(f'"Disable 2FA" for {email} in Settings -> Staff',
                                "not_permitted")
            self._submit(s, button, self._marks(s, "notice_staff_disabled"))

    # -- passkeys --------------------------------------------------------------------------------

    def begin_passkey_setup(self, session: str) -> dict[str, Any]:
        s = self._session(session)
        with self._acting("begin_passkey_setup", s):
            s.cdp  # noqa: B018 - the virtual environment must be on before the page asks
            if self._flow("begin_passkey_setup", s):
                self._names.typed(s.answer)  # the name a function typed before the prompt
                return self._held(s, "create")
            self._open(s, "security", "page_security")
            button = self._loc(s, "setup_passkey")
            if not button.is_visible():
                self._not_offered(s, '"Set up passkey"')
            return self._hold(s, button, "create")

    def finish_passkey_setup(self, session: str, credential: dict[str, Any],
                             name: str) -> list[str]:
        s = self._session(session)
        with self._acting("finish_passkey_setup", s) as act:
            device = browser_passkey.device_of(self._devices, credential, "create")
            self._check_held(s, credential)
            self._names.chosen(name)
            if not self._flow("finish_passkey_setup", s, name=name):
                self._loc(s, "passkey_name_field").fill(name)
            self._touch(s, device, self._marks(s, "backup_codes", "notice_passkey_added"))
            act.note = f"passkey {name!r} added"
            return self._codes(s)  # django-allauth: the notice above the codes it made

    def begin_passkey_sign_in(self, session: str) -> dict[str, Any]:
        s = self._session(session)
        with self._acting("begin_passkey_sign_in", s):
            s.cdp  # noqa: B018 - the virtual environment must be on before the page asks
            if self._flow("begin_passkey_sign_in", s):
                return self._held(s, "get")
            self._on_code_page(s, "use_passkey")
            return self._hold(s, self._loc(s, "use_passkey"), "get")

    def finish_passkey_sign_in(self, session: str, credential: dict[str, Any]) -> SignInResult:
        s = self._session(session)
        with self._acting("finish_passkey_sign_in", s):
            device = browser_passkey.device_of(self._devices, credential, "get")
            self._check_held(s, credential)
            self._touch(s, device, self._marks(s, "page_profile"),
                        any_credential=bool(credential.get("any_credential")))
        return SignInResult(s.handle, "signed_in")

    def remove_passkey(self, session: str, name: str, password: str) -> None:
        s = self._session(session)
        name = self._names.on_site(name)
        with self._acting("remove_passkey", s):
            if self._flow("remove_passkey", s, name=name, password=password):
                self._settle(s, self._marks(s, "notice_passkey_removed"))
                return
            self._open(s, "security", "page_security")
            if not self._loc(s, "remove_passkey_form", name=name).is_visible():
                raise _inferred(f"passkey {name!r} to remove", "not_enrolled")
            self._loc(s, "remove_passkey_password", name=name).fill(password)
            self._submit(s, self._loc(s, "remove_passkey_submit", name=name),
                         self._marks(s, "notice_passkey_removed"))

    # -- the deployment's own way ------------------------------------------------------------------

    def _flow(self, action: str, s: Session, **values: str) -> bool:
        """Do `action` as the mapping's flow says, if it gives one; False otherwise."""
        flow = self._map.flows.get(action)
        if flow is None:
            return False
        s.answer = run_flow(flow, s.page, _Driver(self, s),
                            {"email": s.email, "password": s.password, **values},
                            self._provider.timeout * 1000)
        s.seen = self._changes
        return True

    def _find(self, s: Session, what: Any, *, watch: bool) -> Locator:
        """A flow's element, waited for; where it does not come, the page's refusal."""
        found = self._map.locate(s.page, what)
        if watch:  # an alert on a page the flow loaded is this action's answer
            self._settle(s, {"step": found}, BLOCKED, landings=False)
            return found.filter(visible=True).first
        try:
            found.first.wait_for(state="visible")
        except PlaywrightError:
            try:  # the page as it is now: an alert, a notice or a landing is a refusal
                self._settle(s, {}, BLOCKED, timeout=0.0)
            except PageError:
                raise PageError(f"a flow step wants {what!r}, which the page ({s.page.url}) "
                                "does not show: a mapping file can say where it is") from None
        return found.filter(visible=True).first

    def _to_security(self, s: Session) -> None:
        if self._flow("security", s):
            self._settle(s, self._marks(s, "page_security"))
        else:
            self._open(s, "security", "page_security")

    @contextmanager
    def _beside_setup(self, s: Session) -> Iterator[None]:
        """A look at a page while a setup screen is open happens in a second tab of the same
        browser, as a person checks Security beside it: the setup tab stays as it is (on some
        sites a POST's answer, which no address brings back)."""
        open_setup = False
        with suppress(PlaywrightError):
            open_setup = self._loc(s, "qr_code").is_visible()
        if not open_setup:
            yield
            return
        main, seen = s.page, s.seen
        s.page = s.context.new_page()
        try:
            yield
        finally:
            with suppress(PlaywrightError):
                s.page.close()
            s.page, s.seen = main, seen

    def _fact(self, s: Session, name: str, default: Callable[[], Any]) -> Any:
        """A fact as the mapping reads it (on its page, if it names one), else the default."""
        fact = self._map.facts.get(name)
        if fact is None:
            return default()
        if fact.page is not None:
            self._goto_path(s, fact.page)
            self._settle(s, {"body": self._loc(s, "page_body")}, landings=False)
        return read_fact(fact, lambda what: self._map.locate(s.page, what))

    # -- sessions and evidence -------------------------------------------------------------------

    def _new_session(self, cookies: list[dict[str, str]] | None = None) -> Session:
        handle = f"browser-{len(self.sessions) + 1}"
        s = Session.open(self._provider.browser, handle, timeout_ms=self._provider.timeout * 1000,
                         traced=self._provider.keeps_evidence, cookies=cookies,
                         headers=self._http.headers)
        self.sessions[handle] = s
        return s

    def _session(self, handle: str) -> Session:
        if handle not in self.sessions:
            raise Refused("not_signed_in", None, "no browser session of this scenario")
        if self._burst is not None and self._burst.ours():
            self._burst.claim(handle)
        return self.sessions[handle]

    @contextmanager
    def _acting(self, action: str, s: Session, *, reads: bool = False) -> Iterator[_Act]:
        """Run one action; then a screenshot of where it left the page (kept for the report)."""
        if not reads:
            self._changes += 1
        act = _Act()
        try:
            yield act
        except Refused as refusal:
            self._shoot(s, action, f"refused: {refusal.code}"
                                   f"{f' ({refusal.reason})' if refusal.reason else ''}")
            raise
        except (NotApplicable, Unsupported):
            raise
        except PlaywrightError as exc:
            self._shoot(s, action, "the page could not be read")
            raise PageError(f"{action}: {_described(exc)}") from None
        except Exception:
            self._shoot(s, action, "error")
            raise
        self._shoot(s, action, act.note)

    def _shoot(self, s: Session, action: str, note: str) -> None:
        if not self._provider.keeps_evidence:
            return
        masked = [self._loc(s, n) for n in ("qr_code", "manual_entry", "backup_codes")]
        with suppress(PlaywrightError):  # a page that cannot be photographed: its trace remains
            self.shots.append(Shot(action, note, s.shoot(masked)))

    def close(self) -> None:
        for s in self.sessions.values():
            s.close()
        self.sessions.clear()

    # -- passkey ceremonies ----------------------------------------------------------------------

    def _hold(self, s: Session, button: Locator, kind: str) -> dict[str, Any]:
        """Click the passkey button; the options the page asked the browser with, held."""
        s.cdp  # noqa: B018 - the virtual environment must be on before the page asks
        button.click()
        return self._held(s, kind)

    def _held(self, s: Session, kind: str) -> dict[str, Any]:
        """The options of the passkey prompt the page opened, held for the passkey's answer."""
        held = s.page.locator(f'html[data-clinic2fa-ceremony="{kind}"]')
        self._settle(s, {"held": held}, landings=False)
        ceremony = s.page.evaluate(HELD)
        return {**ceremony["options"], MARK: f"{s.handle}#{ceremony['id']}"}

    def _check_held(self, s: Session, credential: dict[str, Any]) -> None:
        ceremony = s.page.evaluate(HELD)
        if ceremony is None or credential.get("ceremony") != f"{s.handle}#{ceremony['id']}":
            raise Unsupported("in a browser a passkey answers only the prompt open on its own "
                              "page: an answer to another ceremony cannot be sent")

    def _touch(self, s: Session, device: BrowserPasskey, wanted: dict[str, Locator], *,
               any_credential: bool = False) -> str:
        """The person touches the key (or has none): the browser answers the held prompt
        (`any_credential`: with whichever credential the key holds, the allow list dropped)."""
        made = device.answer_in_page(s.page.evaluate(HELD), any_credential=any_credential)
        authenticator = None if made else device.attach(s.cdp, discoverable=any_credential)
        try:
            timeout = None if device.present else browser_passkey.NO_AUTHENTICATOR_TIMEOUT_MS
            s.page.evaluate(ANSWER, [timeout, not device.user_verified, any_credential, made])
            return self._settle(s, wanted, landings=False)
        finally:
            device.detach(s.cdp, authenticator)
