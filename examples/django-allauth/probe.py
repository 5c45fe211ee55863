"""Show, in a real browser, the allauth[mfa] behaviours that expected.toml rests on.

Standalone (no clinic2fa): starts its own copy of the site on a fresh database, drives Debian's
Chromium with Playwright and prints one line per fact, `FACT <ID>: <what was seen>`, grouped by
account. Three accounts' stories run side by side (the site's cost is PBKDF2 at each password).
Secrets and codes are never printed. Run with this folder's venv:  .venv/bin/python probe.py
"""

from __future__ import annotations

import asyncio
import base64
import io
import json
import re
import sys
import tempfile
import time
import unicodedata
from contextlib import asynccontextmanager
from pathlib import Path
from statistics import mean
from urllib.parse import parse_qs, unquote, urlsplit

import pyotp
import zxingcpp
from PIL import Image
from playwright.async_api import Browser, BrowserContext, async_playwright

HERE = Path(__file__).resolve().parent
CHROMIUM = "/usr/lib/chromium/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]
PASSWORDS = {"owner@example.com": "Owner-Pass-2026!", "admin@example.com": "Admin-Pass-2026!",
             "staff1@example.com": "Staff1-Pass-2026!", "staff2@example.com": "Staff2-Pass-2026!"}
NOT_IT = "Not-The-Password-1"  # a wrong password for every account
FULL_WIDTH = {ord(d): chr(0xFF10 + int(d)) for d in "0123456789"}
SECURITY_LINES = ("Authentication using an authenticator app is active.",
                  "An authenticator app is not active.", "No security keys have been added.",
                  "No recovery codes set up.")


class Facts:
    """Facts of one story, printed together so the output reads in a fixed order."""

    def __init__(self, story: str) -> None:
        self.story, self.lines = story, []

    def __call__(self, key: str, text: str) -> None:
        self.lines.append(f"FACT {key}: {text}")

    def print(self) -> None:
        print(f"# {self.story}")
        print("\n".join(self.lines), flush=True)


def step_now() -> int:
    return int(time.time()) // 30


@asynccontextmanager
async def running_site(facts: Facts):
    """serve.py on a fresh database in a temporary folder; yields the base URL."""
    with tempfile.TemporaryDirectory() as tmp:
        started = time.monotonic()
        proc = await asyncio.create_subprocess_exec(
            sys.executable, str(HERE / "serve.py"), "--fresh", "--db", f"{tmp}/site.sqlite3",
            "0", stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL)
        try:
            line = (await proc.stdout.readline()).decode()
            match = re.search(r"http://localhost:(\d+)/", line)
            if not match:
                raise RuntimeError(f"serve.py did not start: {line!r}")
            facts("SITE", f"serve.py --fresh printed its address after "
                          f"{time.monotonic() - started:.2f} s")
            yield f"http://localhost:{match.group(1)}"
        finally:
            proc.terminate()
            await proc.wait()


class Person:
    """One browser context signed in (or not) as one seeded account."""

    def __init__(self, context: BrowserContext, base: str, email: str) -> None:
        self.context, self.base, self.email = context, base, email
        self.password = PASSWORDS[email]
        self.page = None
        self.secret: str | None = None

    @classmethod
    async def open(cls, browser: Browser, base: str, email: str) -> Person:
        person = cls(await browser.new_context(), base, email)
        person.page = await person.context.new_page()
        return person

    async def go(self, path: str):
        return await self.page.goto(self.base + path)

    def path(self) -> str:
        return urlsplit(self.page.url).path

    async def errors(self) -> str:
        texts = await self.page.locator("ul.errorlist").all_inner_texts()
        return " | ".join(t.strip() for t in texts)

    async def body(self) -> str:
        return await self.page.locator("body").inner_text()

    def button(self, name: str):
        return self.page.get_by_role("button", name=name, exact=True)

    async def click(self, name: str) -> None:
        await self.button(name).click()
        await self.page.wait_for_load_state()

    async def sign_in(self, password: str | None = None, email: str | None = None) -> None:
        await self.go("/accounts/login/")
        await self.page.fill("input[name=login]", email or self.email)
        await self.page.fill("input[name=password]", password or self.password)
        await self.click("Sign In")

    async def sign_out(self) -> None:
        await self.go("/accounts/logout/")
        await self.click("Sign Out")

    async def enter_code(self, code: str) -> None:
        await self.page.fill("input[name=code]", code)
        await self.click("Sign In")

    async def reauthenticate_if_asked(self, password: str | None = None) -> bool:
        if self.path() != "/accounts/reauthenticate/":
            return False
        await self.page.fill("input[name=password]", password or self.password)
        await self.click("Confirm")
        return True

    async def session_cookie(self) -> str:
        cookies = await self.context.cookies()
        return next(c["value"] for c in cookies if c["name"] == "sessionid")

    def totp(self, offset_steps: int = 0) -> str:
        return pyotp.TOTP(self.secret).at(time.time() + 30 * offset_steps)

    async def open_setup(self) -> dict:
        """Go to the activation page (re-authenticating if asked); return what it showed."""
        headers: dict[str, str] = {}

        def keep(response) -> None:
            if urlsplit(response.url).path == "/accounts/2fa/totp/activate/" \
                    and response.request.method == "GET":
                headers.update(response.headers)

        self.page.on("response", keep)
        await self.go("/accounts/2fa/totp/activate/")
        asked = await self.reauthenticate_if_asked()
        self.page.remove_listener("response", keep)
        if self.path() != "/accounts/2fa/totp/activate/":
            raise RuntimeError(f"setup did not open: at {self.page.url}")
        self.secret = await self.page.input_value("#authenticator_secret")
        return {"asked": asked, "headers": headers,
                "src": await self.page.locator("img").first.get_attribute("src")}

    async def confirm_setup(self, code: str) -> None:
        await self.page.fill("input[name=code]", code)
        await self.click("Activate")

    async def enrol(self) -> tuple[int, str, list[str]]:
        """Set up the authenticator app; the step and code that confirmed it, and the codes."""
        await self.open_setup()
        step, code = step_now(), self.totp()
        await self.confirm_setup(code)
        if self.path() != "/accounts/2fa/recovery-codes/":  # codes exist already (a passkey)
            return step, code, []
        return step, code, (await self.page.input_value("#recovery_codes")).split()

    async def security(self) -> str:
        """What the security page (/accounts/2fa/) says about each kind of factor."""
        await self.go("/accounts/2fa/")
        text = await self.body()
        keep = [s for s in SECURITY_LINES if s in text]
        keep += re.findall(r"You have added \d+ security keys?\.", text)
        keep += re.findall(r"There (?:is|are) \d+ out of \d+ recovery codes available\.", text)
        return " / ".join(keep)


def decode_qr(png: bytes) -> str | None:
    found = zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))
    return found[0].text if found else None


async def qr_on_background(context: BrowserContext, src: str, colour: str) -> str | None:
    """The QR image exactly as served (its data URI), shown on a page of the given colour."""
    page = await context.new_page()
    await page.set_content(f'<body style="margin:0;padding:40px;background:{colour}">'
                           f'<img id="qr" src="{src}"></body>')
    found = decode_qr(await page.locator("#qr").screenshot())
    await page.close()
    return found


# -- story A: staff1, the authenticator app from setup to deactivation -------------------------

async def staff1_story(browser: Browser, base: str, fact: Facts,
                       replay_seen: asyncio.Future) -> None:
    """Setup page, QR, window, confirmation, codes, second step, replay, sessions, disable."""
    p = await Person.open(browser, base, "staff1@example.com")
    await p.sign_in()
    fact("SIGNIN-NO-2FA", f"without 2FA a correct password lands on {p.path()}")
    await p.go("/accounts/2fa/totp/activate/")
    alternatives = [a.strip() for a in await p.page.locator("a").all_inner_texts()
                    if a.strip() in ("Send me a sign-in code", "Use authenticator app or code",
                                     "Use a security key")]
    fact("REAUTH-PROMPT", f"'Activate' right after sign-in goes to {p.path()} ('Enter your "
                          f"password:' shown: {'Enter your password' in await p.body()}); "
                          f"other ways offered: {alternatives or 'none'}")
    first = await p.open_setup()
    first_secret = p.secret
    fact("SECRET-NO-STORE", f"activation page (TOTP secret + QR) Cache-Control: "
                            f"{first['headers'].get('cache-control')!r}")
    fact("TOTP-SECRET-SIZE", f"secret is {len(first_secret)} base32 characters = "
                             f"{len(base64.b32decode(first_secret)) * 8} bits")
    label_text = await p.page.locator("label[for=authenticator_secret]").inner_text()
    fact("MANUAL-SECRET", f"manual-entry secret {label_text.strip()!r}, group sizes "
                          f"{[len(g) for g in first_secret.split()]}")
    shot = decode_qr(await p.page.locator("img").first.screenshot())
    uri = urlsplit(shot or "")
    query = parse_qs(uri.query)
    label = unquote(uri.path.lstrip("/"))
    fact("KEY-URI", f"QR screenshot decodes: {shot is not None}; {uri.scheme}://{uri.netloc}, "
                    f"label {label!r} (issuer prefix: {':' in label}), issuer "
                    f"{query.get('issuer')}, other parameters "
                    f"{sorted(k for k in query if k not in ('secret', 'issuer'))}; QR secret "
                    f"= manual-entry secret: {query.get('secret', [''])[0] == first_secret}")
    svg = base64.b64decode(first["src"].split(",", 1)[1]).decode()
    on_white = await qr_on_background(p.context, first["src"], "#fff")
    on_black = await qr_on_background(p.context, first["src"], "#000")
    fact("QR-READABLE", f"served as an <img> {first['src'][:26]}...; the SVG has a background "
                        f"of its own: {'<rect' in svg}; decodes on a white page: "
                        f"{on_white is not None}, on a black page: {on_black is not None}")

    await p.open_setup()
    fact("SETUP-FRESH-SECRET", f"reloading the setup page gives a new secret: "
                               f"{p.secret != first_secret}")
    await p.confirm_setup(pyotp.TOTP(first_secret).now())
    fact("SETUP-FRESH-SECRET-OLD", f"code of the earlier pending secret: {await p.errors()!r}")
    await p.confirm_setup(p.totp(-1))
    fact("TOTP-WINDOW-PREV", f"previous-step code at confirmation: {await p.errors()!r}")
    await p.confirm_setup(p.totp(+1))
    fact("TOTP-WINDOW-NEXT", f"next-step code at confirmation: {await p.errors()!r}")
    wide = p.totp().translate(FULL_WIDTH)
    await p.confirm_setup(wide)
    fact("TOTP-ASCII-DIGITS", f"current code in {unicodedata.name(wide[0]).rsplit(' ', 1)[0]}s: "
                              f"{await p.errors()!r}")
    fact("SECURITY-PAGE-OFF", "security page before confirming: " + await p.security())
    headers: dict[str, str] = {}
    p.page.on("response", lambda r: headers.update(r.headers)
              if urlsplit(r.url).path == "/accounts/2fa/recovery-codes/" else None)
    activation_step, activation_code, codes = await p.enrol()
    fact("SETUP-CONFIRM", f"the current code confirms; the browser lands on {p.path()}")
    fact("BACKUP-COUNT", f"{len(codes)} recovery codes shown at enrolment, shaped "
                         f"{sorted({re.sub(r'[0-9]', '9', c) for c in codes})}, "
                         f"distinct: {len(set(codes))}")
    fact("BACKUP-NO-STORE", f"recovery-codes page Cache-Control: "
                            f"{headers.get('cache-control')!r}")
    fact("SECURITY-PAGE-ON", "security page after enrolment: " + await p.security())

    await p.sign_out()
    await p.sign_in()
    pending = await p.session_cookie()
    intro = await p.page.locator("p").first.inner_text()
    fact("SIGNIN-SECOND-STEP", f"password accepted, now at {p.path()}: {intro!r}")
    same_step = step_now() == activation_step
    await p.enter_code(activation_code)
    same_step = same_step and step_now() == activation_step
    refusal = await p.errors()
    fact("TOTP-REPLAY-CONFIRM-CODE",
         f"the code that confirmed enrolment, entered at sign-in in its own 30-s step "
         f"(still that step: {same_step}): {refusal or 'accepted, now at ' + p.path()}")
    replay_seen.set_result(same_step)
    if refusal:
        await p.enter_code(p.totp())
    other = await browser.new_context()
    await other.add_cookies([{"name": "sessionid", "value": pending, "url": base}])
    stale = await other.new_page()
    await stale.goto(base + "/accounts/2fa/")
    fact("SESSION-NEW-TOKEN", f"session cookie changed at the second step: "
                              f"{pending != await p.session_cookie()}; the pending cookie alone "
                              f"then reaches {urlsplit(stale.url).path}")
    await other.close()

    used_step, used_code = step_now(), p.totp()
    await p.sign_out()
    await p.sign_in()
    if step_now() == used_step:
        await p.enter_code(used_code)
        fact("TOTP-REPLAY-SIGNIN", f"a code that signed in, entered again in its step: "
                                   f"{await p.errors() or 'accepted'}")
    if p.path() != "/accounts/2fa/authenticate/":
        await p.sign_out()
        await p.sign_in()
    for path in ("/accounts/2fa/", "/accounts/2fa/totp/deactivate/",
                 "/accounts/2fa/recovery-codes/generate/", "/accounts/2fa/webauthn/add/",
                 "/admin/"):
        await p.go(path)
        fact("SIGNIN-PENDING-GRANTS-NOTHING", f"with the code pending, {path} ends on "
                                              f"{p.path()}")
    await p.enter_code(codes[0])
    fact("BACKUP-SINGLE-USE-1", f"a recovery code in the code field: now at {p.path()}")
    await p.sign_out()
    await p.sign_in()
    await p.enter_code(codes[0])
    fact("BACKUP-SINGLE-USE-2", f"the same recovery code again: {await p.errors()!r}")
    await p.enter_code(" ".join(codes[1]))
    fact("BACKUP-NORMALISED", f"another recovery code typed with spaces: now at {p.path()}")
    fact("SECURITY-PAGE-COUNT", "security page after two codes: " + await p.security())

    await p.go("/accounts/2fa/recovery-codes/")
    asked = await p.reauthenticate_if_asked()
    again = (await p.page.input_value("#recovery_codes")).split()
    download = await p.page.get_by_text("Download codes").count() > 0
    reauth_at = time.monotonic()
    fact("BACKUP-SHOWN-ONCE", f"in a later session the recovery-codes page (password asked: "
                              f"{asked}) shows {len(again)} codes, all from the enrolment list: "
                              f"{bool(again) and set(again) <= set(codes)}; 'Download codes' "
                              f"link: {download}")
    await p.go("/accounts/2fa/recovery-codes/generate/")
    asked = await p.reauthenticate_if_asked()
    await p.click("Generate")
    new_codes = (await p.page.input_value("#recovery_codes")).split()
    fact("BACKUP-REGENERATE", f"regenerating {time.monotonic() - reauth_at:.0f} s after that "
                              f"password re-entry asked for it again: {asked}; new list of "
                              f"{len(new_codes)}, shared with the old list: "
                              f"{len(set(new_codes) & set(codes))}")
    await p.sign_out()
    await p.sign_in()
    await p.enter_code(codes[2])
    fact("BACKUP-REGENERATE-OLD", f"an unused code of the old list: {await p.errors()!r}")
    await p.enter_code(new_codes[0])
    await p.go("/accounts/2fa/totp/deactivate/")
    asked = await p.reauthenticate_if_asked(p.password + "x")
    fact("DISABLE-REAUTH-WRONG", f"Deactivate in a new session asks for the password: {asked}; "
                                 f"a wrong one: {await p.errors()!r}")
    await p.reauthenticate_if_asked()
    reauth_at = time.monotonic()
    await p.go("/accounts/2fa/recovery-codes/generate/")
    asked = await p.reauthenticate_if_asked()
    await p.click("Generate")
    await p.go("/accounts/2fa/totp/deactivate/")
    asked_again = await p.reauthenticate_if_asked()
    await p.click("Deactivate")
    fact("DISABLE-REAUTH", f"then, {time.monotonic() - reauth_at:.0f} s after that re-entry, "
                           f"regenerating asked again: {asked}, Deactivate asked again: "
                           f"{asked_again}; afterwards: " + await p.security())
    response = await p.go("/admin/")
    fact("ADMIN-STAFF-REFUSED", f"a staff member (signed in) opening /admin/: HTTP "
                                f"{response.status} at {p.path()}")
    await p.context.close()


# -- story B: staff2, throttling of codes and passwords; sign-in refusals ----------------------

async def staff2_story(browser: Browser, base: str, fact: Facts, replay_seen) -> None:
    """Wrong codes until blocked; the block holds across sign-ins; passwords; body size."""
    p = await Person.open(browser, base, "staff2@example.com")
    timings: dict[str, list[float]] = {"unknown": [], "wrong": []}
    texts = {}
    for kind, email in (("unknown", "nobody@example.com"), ("wrong", p.email)) * 2:
        await p.go("/accounts/login/")
        await p.page.fill("input[name=login]", email)
        await p.page.fill("input[name=password]", NOT_IT)
        started = time.monotonic()
        await p.click("Sign In")
        timings[kind].append(time.monotonic() - started)
        texts[kind] = await p.errors()
    fact("SIGNIN-NO-ENUMERATION", f"unknown e-mail: {texts['unknown']!r} in "
                                  f"{mean(timings['unknown']):.2f} s; wrong password: "
                                  f"{texts['wrong']!r} in {mean(timings['wrong']):.2f} s "
                                  f"(means of 2, server under load)")
    await p.sign_in()
    retry = not await replay_seen
    _, activation_code, _ = await p.enrol()
    await p.sign_out()
    await p.sign_in()
    if retry:
        # staff1's replay check straddled a 30-s step; this one starts right after that step
        # began, so it does not straddle as well.
        await p.enter_code(activation_code)
        fact("TOTP-REPLAY-CONFIRM-CODE", f"(repeated) the confirming code at sign-in in its "
                                         f"step: {await p.errors() or 'accepted'}")
        if not await p.errors():
            await p.sign_out()
            await p.sign_in()
    wrong = "000000" if p.totp() != "000000" else "111111"
    messages = []
    for _ in range(5):
        await p.enter_code(wrong)
        messages.append(await p.errors())
    fact("TOTP-WRONG", f"a wrong code at sign-in: {messages[0]!r} (5 times: "
                       f"{len(set(messages)) == 1})")
    await p.enter_code(p.totp())
    fact("TOTP-RATE-LIMIT", f"after 5 wrong codes the correct one: {await p.errors()!r}")
    fresh = await Person.open(browser, base, p.email)
    fresh.secret = p.secret
    await fresh.sign_in()
    await fresh.enter_code(fresh.totp())
    fact("TOTP-RATE-LIMIT-PER-USER", f"a new sign-in in another browser, correct code: "
                                     f"{await fresh.errors()!r}")
    await fresh.context.close()
    await p.click("Cancel")  # abandon the pending sign-in
    for _ in range(3):
        await p.sign_in(password=NOT_IT)
    await p.sign_in()
    fact("PASSWORD-RATE-LIMIT", f"after 5 wrong passwords for one e-mail, the right one: "
                                f"{await p.errors()!r} (at {p.path()})")
    await p.go("/accounts/login/")
    token = await p.page.input_value("input[name=csrfmiddlewaretoken]")
    big = await p.page.request.post(base + "/accounts/login/", form={
        "csrfmiddlewaretoken": token, "login": "x@example.com", "password": "x" * 3_000_000},
        headers={"Referer": base + "/accounts/login/"})
    fact("REQUEST-SIZE-LIMIT", f"a 3 MB sign-in form post: HTTP {big.status}")
    await p.context.close()


# -- story C: owner and admin in Django admin; the admin's passkey ------------------------------

async def admin_story(browser: Browser, base: str, fact: Facts) -> None:
    """What Django admin ("Settings -> Staff") shows and allows; then passkeys."""
    owner = await Person.open(browser, base, "owner@example.com")
    await owner.sign_in()
    await owner.go("/admin/auth/user/?q=staff1")
    await owner.page.get_by_role("link", name="staff1", exact=True).click()
    summary = await owner.page.locator(".field-password").inner_text()
    algo = re.search(r"algorithm:\s*(\S+)", summary)
    iterations = re.search(r"iterations:\s*(\d+)", summary)
    fact("PASSWORD-HASH", f"the owner's view of a user's password: algorithm "
                          f"{algo and algo.group(1)}, iterations "
                          f"{iterations and iterations.group(1)}")
    await owner.open_setup()
    abandoned = owner.secret
    second = await Person.open(browser, base, owner.email)
    await second.sign_in()
    await second.open_setup()
    fact("SETUP-FRESH-SECRET-SESSIONS", f"the owner starts setup again in a second browser: "
                                        f"new secret there: {second.secret != abandoned}")
    await second.context.close()
    await owner.confirm_setup(owner.totp())
    outcome = await owner.errors() or f"accepted, lands on {owner.path()}"
    fact("SETUP-FRESH-SECRET-OTHER-SESSION", f"a code of the first (earlier) pending secret "
                                             f"then, in the first browser: {outcome}")
    anon = await (await browser.new_context()).new_page()
    await anon.goto(base + "/admin/login/")
    fact("ADMIN-LOGIN-PATH", f"/admin/login/ signed out redirects to {urlsplit(anon.url).path}")
    await anon.context.close()

    admin = await Person.open(browser, base, "admin@example.com")
    await admin.sign_in()
    await admin.go("/admin/mfa/authenticator/?type__exact=totp")
    rows = admin.page.locator("#result_list tbody tr")
    users = {u.strip() for u in await rows.locator(".field-user").all_inner_texts()}
    fact("ADMIN-STAFF-LIST", f"the admin's authenticator list, filtered to TOTP, has a row "
                             f"for the owner: {'owner' in users}")
    await rows.filter(has_text="owner").locator("a").first.click()
    shown = await admin.page.locator("#content").inner_text()
    fact("SECRET-NOT-DISCLOSED", f"the admin's page for the owner's TOTP authenticator "
                                 f"contains the owner's secret: {owner.secret in shown}")
    await admin.go("/admin/mfa/authenticator/?type__exact=totp")
    await admin.page.locator("#result_list tbody tr").filter(has_text="owner") \
        .locator("input.action-select").check()
    await admin.page.select_option("select[name=action]", "delete_selected")
    await admin.click("Go")
    await admin.page.get_by_role("button", name="Yes, I\u2019m sure").click()
    await admin.page.wait_for_load_state()
    message = (await admin.page.locator(".messagelist").inner_text()).strip()
    fact("ADMIN-DISABLE-ROLES", f"the admin deletes the OWNER's TOTP authenticator: {message!r}")
    fact("ADMIN-DISABLE-ENDS-SESSIONS", "the owner's open session afterwards: "
                                        + await owner.security() + f" (at {owner.path()})")
    await owner.context.close()
    await admin.context.close()
    await passkeys(browser, base, fact)


async def passkeys(browser: Browser, base: str, fact: Facts) -> None:
    """admin: add a passkey, sign in with it, a cloned key, user verification, deactivation."""
    p = await Person.open(browser, base, "admin@example.com")
    cdp = await p.context.new_cdp_session(p.page)
    await cdp.send("WebAuthn.enable")

    async def authenticator(verified: bool = True) -> str:
        """A platform authenticator; verified=False: one that cannot verify the user at all."""
        answer = await cdp.send("WebAuthn.addVirtualAuthenticator", {"options": {
            "protocol": "ctap2", "transport": "internal", "hasResidentKey": True,
            "hasUserVerification": verified, "isUserVerified": verified,
            "automaticPresenceSimulation": True}})
        return answer["authenticatorId"]

    async def credential(authenticator_id: str) -> dict:
        answer = await cdp.send("WebAuthn.getCredentials", {"authenticatorId": authenticator_id})
        return answer["credentials"][0]

    async def swap(old: str, cred: dict, verified: bool = True) -> str:
        await cdp.send("WebAuthn.removeVirtualAuthenticator", {"authenticatorId": old})
        new = await authenticator(verified)
        await cdp.send("WebAuthn.addCredential", {"authenticatorId": new, "credential": cred})
        return new

    async def use_key(button: str) -> str:
        """Click a WebAuthn button; wait for the page to move on or for allauth's error event."""
        start = p.page.url
        await p.page.evaluate("""() => { window.__keyError = null;
            document.addEventListener('allauth.error',
                e => { window.__keyError = String(e.detail.exception); }, {once: true}); }""")
        await p.button(button).click()
        moved = asyncio.ensure_future(p.page.wait_for_url(lambda u: u != start))
        failed = asyncio.ensure_future(
            p.page.wait_for_function("() => window.__keyError !== null"))
        await asyncio.wait({moved, failed}, return_when=asyncio.FIRST_COMPLETED)
        for task in (moved, failed):
            task.cancel()
        await asyncio.gather(moved, failed, return_exceptions=True)
        await p.page.wait_for_load_state()
        return p.path()

    async def passkey_login() -> str:
        await p.go("/accounts/login/")
        return await use_key("Sign in with a passkey")

    key = await authenticator()
    await p.sign_in()
    await p.go("/accounts/2fa/webauthn/add/")
    await p.reauthenticate_if_asked()
    data = json.loads(await p.page.locator("#js_data").inner_text())
    options = data["creation_options"]["publicKey"]
    challenge = base64.urlsafe_b64decode(options["challenge"] + "==")
    fact("PASSKEY-CHALLENGE", f"registration challenge of {len(challenge)} bytes, "
                              f"userVerification "
                              f"{options['authenticatorSelection'].get('userVerification')!r}, "
                              f"timeout {options.get('timeout')}")
    await p.page.check("#id_passwordless")
    await p.button("Add").click()
    await p.page.wait_for_url("**/recovery-codes/")
    codes = (await p.page.input_value("#recovery_codes")).split()
    fact("PASSKEY-ADD", f"adding a passkey (no TOTP) lands on {p.path()} with {len(codes)} "
                        f"recovery codes; " + await p.security())
    await p.sign_out()
    fact("PASSKEY-LOGIN", f"'Sign in with a passkey' (no password, no code) lands on "
                          f"{await passkey_login()}")
    await p.sign_out()
    await p.sign_in()
    data = json.loads(await p.page.locator("#js_data").inner_text())
    uv = data["request_options"]["publicKey"].get("userVerification")
    fact("PASSKEY-FACTOR", f"the password of a passkey-only account leads to {p.path()}; "
                           f"userVerification requested there: {uv!r}")
    fact("PASSKEY-SECOND-STEP", f"'Use a security key' there lands on "
                                f"{await use_key('Use a security key')}")
    before = await credential(key)
    await p.sign_out()
    await passkey_login()
    last_seen = await credential(key)
    await p.sign_out()
    key = await swap(key, before)
    fact("PASSKEY-SIGN-COUNT", f"a clone of the key whose counter is behind (it answers "
                               f"{before['signCount'] + 1}; the server already accepted "
                               f"{last_seen['signCount']}): passkey sign-in lands on "
                               f"{await passkey_login()}")
    await p.sign_out()
    key = await swap(key, last_seen, verified=False)
    posts: list[str] = []
    p.page.on("request", lambda r: posts.append(r.url) if r.method == "POST" else None)
    path = await passkey_login()
    fact("PASSKEY-USER-VERIFICATION", f"passkey sign-in with a key that cannot verify the user "
                                      f"(the page asks 'required'): stays on {path}; the browser "
                                      f"posted an answer: {bool(posts)}")
    await p.sign_in()
    fact("PASSKEY-UV-SECOND-STEP", f"the second step with that key (policy 'preferred') "
                                   f"lands on {await use_key('Use a security key')}")
    if p.path() != "/":
        key = await swap(key, last_seen)
        await use_key("Use a security key")
    await p.enrol()
    await p.go("/accounts/2fa/totp/deactivate/")
    await p.reauthenticate_if_asked()
    await p.click("Deactivate")
    fact("DISABLE-KEEPS-PASSKEYS", "after 'Deactivate' of the authenticator app: "
                                   + await p.security())
    await p.sign_out()
    await p.sign_in()
    fact("DISABLE-KEEPS-PASSKEYS-SIGNIN", f"signing in then still leads to {p.path()}")
    await use_key("Use a security key")
    await p.go("/accounts/2fa/webauthn/")
    await p.page.get_by_role("link", name="Remove").first.click()
    await p.page.wait_for_load_state()
    asked = await p.reauthenticate_if_asked()
    await p.click("Remove")
    fact("PASSKEY-REMOVE", f"removing the last key asked for the password: {asked}; then "
                           + await p.security())
    await p.context.close()


async def main() -> int:
    started = time.monotonic()
    site, story_a, story_b, story_c = (Facts(s) for s in (
        "site", "staff1: authenticator app, recovery codes, sessions, deactivation",
        "staff2: sign-in refusals and throttling", "owner and admin: Django admin, passkeys"))
    try:
        async with running_site(site) as base, async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            replay_seen = asyncio.get_running_loop().create_future()
            await asyncio.gather(staff1_story(browser, base, story_a, replay_seen),
                                 staff2_story(browser, base, story_b, replay_seen),
                                 admin_story(browser, base, story_c))
            await browser.close()
    finally:
        for facts in (site, story_a, story_b, story_c):
            facts.print()
    print(f"FACT PROBE: finished in {time.monotonic() - started:.1f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
