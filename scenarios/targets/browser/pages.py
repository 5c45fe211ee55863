"""The browser target's reading of pages: finding elements, moving between pages, settling on
what a page shows (the page wanted, or a refusal), and reading codes, facts and the QR code."""

from __future__ import annotations

import time
from functools import reduce
from typing import TYPE_CHECKING, Any, NoReturn

from playwright.sync_api import Error as PlaywrightError

from clinic2fa.scenarios.contract import Refused, SetupScreen, Unreachable, Unsupported
from clinic2fa.scenarios.targets.browser.facts import yes
from clinic2fa.scenarios.targets.browser.locators import UNKNOWN, Mapping
from clinic2fa.scenarios.targets.browser.session import Session
from clinic2fa.simulator.virtual.authenticator_app import DeviceError, decode_qr

if TYPE_CHECKING:
    from playwright.sync_api import Locator

    from clinic2fa.scenarios.targets.browser.provider import BrowserProvider

# Where a page may send a person instead of where they wanted to go, and what that means.
LANDINGS = {
    "page_sign_in": "not_signed_in",
    "notice_expired": "sign_in_expired",
    "page_code": "second_step_required",
    "notice_enrol": "enrolment_required",
}
STAGES = {"page_profile": "signed_in", "page_code": "second_step",
          "notice_enrol": "enrolment_required"}
# Notices that mean a control is missing because the action is refused (flows.py steps).
BLOCKED = {"disable_blocked": "enforced", "notice_enrol": "enrolment_required"}
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
# The values of a page's form fields, which innerText leaves out (django-allauth shows the backup
# codes in a <textarea>); not passwords, nor hidden fields (a CSRF token is no page's content).
FIELD_VALUES = """(b) => [...b.querySelectorAll(
  "textarea, input:not([type=password]):not([type=hidden])")].map((e) => e.value).filter(Boolean)"""
TABLE = "t => [...t.rows].map(r => [...r.cells].map(c => c.innerText.trim()))"
# The QR code's own SVG markup as served: the element itself, the one <svg> inside it, or the
# SVG an <img> loads (a data: URI or its own address), so it is read on its own, off the page.
QR_SVG = """async (e) => {
  if (e.tagName.toLowerCase() === "img") {
    const src = e.currentSrc || e.src || "";
    const data = src.match(/^data:image\\/svg\\+xml(;base64)?,(.*)$/s);
    if (data) return data[1] ? atob(data[2]) : decodeURIComponent(data[2]);
    if (!src || src.startsWith("data:")) return null;
    try {
      const answer = await fetch(src, {credentials: "same-origin"});
      const type = answer.headers.get("content-type") || "";
      return answer.ok && type.includes("svg") ? await answer.text() : null;
    } catch (error) { return null; }
  }
  const svg = e.tagName.toLowerCase() === "svg" ? e : e.querySelector("svg");
  return svg ? new XMLSerializer().serializeToString(svg) : null;
}"""
FIELD = "e => e.tagName === 'INPUT' || e.tagName === 'TEXTAREA'"
# An <img> is ready once loaded (or failed); anything else (svg, canvas) at once. Bounded.
IMAGE_LOADED = """(e, ms) => new Promise((done) => {
  if (e.tagName !== "IMG" || (e.complete && e.naturalWidth > 0)) return done(true);
  e.addEventListener("load", () => done(true), {once: true});
  e.addEventListener("error", () => done(false), {once: true});
  setTimeout(() => done(false), ms);
})"""
NEXT_FRAMES = "() => new Promise((d) => requestAnimationFrame(() => requestAnimationFrame(d)))"


class PageError(Exception):
    """The page did something the harness cannot read: an error to report, not a verdict."""



class Pages:
    """Page reading for a BrowserTarget (which sets these attributes)."""

    name: str
    _map: Mapping
    _provider: BrowserProvider
    _changes: int

    # -- finding things --------------------------------------------------------------------------

    def _loc(self, s: Session, key: str, **fill: str) -> Locator:
        return self._map.locate(s.page, key, **fill)

    def _marks(self, s: Session, *names: str) -> dict[str, Locator]:
        return {name: self._loc(s, name) for name in names}

    def _shown(self, s: Session, name: str) -> bool:
        return self._loc(s, name).filter(visible=True).count() > 0

    def _text(self, s: Session, name: str) -> str:
        """What an element shows, a form field's value included (a secret in an input)."""
        found = self._loc(s, name).first
        if found.evaluate(FIELD):
            return found.input_value().strip()
        return found.inner_text().strip()

    def _page_text(self, s: Session) -> str:
        """What the whole page shows: its text and its form fields' values (the pages a check
        reads for codes shown again)."""
        body = s.page.locator("body")
        return "\n".join([body.inner_text(), *body.evaluate(FIELD_VALUES)])

    # -- moving between pages --------------------------------------------------------------------

    def _goto(self, s: Session, page: str) -> None:
        """Type the page's address, as a person does where no link leads."""
        self._goto_path(s, self._map.pages[page])

    def _goto_path(self, s: Session, path: str) -> None:
        url = self._provider.origin + path
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
        self._send(s, button)
        return self._settle(s, wanted, refusals)

    def _send(self, s: Session, button: Locator) -> None:
        """Click a form's button once the browser's own validation lets the form go."""
        self._check_form(button)
        with s.page.expect_event("domcontentloaded"):  # the page the answer loads, parsed
            button.click()
        s.seen = self._changes

    @staticmethod
    def _check_form(button: Locator) -> None:
        """Refused without asking the server where the browser's own validation stops a form."""
        invalid = button.evaluate(INVALID_FIELD)
        if invalid:
            code = "password_required" if invalid["type"] == "password" else "invalid_request"
            raise Refused(code, None, f"the browser would not send the form ({invalid['label']}: "
                                      f"{invalid['message']}); the server was not asked",
                          sent=False)

    def _settle(self, s: Session, wanted: dict[str, Locator],
                refusals: dict[str, str] | None = None, *, landings: bool = True,
                timeout: float | None = None) -> str:
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
        deadline = time.monotonic() + (self._provider.timeout if timeout is None else timeout)
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
        if already and yes(self._text(s, already[0])):
            raise _inferred(f"{what}: it is already set up", already[1])
        if not yes(self._text(s, "fact_two_factor")):
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
        """The QR code as the phone's camera sees it, and the manual-entry secret beside it.

        The image is waited for until it has loaded and decodes, or the page's timeout passes
        (then it is a QR code no camera can read: the scenario's checks say so); never a fixed
        wait.
        """
        qr = self._loc(s, "qr_code").first
        qr.wait_for(state="visible")
        deadline = time.monotonic() + self._provider.timeout
        while True:
            qr.evaluate(IMAGE_LOADED, int(self._provider.timeout * 1000))
            png = qr.screenshot(animations="disabled")
            try:
                uri = decode_qr(png)
                break
            except DeviceError:
                if time.monotonic() > deadline:
                    uri = ""
                    break
                s.page.evaluate(NEXT_FRAMES)  # the page paints again: then look again
        svg = qr.evaluate(QR_SVG)  # the image itself, where the page draws it as SVG
        return SetupScreen(uri, self._text(s, "manual_entry"), png,
                           svg if isinstance(svg, str) and svg else None)

    def _codes(self, s: Session) -> list[str]:
        """The backup codes on the page: list items, or the words of the element (a form
        field's value included); an empty list when there are none (the scenario says so)."""
        shown = self._loc(s, "backup_codes")
        if not shown.count():
            return []
        items = shown.get_by_role("listitem").all_inner_texts()
        texts = items or self._text(s, "backup_codes").split()
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
            entry["two_factor_enabled"] = yes(cells[two_at])
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
