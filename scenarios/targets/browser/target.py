"""The Target interface through a deployment's web pages, clicking as a person would.

Each session string names a browser context (browser_session.py). Elements are found by role and
the guide's labels (locators.py, overridable). After every action the page must land somewhere
the harness can read: the page the action leads to, or a refusal. A refusal is read as a person
reads it: the role=alert text (mapped to the contract's codes by locators.py), or being sent to
the sign-in page, the code page or enrolment. Where the page offers no control at all for an
action, the refusal is inferred from what the page says instead, and its message says so. A form
the browser itself will not send (an empty required field) is refused without asking the server.
Accounts and the clock come from the HTTP side (test support, or the config's accounts).
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from functools import reduce
from typing import TYPE_CHECKING, Any, NoReturn

from playwright.sync_api import Error as PlaywrightError

from clinic2fa.scenarios.contract import (
    Account,
    Answer,
    NotApplicable,
    Refused,
    Security,
    SetupScreen,
    SignInResult,
    Unreachable,
    Unsupported,
)
from clinic2fa.scenarios.targets.browser import passkey as browser_passkey
from clinic2fa.scenarios.targets.browser.locators import TRUE_WORDS, UNKNOWN
from clinic2fa.scenarios.targets.browser.passkey import ANSWER, HELD, MARK, BrowserPasskey
from clinic2fa.scenarios.targets.browser.session import Session, Shot
from clinic2fa.simulator.virtual.authenticator_app import DeviceError, decode_qr

if TYPE_CHECKING:
    from playwright.sync_api import Locator

    from clinic2fa.scenarios.targets.browser.provider import BrowserProvider
    from clinic2fa.scenarios.targets.http import HttpTarget

# Where a page may send a person instead of where they wanted to go, and what that means.
LANDINGS = {
    "page_sign_in": "not_signed_in",
    "notice_expired": "sign_in_expired",
    "page_code": "second_step_required",
    "notice_enrol": "enrolment_required",
}
STAGES = {"page_profile": "signed_in", "page_code": "second_step",
          "notice_enrol": "enrolment_required"}
MENUS = {"security": ("menu_settings", "link_security"),
         "staff": ("menu_settings", "link_staff"),
         "profile": ("menu_avatar", "link_profile")}
# The form the browser would not send: the first field it objects to, and the browser's words.
INVALID_FIELD = """(button) => {
  const form = button.form;
  if (!form || form.noValidate || form.checkValidity()) return null;
  const field = [...form.elements].find((e) => e.willValidate && !e.checkValidity());
  if (!field) return {type: "", label: "", message: "the form is not valid"};
  const label = field.labels && field.labels.length ? field.labels[0].innerText : field.name;
  return {type: field.type || "", label: label.trim(), message: field.validationMessage};
}"""
TABLE = "t => [...t.rows].map(r => [...r.cells].map(c => c.innerText.trim()))"
# The QR code's own SVG markup: the element itself, or the one <svg> inside it.
QR_SVG = """(e) => {
  const svg = e.tagName.toLowerCase() === "svg" ? e : e.querySelector("svg");
  return svg ? new XMLSerializer().serializeToString(svg) : null;
}"""


class PageError(Exception):
    """The page did something the harness cannot read: an error to report, not a verdict."""


class _Act:
    """What the screenshot after an action says about it."""

    note = ""


class BrowserTarget:
    """One scenario's view of the deployment through Chromium."""

    def __init__(self, provider: BrowserProvider, http: HttpTarget) -> None:
        self.name = provider.name
        self.origin = provider.origin  # the page origin its passkeys are used on
        self.capabilities = provider.capabilities
        self.shots: list[Shot] = []
        self.sessions: dict[str, Session] = {}
        self._provider = provider
        self._http = http
        self._map = provider.mapping
        self._devices: dict[str, BrowserPasskey] = {}
        # Actions that may change what pages show, counted: a page loaded since the last one
        # still shows the clinic as it is, so a person already on it need not open it again.
        self._changes = 0

    # -- accounts and time: the HTTP side --------------------------------------------------------

    def account(self, role: str) -> Account:
        self._changes += 1  # Settings -> Staff lists one more
        return self._http.account(role)

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
        """The status and headers of the last page this browser loaded."""
        if session is None or session not in self.sessions:
            return None
        document = self.sessions[session].document
        if document is None:
            return None
        headers = {k.lower(): v for k, v in document[1].items()
                   if k.lower() not in ("set-cookie", "cookie", "authorization")}
        return Answer(document[0], headers)

    def send_raw(self, method: str, path: str, body: bytes,
                 headers: dict[str, str]) -> Answer:
        raise Unsupported("a person's browser sends only the forms its pages have: a request "
                          "shaped by the harness goes over --target http://")

    # -- sign-in ---------------------------------------------------------------------------------

    def sign_in(self, email: str, password: str) -> SignInResult:
        s = self._new_session()
        with self._acting("sign_in", s) as act:
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
            self._on_code_page(s, "code_field")
            self._loc(s, "code_field").fill(code)
            self._submit(s, self._loc(s, "code_submit"), self._marks(s, "page_profile"))
        return SignInResult(s.handle, "signed_in")

    def use_backup_code(self, session: str, code: str) -> SignInResult:
        s = self._session(session)
        with self._acting("use_backup_code", s):
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
            button = self._sign_out_control(s)
            if button is None:
                return  # already signed out: signing out twice is not an error
            self._submit(s, button, self._marks(s, "notice_signed_out"))

    def profile(self, session: str) -> dict[str, Any]:
        s = self._session(session)
        with self._acting("profile", s, reads=True):
            self._open(s, "profile", "page_profile")
            return {"name": self._text(s, "profile_name"),
                    "email": self._text(s, "profile_email"),
                    "role": self._text(s, "profile_role").lower(),
                    "two_factor_enabled": _yes(self._text(s, "profile_two_factor")),
                    "page_text": s.page.locator("body").inner_text()}

    # -- Security settings -----------------------------------------------------------------------

    def security(self, session: str) -> Security:
        s = self._session(session)
        with self._acting("security", s, reads=True):
            self._open(s, "security", "page_security")
            left = re.sub(r"\D", "", self._text(s, "fact_backup_codes_left"))
            return Security(_yes(self._text(s, "fact_two_factor")),
                            _yes(self._text(s, "fact_authenticator_app")),
                            int(left or 0),
                            tuple(t.strip() for t in
                                  self._loc(s, "passkey_names").all_inner_texts()),
                            self._enforcement_shown(s),
                            {"page_text": s.page.locator("body").inner_text()})

    def start_authenticator_setup(self, session: str) -> SetupScreen:
        s = self._session(session)
        with self._acting("start_authenticator_setup", s):
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
            self._open(s, "security", "page_security")
            if not self._loc(s, "regenerate_form").is_visible():
                self._not_offered(s, '"Regenerate backup codes"')
            self._loc(s, "regenerate_password").fill(password)
            self._submit(s, self._loc(s, "regenerate_submit"), self._marks(s, "backup_codes"))
            return self._codes(s)

    def disable_2fa(self, session: str, password: str) -> None:
        s = self._session(session)
        with self._acting("disable_2fa", s):
            self._open(s, "security", "page_security")
            if not self._loc(s, "disable_form").is_visible():
                self._not_offered(s, '"Disable 2FA"', blocked=("disable_blocked", "enforced"))
            self._loc(s, "disable_password").fill(password)
            self._submit(s, self._loc(s, "disable_submit"), self._marks(s, "notice_disabled"))

    # -- owner and admin -------------------------------------------------------------------------

    def set_enforcement(self, session: str, required: bool) -> None:
        s = self._session(session)
        with self._acting("set_enforcement", s):
            self._open(s, "security", "page_security")
            choice = self._loc(s, "enforcement_required" if required else "enforcement_optional")
            if not choice.is_visible():
                if self._shown(s, "notice_enrol"):
                    raise _inferred("2FA enforcement (Security shows only enrolment)",
                                    "enrolment_required")
                raise _inferred("2FA enforcement choice for this user", "not_permitted")
            choice.check()
            self._submit(s, self._loc(s, "enforcement_save"), self._marks(s, "notice_saved"))

    def staff(self, session: str) -> list[dict[str, Any]]:
        s = self._session(session)
        with self._acting("staff", s, reads=True):
            self._open(s, "staff", "page_staff")
            return self._staff_rows(s)

    def disable_2fa_for(self, session: str, email: str) -> None:
        s = self._session(session)
        with self._acting("disable_2fa_for", s) as act:
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
            self._loc(s, "passkey_name_field").fill(name)
            landed = self._touch(s, device, self._marks(s, "backup_codes",
                                                        "notice_passkey_added"))
            act.note = f"passkey {name!r} added"
            return self._codes(s) if landed == "backup_codes" else []

    def begin_passkey_sign_in(self, session: str) -> dict[str, Any]:
        s = self._session(session)
        with self._acting("begin_passkey_sign_in", s):
            self._on_code_page(s, "use_passkey")
            return self._hold(s, self._loc(s, "use_passkey"), "get")

    def finish_passkey_sign_in(self, session: str, credential: dict[str, Any]) -> SignInResult:
        s = self._session(session)
        with self._acting("finish_passkey_sign_in", s):
            device = browser_passkey.device_of(self._devices, credential, "get")
            self._check_held(s, credential)
            self._touch(s, device, self._marks(s, "page_profile"))
        return SignInResult(s.handle, "signed_in")

    def remove_passkey(self, session: str, name: str, password: str) -> None:
        s = self._session(session)
        with self._acting("remove_passkey", s):
            self._open(s, "security", "page_security")
            if not self._loc(s, "remove_passkey_form", name=name).is_visible():
                raise _inferred(f"passkey {name!r} to remove", "not_enrolled")
            self._loc(s, "remove_passkey_password", name=name).fill(password)
            self._submit(s, self._loc(s, "remove_passkey_submit", name=name),
                         self._marks(s, "notice_passkey_removed"))

    # -- sessions and evidence -------------------------------------------------------------------

    def _new_session(self, cookies: list[dict[str, str]] | None = None) -> Session:
        handle = f"browser-{len(self.sessions) + 1}"
        s = Session.open(self._provider.browser, handle, timeout_ms=self._provider.timeout * 1000,
                         traced=self._provider.keeps_evidence, cookies=cookies)
        self.sessions[handle] = s
        return s

    def _session(self, handle: str) -> Session:
        if handle not in self.sessions:
            raise Refused("not_signed_in", None, "no browser session of this scenario")
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

    # -- finding things --------------------------------------------------------------------------

    def _loc(self, s: Session, key: str, **fill: str) -> Locator:
        return self._map.locate(s.page, key, **fill)

    def _marks(self, s: Session, *names: str) -> dict[str, Locator]:
        return {name: self._loc(s, name) for name in names}

    def _shown(self, s: Session, name: str) -> bool:
        return self._loc(s, name).filter(visible=True).count() > 0

    def _text(self, s: Session, name: str) -> str:
        return self._loc(s, name).first.inner_text().strip()

    # -- moving between pages --------------------------------------------------------------------

    def _goto(self, s: Session, page: str) -> None:
        """Type the page's address, as a person does where no link leads."""
        url = self._provider.origin + self._map.pages[page]
        try:
            s.page.goto(url)
        except PlaywrightError as exc:
            if "net::ERR_" in str(exc):
                raise Unreachable(f"target {self.name} unreachable: {_first_line(exc)}") from None
            raise
        s.seen = self._changes

    def _open(self, s: Session, page: str, marker: str) -> None:
        """Settings -> Security, Settings -> Staff, Avatar -> My Profile; else the address.

        A person already looking at the page, with nothing changed since it loaded, stays.
        """
        if s.seen == self._changes and self._shown(s, marker):
            return
        opener_name, link_name = MENUS[page]
        opener = self._loc(s, opener_name)
        if opener.is_visible():
            opener.click()
            link = self._loc(s, link_name)
            if link.is_visible():
                self._click_through(s, link, self._marks(s, marker))
                return
        self._goto(s, page)
        self._settle(s, self._marks(s, marker))

    def _on_code_page(self, s: Session, control: str) -> None:
        """The code page of a half-finished sign-in, where `control` is."""
        if not (self._shown(s, "page_code") and self._loc(s, control).is_visible()):
            self._goto(s, "code")
            self._settle(s, self._marks(s, control))

    def _click_through(self, s: Session, link: Locator, wanted: dict[str, Locator]) -> str:
        """Follow a link; read the page it loads once that page is parsed."""
        with s.page.expect_event("domcontentloaded"):
            link.click()
        s.seen = self._changes
        return self._settle(s, wanted)

    def _submit(self, s: Session, button: Locator, wanted: dict[str, Locator],
                refusals: dict[str, str] | None = None) -> str:
        """Send the form `button` belongs to, unless the browser itself refuses to."""
        invalid = button.evaluate(INVALID_FIELD)
        if invalid:
            code = "password_required" if invalid["type"] == "password" else "invalid_request"
            raise Refused(code, None, f"the browser would not send the form ({invalid['label']}: "
                                      f"{invalid['message']}); the server was not asked")
        with s.page.expect_event("domcontentloaded"):  # the page the answer loads, parsed
            button.click()
        s.seen = self._changes
        return self._settle(s, wanted, refusals)

    def _settle(self, s: Session, wanted: dict[str, Locator],
                refusals: dict[str, str] | None = None, *, landings: bool = True) -> str:
        """Wait until the page shows what was wanted or a refusal; the wanted key, or Refused.

        An alert wins over everything (a refusal shown on the page wanted); then what was
        wanted; then being sent elsewhere (`refusals`, then the sign-in, code or enrolment
        page). With `landings` off (the page does not change), only alert and wanted count.
        """
        others = {**(refusals or {}), **(LANDINGS if landings else {})}
        names = ["alert", *wanted, *(n for n in others if n not in wanted)]
        found = {"alert": self._loc(s, "alert"), **wanted,
                 **{n: self._loc(s, n) for n in others if n not in wanted}}
        union = reduce(lambda a, b: a.or_(b), (found[n] for n in names)).filter(visible=True)
        deadline = time.monotonic() + self._provider.timeout
        while True:  # a parsed page is read at once; else wait for one to show (no fixed wait)
            for name in names:
                shown = found[name].filter(visible=True)
                if not shown.count():
                    continue
                if name == "alert":
                    said = shown.first.inner_text().strip()
                    code, reason = self._map.refusal(said)
                    raise Refused(code, reason, said)
                if name in wanted:
                    return name
                raise Refused(others[name], None, f"the page sent the browser to {name} "
                                                  f"({s.page.url})")
            left = deadline - time.monotonic()
            try:
                union.first.wait_for(state="visible", timeout=max(left, 0.001) * 1000)
            except PlaywrightError:
                raise PageError(f"after the last action the page ({s.page.url}) showed none "
                                f"of: {', '.join(names)}") from None

    # -- reading pages ---------------------------------------------------------------------------

    def _not_offered(self, s: Session, what: str, *, already: tuple[str, str] | None = None,
                     blocked: tuple[str, str] | None = None) -> NoReturn:
        """Raise the refusal a page means by not offering `what` at all."""
        if self._shown(s, "notice_enrol"):
            raise _inferred(f"{what} (Security shows only enrolment)", "enrolment_required")
        if blocked and self._shown(s, blocked[0]):
            raise _inferred(f"{what}: {self._text(s, blocked[0])}", blocked[1])
        if already and _yes(self._text(s, already[0])):
            raise _inferred(f"{what}: it is already set up", already[1])
        if not _yes(self._text(s, "fact_two_factor")):
            raise _inferred(f"{what}: 2FA is off", "not_enrolled")
        raise _inferred(what, UNKNOWN)

    def _enforcement_shown(self, s: Session) -> bool:
        if self._shown(s, "notice_enrol"):
            return True  # only an enforcing clinic sends a user to enrolment
        choice = self._loc(s, "enforcement_required")
        if choice.count():
            return choice.is_checked()
        region = self._loc(s, "enforcement_region")
        return bool(region.count()) and "required" in region.inner_text().lower()

    def _setup_screen(self, s: Session) -> SetupScreen:
        """The QR code as the phone's camera sees it, and the manual-entry secret beside it."""
        qr = self._loc(s, "qr_code")
        png = qr.screenshot(animations="disabled")
        manual = self._text(s, "manual_entry")
        try:
            uri = decode_qr(png)
        except DeviceError:
            uri = ""  # a QR code no camera can read: the scenario's checks say so
        svg = qr.first.evaluate(QR_SVG)  # the image itself, where the page draws it as SVG
        return SetupScreen(uri, manual, png, svg if isinstance(svg, str) and svg else None)

    def _codes(self, s: Session) -> list[str]:
        shown = self._loc(s, "backup_codes")
        items = shown.get_by_role("listitem").all_inner_texts()
        texts = items or shown.first.inner_text().split()
        return [t.strip() for t in texts if t.strip()]

    def _staff_rows(self, s: Session) -> list[dict[str, Any]]:
        table = self._loc(s, "staff_table")
        rows: list[list[str]] = table.first.evaluate(TABLE)
        email_at = int(self._loc(s, "staff_email_column").first.evaluate("c => c.cellIndex"))
        two_at = int(self._loc(s, "staff_two_factor_column").first.evaluate("c => c.cellIndex"))
        head = [h.lower() for h in rows[0]] if rows else []
        out = []
        for cells in rows[1:]:
            if len(cells) <= max(email_at, two_at):
                continue
            entry: dict[str, Any] = dict(zip(head, cells, strict=False))
            entry["email"] = cells[email_at]
            entry["two_factor_enabled"] = _yes(cells[two_at])
            out.append(entry)
        return out

    def _sign_out_control(self, s: Session) -> Locator | None:
        """Avatar -> Sign out (or the page's own Sign out); None when already signed out."""
        for attempt in range(2):
            if self._loc(s, "menu_avatar").is_visible():
                self._loc(s, "menu_avatar").click()
                return self._loc(s, "menu_sign_out")
            if self._shown(s, "sign_out"):
                return self._loc(s, "sign_out").filter(visible=True).first
            if attempt == 0:
                try:
                    self._open(s, "profile", "page_profile")
                except Refused as refusal:
                    if refusal.code in ("not_signed_in", "sign_in_expired"):
                        return None
                    if refusal.code == "second_step_required":
                        raise Unsupported("the page of a half-finished sign-in offers no "
                                          "Sign out") from None
                    raise
        raise _inferred('"Sign out"', UNKNOWN)

    # -- passkey ceremonies ----------------------------------------------------------------------

    def _hold(self, s: Session, button: Locator, kind: str) -> dict[str, Any]:
        """Click the passkey button; the options the page asked the browser with, held."""
        s.cdp  # noqa: B018 - the virtual environment must be on before the page asks
        button.click()
        held = s.page.locator(f'html[data-clinic2fa-ceremony="{kind}"]')
        self._settle(s, {"held": held}, landings=False)
        ceremony = s.page.evaluate(HELD)
        return {**ceremony["options"], MARK: f"{s.handle}#{ceremony['id']}"}

    def _check_held(self, s: Session, credential: dict[str, Any]) -> None:
        ceremony = s.page.evaluate(HELD)
        if ceremony is None or credential.get("ceremony") != f"{s.handle}#{ceremony['id']}":
            raise Unsupported("in a browser a passkey answers only the prompt open on its own "
                              "page: an answer to another ceremony cannot be sent")

    def _touch(self, s: Session, device: BrowserPasskey, wanted: dict[str, Locator]) -> str:
        """The person touches the key (or has none): the browser answers the held prompt."""
        authenticator = device.attach(s.cdp)
        try:
            s.page.evaluate(ANSWER, None if device.present
                            else browser_passkey.NO_AUTHENTICATOR_TIMEOUT_MS)
            return self._settle(s, wanted, landings=False)
        finally:
            device.detach(s.cdp, authenticator)


def _yes(text: str) -> bool:
    return text.strip().lower() in TRUE_WORDS


def _inferred(what: str, code: str) -> Refused:
    return Refused(code, None, f"the page offers no {what} (read from the page; the server was "
                               "not asked)")


def _first_line(exc: Exception) -> str:
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


def _described(exc: Exception) -> str:
    """Playwright's first line, and what it was waiting for: the element the page lacks."""
    waiting = next((line.strip(" -") for line in str(exc).splitlines()
                    if line.strip(" -").startswith("waiting for")), "")
    hint = f" ({waiting}: a mapping file can say where it is)" if waiting else ""
    return _first_line(exc) + hint
