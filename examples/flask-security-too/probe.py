"""Show, in Chromium, the Flask-Security-Too behaviours that expected.toml's verdicts rest on.

Standalone (no clinic2fa): starts its own sites (serve.py on fresh databases in a temporary
folder, one with the operator's --require-2fa), drives them with Playwright (Debian's Chromium,
its virtual WebAuthn authenticators) and pyotp, and prints one `FACT <name>: <what was seen>`
line per behaviour; expected.toml cites the names. Two facts need more than a browser: the
recovery-code race posts in parallel threads with urllib, and the Cache-Control control serves
three tiny pages from a local Flask app. No sleeps: TOTP checks use the current step and its
neighbours, and a check that a 30-s boundary cut through is simply run again.

    .venv/bin/python probe.py [--passwords N] [--timing]
"""

from __future__ import annotations

import argparse
import base64
import json
import re
import subprocess
import sys
import tempfile
import threading
import time
import tomllib
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from io import BytesIO
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pyotp
import zxingcpp
from flask import Flask, Response, make_response
from PIL import Image
from playwright.sync_api import Browser, BrowserContext, CDPSession, Page, Route, sync_playwright
from playwright.sync_api import Error as PlaywrightError
from werkzeug.serving import make_server

HERE = Path(__file__).resolve().parent
CHROMIUM = "/usr/lib/chromium/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
WRONG = "wrong-" + "password"  # a password no seeded account has
OWNER, ADMIN, STAFF1, STAFF2 = tomllib.loads((HERE / "accounts.toml").read_text())["account"]


STARTED = time.time()


def fact(name: str, text: str) -> None:
    print(f"FACT {name}: {text}", flush=True)
    if "--timing" in sys.argv:
        print(f"  at {time.time() - STARTED:.1f} s", flush=True)


class Site:
    """A fresh site (serve.py) on a free port, with the request log it writes to stderr."""

    def __init__(self, tmp: Path, *extra: str) -> None:
        db = self.db = tmp / f"clinic{len(extra)}.sqlite3"
        self.proc = subprocess.Popen(  # noqa: S603  (our own serve.py, fixed arguments)
            [sys.executable, str(HERE / "serve.py"), "--port", "0", "--db", str(db), *extra],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=HERE,
        )
        assert self.proc.stdout and self.proc.stderr
        match = re.search(r"http://localhost:(\d+)/", self.proc.stdout.readline())
        if not match:
            self.proc.kill()
            raise RuntimeError(f"site did not start: {self.proc.stderr.read()}")
        self.base = f"http://localhost:{match.group(1)}"
        self.log: list[str] = []
        self._marks: dict[str, threading.Event] = {}
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stderr
        for line in iter(self.proc.stderr.readline, ""):
            self.log.append(line)
            for mark, seen in self._marks.items():
                if mark in line:
                    seen.set()

    def requests_so_far(self, page: Page) -> list[str]:
        """The log up to now: ask for a marked URL and wait (event, no sleep) for its log line."""
        mark = f"mark-{len(self._marks)}"
        self._marks[mark] = threading.Event()
        page.request.get(f"{self.base}/?{mark}")
        self._marks[mark].wait(timeout=10)
        return list(self.log)

    def reset(self) -> float:
        """The reset hook (serve.py --reset on the same database, server running); seconds."""
        started = time.time()
        subprocess.run(  # noqa: S603  (our own serve.py, fixed arguments)
            [sys.executable, str(HERE / "serve.py"), "--reset", "--db", str(self.db)],
            check=True,
            capture_output=True,
            cwd=HERE,
        )
        return time.time() - started

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)


@contextmanager
def site(tmp: Path, *extra: str) -> Iterator[Site]:
    running = Site(tmp, *extra)
    try:
        yield running
    finally:
        running.close()


# -- page helpers ---------------------------------------------------------------------------------


def sign_in(page: Page, base: str, account: dict[str, str], password: str | None = None) -> str:
    """Password step; returns the URL it lands on (/ when no second factor, else the 2nd step)."""
    page.goto(base + "/login")
    page.fill("#email", account["email"])
    page.fill("#password", password if password is not None else account["password"])
    page.click("#submit")
    page.wait_for_load_state()
    return urlparse(page.url).path


def sign_out(page: Page, base: str) -> None:
    page.goto(base + "/")
    page.click("text=Sign out")
    page.wait_for_load_state()


def signed_in_as(page: Page, base: str) -> str:
    page.goto(base + "/")
    el = page.locator("#signed-in")
    return el.inner_text() if el.count() else "nobody"


def flashes(page: Page) -> str:
    """The flashed messages and field errors on the page, as shown."""
    text = " | ".join(t.strip() for t in page.locator(".fs-error-msg, p.flash").all_inner_texts())
    return text or "(none)"


def start_setup(page: Page, base: str) -> dict[str, str]:
    """Choose the authenticator app on /tf-setup; read the QR (as a phone would) and the key."""
    page.goto(base + "/tf-setup")
    page.check("input[name=setup][value=authenticator]")
    page.click("#submit")
    page.wait_for_load_state()
    img = page.locator("img#qrcode")
    uri = zxingcpp.read_barcodes(Image.open(BytesIO(img.screenshot())))[0].text
    key = page.locator("img#qrcode >> xpath=../following-sibling::div[1]").inner_text().strip()
    return {
        "uri": uri,
        "key": key,
        "src": img.get_attribute("src") or "",
        "secret": parse_qs(urlparse(uri).query)["secret"][0],
        "action": page.locator("form[name=two_factor_verify_code_form]").get_attribute("action")
        or "",
    }


def submit_code(page: Page, code: str, form: str = "two_factor_verify_code_form") -> None:
    page.fill(f"form[name={form}] input[name=code]", code)
    page.click(f"form[name={form}] [type=submit]")
    page.wait_for_load_state()


def at(secret: str, steps: int) -> str:
    return pyotp.TOTP(secret).at(time.time() + 30 * steps)


def same_step(check: Callable[[], bool]) -> bool:
    """Run a self-contained code check; run it again if a 30-s step boundary fell inside it.

    Only the window's edges (+-4 / +-5 steps) depend on the step; a boundary cannot fall inside
    two checks in a row, so the second run is exact. No waiting.
    """
    for _ in range(2):
        before = int(time.time() // 30)
        result = check()
        if int(time.time() // 30) == before:
            return result
    return result


def enrol(page: Page, base: str) -> str:
    setup = start_setup(page, base)
    submit_code(page, at(setup["secret"], 0))
    return setup["secret"]


def code_sign_in(
    page: Page, base: str, account: dict[str, str], steps: int, secret: str, stay: bool = False
) -> bool:
    """Password, then the code of `steps` steps from now; True if it ends signed in."""
    if sign_in(page, base, account) != "/tf-validate":
        return False
    submit_code(page, at(secret, steps))
    ok = urlparse(page.url).path == "/" and page.locator("#signed-in").count() == 1
    if ok and not stay:
        sign_out(page, base)
    return ok


def b64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def new_context(browser: Browser) -> BrowserContext:
    """A fresh browser profile that fails in 10 s rather than Playwright's 30."""
    ctx = browser.new_context()
    ctx.set_default_timeout(10_000)
    return ctx


def cookie(ctx: BrowserContext, name: str = "session") -> str:
    return next((c["value"] for c in ctx.cookies() if c["name"] == name), "")


def csrf(page: Page) -> str:
    return page.locator("input[name=csrf_token]").first.get_attribute("value") or ""


# -- facts ----------------------------------------------------------------------------------------


def errors(page: Page) -> str:
    return " | ".join(page.locator(".fs-error-msg").all_inner_texts()) or "(none)"


def labels(page: Page, form: str) -> str:
    return ", ".join(page.locator(f"form[name={form}] label").all_inner_texts())


def probe_setup_and_qr(browser: Browser, base: str) -> dict[str, str]:
    """Setup screens; returns the confirmed secrets (owner: the first setup; staff2)."""
    ctx = new_context(browser)
    page = ctx.new_page()
    sign_in(page, base, OWNER)
    page.goto(base + "/tf-setup")
    link = page.locator("a[href='/mf-recovery-codes']").count() > 0
    fact(
        "setup-page",
        f"choices: {labels(page, 'two_factor_setup_form')}; recovery-code link: {link}",
    )
    with page.expect_response(
        lambda r: r.url.endswith("/tf-setup") and r.request.method == "POST"
    ) as qr:
        setup = start_setup(page, base)
    fact("setup-cache-control", f"QR page Cache-Control: {qr.value.headers.get('cache-control')!r}")
    fact("qr-uri", setup["uri"].replace(setup["secret"], "<secret>"))
    fact("qr-form", f"<img id=qrcode> with a data URI ({setup['src'][:26]}...), no width/height")
    svg = base64.b64decode(setup["src"].split(",", 1)[1]).decode()
    fact(
        "qr-background",
        "the SVG paints a light background of its own: "
        f"{bool(re.search(r'fill=.(#fff|white)', svg, re.I))}; quiet zone: modules start at 4mm",
    )
    alone = browser.new_page()  # the served image by itself, as a reader given the file sees it
    alone.set_content(
        f'<body style="margin:0;background:transparent"><img id=q src="{setup["src"]}">'
    )
    rgba = Image.open(BytesIO(alone.locator("#q").screenshot(omit_background=True))).convert("RGBA")
    alone.close()
    seen = {}
    for colour in ("white", "black"):
        under = Image.new("RGBA", rgba.size, colour)
        under.alpha_composite(rgba)
        seen[colour] = bool(zxingcpp.read_barcodes(under.convert("L")))
    fact(
        "qr-readable",
        f"screenshot of the element on the page: decodes; the SVG alone over white: "
        f"{seen['white']}; over black: {seen['black']}",
    )
    plain = setup["key"].replace("-", "")
    key_bytes = base64.b32decode(plain + "=" * (-len(plain) % 8))
    fact(
        "manual-secret",
        f"{setup['key'].count('-') + 1} groups of 4 joined by '-', under the QR; "
        f"same secret as the QR: {plain == setup['secret']}",
    )
    overlap = all(
        (key_bytes[i] >> 3) == (key_bytes[i + 1] & 0x1F) for i in range(len(key_bytes) - 1)
    )
    fact(
        "totp-secret-entropy",
        f"{len(key_bytes)} bytes; each byte's top 5 bits equal the next "
        f"byte's low 5 bits: {overlap} (by chance: 2^-95), so about 65 random bits",
    )
    # A second setup in another tab, then confirm the FIRST one with its own code.
    second = start_setup(ctx.new_page(), base)
    fact("setup-retry", f"a second setup shows a new secret: {second['secret'] != setup['secret']}")
    submit_code(page, at(setup["secret"], 0))
    fact(
        "setup-old-pending-secret",
        f"the superseded first setup's code confirms it: {flashes(page)}",
    )
    try:  # Back, from the confirmation, to the page that showed the QR (a POST answer)
        page.go_back()
        back = f"{urlparse(page.url).path}, QR shown: {page.locator('img#qrcode').count() > 0}"
    except PlaywrightError as refused:
        back = str(refused).splitlines()[0]
        page.wait_for_url(re.compile(r"chrome-error://.*"))  # let Chromium's error page settle
    fact("setup-back-button", f"Back to the QR page after enrolment: {back}")
    sign_out(page, base)
    first_ok = code_sign_in(page, base, OWNER, 0, setup["secret"])
    second_ok = code_sign_in(page, base, OWNER, 0, second["secret"])
    fact(
        "setup-old-pending-secret",
        f"sign-in then takes the first secret: {first_ok}; the newer second: {second_ok}",
    )
    # A wrong code during setup (staff2 has no 2FA yet).
    sign_in(page, base, STAFF2)
    third = start_setup(page, base)
    submit_code(page, "000000" if at(third["secret"], 0) != "000000" else "111111")
    fact(
        "setup-wrong-code",
        f"-> {urlparse(page.url).path}, message {flashes(page)!r}, QR still shown: "
        f"{page.locator('img#qrcode').count() == 1}",
    )
    r = page.request.post(
        base + third["action"], form={"csrf_token": csrf(page), "code": at(third["secret"], 0)}
    )
    fact(
        "setup-wrong-code",
        "the dropped setup's form URL still confirms it with the right code: "
        f"{'successfully changed' in r.text()}",
    )
    ctx.close()
    return {"owner": setup["secret"], "staff2": third["secret"]}


def probe_signin_codes(browser: Browser, base: str) -> None:
    ctx = new_context(browser)
    page = ctx.new_page()
    sign_in(page, base, ADMIN)
    secret = enrol(page, base)
    sign_out(page, base)
    window = {k: same_step(lambda k=k: code_sign_in(page, base, ADMIN, k, secret)) for k in (-4, 4)}
    sign_in(page, base, ADMIN)
    fact(
        "second-step",
        f"after the password: {urlparse(page.url).path}, {page.locator('h3').first.inner_text()!r}",
    )

    def outside(k: int) -> bool:  # refused codes leave the sign-in pending: try them in turn
        submit_code(page, at(secret, k))
        return urlparse(page.url).path == "/"

    window.update({k: same_step(lambda k=k: outside(k)) for k in (-5, 5)})
    fact(
        "totp-window",
        ", ".join(f"{k:+d} steps {'accepted' if window[k] else 'refused'}" for k in (-5, -4, 4, 5)),
    )
    submit_code(page, "000000" if at(secret, 0) != "000000" else "111111")
    fact("wrong-code", f"-> {urlparse(page.url).path}, message {errors(page)!r}")
    full = "".join(chr(0xFF10 + int(c)) for c in at(secret, 0))
    page.fill("#code", full)  # the input's pattern="[0-9]*" stops a click; form.submit() does not
    with page.expect_navigation():
        page.evaluate(
            "HTMLFormElement.prototype.submit.call(document.forms.two_factor_verify_code_form)"
        )
    fact("unicode-digits", f"the right code in full-width digits -> {errors(page)!r}")
    token = csrf(page)
    statuses = {
        page.request.post(
            base + "/tf-validate", form={"csrf_token": token, "code": "000000"}
        ).status
        for _ in range(101)
    }
    submit_code(page, at(secret, 0))
    fact(
        "code-rate-limit",
        f"101 wrong codes in a row (HTTP {sorted(statuses)}), then the right "
        f"code: {signed_in_as(page, base)}",
    )
    sign_out(page, base)
    # One code, two sign-ins; and the pending cookie kept from before the second step.
    code = at(secret, 0)
    sign_in(page, base, ADMIN)
    pending = cookie(ctx)
    submit_code(page, code)
    first = signed_in_as(page, base)
    full_session = cookie(ctx)
    spare = new_context(browser)
    spare.add_cookies([{"name": "session", "value": pending, "url": base}])
    p2 = spare.new_page()
    p2.goto(base + "/tf-validate")
    reached = urlparse(p2.url).path == "/tf-validate" and p2.locator("#code").count() == 1
    submit_code(p2, code)
    fact(
        "totp-replay",
        f"one code, used for {first!r}, then again (other browser, old pending "
        f"cookie): {signed_in_as(p2, base)!r}",
    )
    fact(
        "pending-cookie",
        f"the session cookie changed at sign-in: {full_session != pending}; the "
        f"pending cookie kept from before still opens the code step: {reached}",
    )
    spare.close()
    sign_out(page, base)
    spare = new_context(browser)
    spare.add_cookies([{"name": "session", "value": full_session, "url": base}])
    fact(
        "sign-out",
        f"a session cookie copied before sign-out, used after it: "
        f"{signed_in_as(spare.new_page(), base)!r}",
    )
    spare.close()
    ctx.close()


def probe_pending_state(browser: Browser, base: str) -> None:
    ctx = new_context(browser)
    page = ctx.new_page()
    seen = []
    for path in ("/tf-setup", "/mf-recovery-codes", "/wan-register"):
        sign_in(page, base, ADMIN)  # enrolled in probe_signin_codes
        page.goto(base + path)
        landed, message = urlparse(page.url).path, flashes(page)
        page.goto(base + "/tf-validate")
        kept = urlparse(page.url).path == "/tf-validate"
        seen.append(f"{path} -> {landed} ({message}; pending kept: {kept})")
    fact("pending-state", "; ".join(seen))
    ctx.close()


def probe_passwords(browser: Browser, base: str, tries: int) -> None:
    ctx = new_context(browser)
    page = ctx.new_page()
    sign_in(page, base, {"email": "nobody@example.com"}, password="x" * 12)
    unknown = errors(page)
    sign_in(page, base, STAFF1, password=WRONG)
    fact("signin-messages", f"unknown e-mail: {unknown!r}; wrong password: {errors(page)!r}")
    token = csrf(page)
    started = time.time()
    for _ in range(tries):
        page.request.post(
            base + "/login",
            form={"csrf_token": token, "email": STAFF1["email"], "password": WRONG},
        )
    each = (time.time() - started) / max(tries, 1)
    fact(
        "password-rate-limit",
        f"{tries} wrong passwords in a row ({each:.2f} s each), then the "
        f"right one: {sign_in(page, base, STAFF1)}",
    )
    sign_out(page, base)
    page.goto(base + "/login")
    big = page.request.post(
        base + "/login",
        form={"csrf_token": csrf(page), "email": "a@example.com", "password": "p" * 2_000_000},
    )
    fact("request-size", f"a 2 MB form posted to /login -> HTTP {big.status}")
    ctx.close()


RACERS = 20


def race_recovery_code(browser: Browser, base: str, code: str) -> int:
    """RACERS posts of one recovery code at once (plain HTTP, threads), all from one pending
    sign-in: the pending state is only the signed cookie, so its copies are all equally valid."""
    ctx = new_context(browser)
    page = ctx.new_page()
    sign_in(page, base, STAFF1)
    page.goto(base + "/mf-recovery")
    token, jar = csrf(page), "; ".join(f"{c['name']}={c['value']}" for c in ctx.cookies())
    ctx.close()
    accepted: list[bool] = []
    start = threading.Barrier(RACERS)

    class Keep(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: object, **kwargs: object) -> None:
            return None  # a 302 here means the code was taken

    def post() -> None:
        body = urllib.parse.urlencode({"csrf_token": token, "code": code}).encode()
        url = base + "/mf-recovery"  # http://localhost:<port> only
        request = urllib.request.Request(url, data=body, headers={"Cookie": jar})  # noqa: S310
        start.wait()
        try:
            accepted.append(urllib.request.build_opener(Keep).open(request).status == 302)
        except urllib.error.HTTPError as answer:
            accepted.append(answer.code == 302)

    threads = [threading.Thread(target=post) for _ in range(RACERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(accepted)


def probe_recovery_codes(browser: Browser, running: Site) -> None:
    base = running.base
    ctx = new_context(browser)
    page = ctx.new_page()
    sign_in(page, base, STAFF1)
    secret = enrol(page, base)
    page.goto(base + "/mf-recovery-codes")
    fact(
        "recovery-page",
        "buttons: "
        + ", ".join(
            page.locator("input[type=submit]").evaluate_all("els => els.map(e => e.value)")
        ),
    )
    with page.expect_response(lambda r: r.request.method == "POST") as shown:
        page.click("#generate_new_codes")
    page.wait_for_load_state()
    codes = page.locator("ul li.fs-div").all_inner_texts()
    fact(
        "recovery-codes",
        f"{len(codes)} codes like {codes[0][:5]}xxxx-xxxx (12 hex digits), no "
        f"password asked; Cache-Control {shown.value.headers.get('cache-control')!r}",
    )
    page.goto(base + "/mf-recovery-codes")
    page.click("#show_codes")
    page.wait_for_load_state()
    fact(
        "recovery-shown-again",
        "'Show Recovery Codes' lists the same codes again: "
        f"{page.locator('ul li.fs-div').all_inner_texts() == codes}",
    )
    before = sum("show_codes" in line for line in running.requests_so_far(page))
    page.goto(base + "/")
    page.go_back()
    page.wait_for_load_state()
    after = sum("show_codes" in line for line in running.requests_so_far(page))
    fact(
        "recovery-back-button",
        f"Back shows the codes again ({page.locator('ul li.fs-div').count()}) "
        f"without asking the server: {after == before}",
    )
    sign_out(page, base)
    sign_in(page, base, STAFF1)
    fact("rescue-options", f"on the code page: {labels(page, 'two_factor_rescue_form')}")
    page.goto(base + "/mf-recovery")
    submit_code(page, codes[0], form="mf_recovery_form")
    first = signed_in_as(page, base)
    sign_out(page, base)
    sign_in(page, base, STAFF1)
    page.goto(base + "/mf-recovery")
    submit_code(page, codes[0], form="mf_recovery_form")
    again = errors(page)
    submit_code(page, codes[1].upper(), form="mf_recovery_form")
    fact(
        "recovery-single-use",
        f"first use: {first!r}; second use: {again!r}; another code in "
        f"upper case: {errors(page)!r}",
    )
    fact(
        "recovery-race",
        f"one code posted {RACERS} times at once from one pending sign-in, three codes: "
        f"accepted {' / '.join(str(race_recovery_code(browser, base, c)) for c in codes[5:8])}",
    )
    token = csrf(page)
    for _ in range(50):
        page.request.post(
            base + "/mf-recovery", form={"csrf_token": token, "code": "0000-0000-0000"}
        )
    submit_code(page, codes[1], form="mf_recovery_form")
    fact(
        "recovery-rate-limit",
        f"50 wrong recovery codes, then a right one: {signed_in_as(page, base)!r}",
    )
    page.goto(base + "/mf-recovery-codes")
    page.click("#generate_new_codes")
    page.wait_for_load_state()
    fresh = page.locator("ul li.fs-div").all_inner_texts()
    sign_out(page, base)
    sign_in(page, base, STAFF1)
    page.goto(base + "/mf-recovery")
    submit_code(page, codes[2], form="mf_recovery_form")
    fact(
        "recovery-regenerate",
        f"a new list of {len(fresh)}, no password asked; an unused old code then: {errors(page)!r}",
    )
    page.goto(base + "/tf-validate")
    submit_code(page, at(secret, 0))
    page.goto(base + "/tf-setup")
    fact("disable", f"/tf-setup when on: {labels(page, 'two_factor_setup_form')}")
    page.check("input[name=setup][value=disable]")
    page.click("#submit")
    page.wait_for_load_state()
    fact("disable", f"'disable' + Submit, no password asked: {flashes(page)!r}")
    page.goto(base + "/mf-recovery-codes")
    page.click("#show_codes")
    page.wait_for_load_state()
    fact(
        "disable-leaves-codes",
        f"recovery codes still listed after disabling: {page.locator('ul li.fs-div').count()}",
    )
    ctx.close()


def add_authenticator(ctx: BrowserContext, page: Page) -> tuple[CDPSession, str]:
    cdp = ctx.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    return cdp, new_authenticator(cdp)


def new_authenticator(cdp: CDPSession) -> str:
    return cdp.send(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "ctap2",
                "transport": "internal",
                "hasResidentKey": True,
                "hasUserVerification": True,
                "isUserVerified": True,
            }
        },
    )["authenticatorId"]


def ceremony(page: Page, start: Callable[[], None], script: str, answer: str) -> dict:
    """Run a WebAuthn page to its end; return the options the page passed to the browser."""
    seen: dict[str, str] = {}

    def keep_options(route: Route) -> None:
        if route.request.method != "POST":
            route.continue_()
            return
        response = route.fetch()
        seen["page"] = response.text()
        route.fulfill(response=response)

    pattern = re.compile(rf".*/{answer}(\?.*)?$")
    page.route(pattern, keep_options)
    # Start -> options page (its script calls navigator.credentials and posts the answer to
    # /<answer>/<state>) -> redirect to the result. Wait for the redirected GET, then for the
    # options page's form to be gone.
    with page.expect_response(
        lambda r: (
            r.request.redirected_from is not None and f"/{answer}/" in r.request.redirected_from.url
        )
    ):
        start()
    page.locator(f"#{answer}-response-form").wait_for(state="detached")
    page.wait_for_load_state()
    page.unroute(pattern, keep_options)
    found = re.search(script + r"\('(.*?)'\)", seen.get("page", ""))
    options = json.loads(found.group(1)) if found else {}
    options["flash"] = flashes(page)
    return options


def register_key(page: Page, base: str, name: str) -> dict:
    page.goto(base + "/wan-register")
    page.fill("#name", name)
    return ceremony(page, lambda: page.click("#wan_register"), "handleRegister", "wan-register")


def passkey_step(page: Page, base: str) -> dict:
    page.goto(base + "/wan-signin")
    return ceremony(page, lambda: page.click("#wan_signin"), "handleSignin", "wan-signin")


def choose(page: Page, method: str) -> None:
    page.check(f"input[name=which][value={method}]")
    page.click("form[name=tf_select] [type=submit]")
    page.wait_for_load_state()


def probe_passkeys(browser: Browser, base: str, staff2_secret: str, owner_secret: str) -> None:
    ctx = new_context(browser)
    page = ctx.new_page()
    cdp, auth = add_authenticator(ctx, page)
    code_sign_in(page, base, STAFF2, 0, staff2_secret, stay=True)
    reg = register_key(page, base, "staff2 key")
    sel = reg.get("authenticatorSelection", {})
    fact(
        "passkey-register",
        f"{reg['flash']!r}; challenge {len(b64url(reg['challenge']))} bytes; "
        f"userVerification {sel.get('userVerification')!r}; "
        f"residentKey {sel.get('residentKey')!r}; "
        "usage radio default 'secondary'; no password asked",
    )
    snapshot = cdp.send("WebAuthn.getCredentials", {"authenticatorId": auth})["credentials"]
    sign_out(page, base)
    sign_in(page, base, STAFF2)
    fact("passkey-select", f"password -> {urlparse(page.url).path}: {labels(page, 'tf_select')}")
    choose(page, "webauthn")
    opts = passkey_step(page, base)
    fact(
        "passkey-second-step",
        f"{signed_in_as(page, base)!r}; allowCredentials "
        f"{len(opts.get('allowCredentials', []))}; "
        f"challenge {len(b64url(opts['challenge']))} bytes; "
        f"userVerification {opts.get('userVerification')!r}",
    )
    sign_out(page, base)
    landed = sign_in(page, base, ADMIN)  # admin: authenticator app only
    opts = passkey_step(page, base)
    fact(
        "passkey-own-credential",
        f"admin's password -> {landed}; then /wan-signin (allowCredentials "
        f"{len(opts.get('allowCredentials', []))}) answered with staff2's passkey: "
        f"{signed_in_as(page, base)!r}",
    )
    sign_out(page, base)
    cdp.send("WebAuthn.removeVirtualAuthenticator", {"authenticatorId": auth})
    clone = new_authenticator(cdp)
    for cred in snapshot:
        cdp.send("WebAuthn.addCredential", {"authenticatorId": clone, "credential": cred})
    sign_in(page, base, STAFF2)
    choose(page, "webauthn")
    opts = passkey_step(page, base)
    fact(
        "passkey-clone",
        f"a copy of the key with its old sign count ({snapshot[0]['signCount']}): "
        f"{opts['flash']!r}",
    )
    cdp.send("WebAuthn.removeVirtualAuthenticator", {"authenticatorId": clone})
    new_authenticator(cdp)
    sign_in(page, base, STAFF2)
    choose(page, "authenticator")
    submit_code(page, at(staff2_secret, 0))
    register_key(page, base, "spare key")
    page.goto(base + "/wan-register")
    page.fill("#delete-name", "spare key")
    page.click("form[name=wan_delete_form] [type=submit]")
    page.wait_for_load_state()
    fact("passkey-delete", f"nickname + Delete, no password asked: {flashes(page)!r}")
    page.goto(base + "/tf-setup")
    page.check("input[name=setup][value=disable]")
    page.click("#submit")
    page.wait_for_load_state()
    disabled = flashes(page)
    page.goto(base + "/wan-register")
    listed = page.locator("li", has_text="staff2 key").count() > 0
    sign_out(page, base)
    after = sign_in(page, base, STAFF2)
    fact(
        "disable-leaves-passkey",
        f"{disabled!r}; the passkey still listed: {listed}; next sign-in: "
        f"password -> {after} ({page.locator('h1').first.inner_text()!r})",
    )
    ctx.close()
    # A first-factor passkey ("Sign in with a passkey") needs a cross-platform authenticator.
    ctx = new_context(browser)
    page = ctx.new_page()
    cdp = ctx.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    usb = cdp.send(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "ctap2",
                "transport": "usb",
                "hasResidentKey": True,
                "hasUserVerification": True,
                "isUserVerified": True,
            }
        },
    )["authenticatorId"]
    code_sign_in(page, base, OWNER, 0, owner_secret, stay=True)
    page.goto(base + "/wan-register")
    page.fill("#name", "owner usb key")
    page.check("input[name=usage][value=first]")
    reg = ceremony(page, lambda: page.click("#wan_register"), "handleRegister", "wan-register")
    fact(
        "passkey-first-register",
        f"{reg['flash']!r}; authenticatorAttachment "
        f"{reg.get('authenticatorSelection', {}).get('authenticatorAttachment')!r}, "
        "userVerification "
        f"{reg.get('authenticatorSelection', {}).get('userVerification')!r}",
    )
    sign_out(page, base)
    page.goto(base + "/login")
    page.click("#wan_signin")  # the login page's "Sign in with a passkey" button (a GET form)
    page.wait_for_url(re.compile(r".*/wan-signin(\?.*)?$"))
    ceremony(page, lambda: page.click("#wan_signin"), "handleSignin", "wan-signin")
    with_uv = signed_in_as(page, base)
    sign_out(page, base)
    # The same credential in a key without user verification (no PIN, no fingerprint).
    creds = cdp.send("WebAuthn.getCredentials", {"authenticatorId": usb})["credentials"]
    cdp.send("WebAuthn.removeVirtualAuthenticator", {"authenticatorId": usb})
    plain = cdp.send(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "ctap2",
                "transport": "usb",
                "hasResidentKey": True,
                "hasUserVerification": False,
            }
        },
    )["authenticatorId"]
    for cred in creds:
        cdp.send("WebAuthn.addCredential", {"authenticatorId": plain, "credential": cred})
    page.goto(base + "/wan-signin")
    page.fill("#identity", OWNER["email"])  # a key without UV is found through the identity
    ceremony(page, lambda: page.click("#wan_signin"), "handleSignin", "wan-signin")
    fact(
        "passkey-first-signin",
        f"/login -> 'Sign in with a passkey' -> Start: user verified -> "
        f"{with_uv!r}, no password, no code; the same key without user verification -> "
        f"{urlparse(page.url).path}",
    )
    ctx.close()


def probe_reset(browser: Browser, running: Site) -> None:
    """After everything above: the reset hook puts the seeded state back under a live server."""
    ctx = new_context(browser)
    page = ctx.new_page()
    sign_in(page, running.base, ADMIN)  # admin: authenticator app on since probe_signin_codes
    pending = urlparse(page.url).path
    taken = running.reset()
    page.goto(running.base + "/tf-validate")
    dropped = urlparse(page.url).path
    landed = sign_in(page, running.base, ADMIN)
    page.goto(running.base + "/mf-recovery-codes")
    page.click("#show_codes")
    page.wait_for_load_state()
    fact(
        "reset",
        f"serve.py --reset took {taken:.1f} s with the server running; a sign-in "
        f"pending at {pending} before it -> {dropped}; admin's password now -> {landed}; "
        f"recovery codes: {errors(page)!r}",
    )
    ctx.close()


def probe_cache_control(browser: Browser) -> None:
    """Control: Chromium's Back on a well-formed no-store page, on the library's form, on none."""
    hits = {"good": 0, "library": 0, "none": 0}
    app = Flask("control")

    @app.get("/<kind>")
    def page_of(kind: str) -> Response:
        resp = make_response(f"<p>{kind}</p>")
        if kind in hits:
            hits[kind] += 1
        if kind == "good":
            resp.headers["Cache-Control"] = "private, no-store"
        elif kind == "library":
            for name, value in {"private": True, "no-store": True}.items():
                resp.cache_control[name] = value  # flask_security.utils._add_cache_control's way
        return resp

    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    control = f"http://localhost:{server.server_port}"
    header = ""
    for kind in hits:
        page = browser.new_page()
        response = page.goto(f"{control}/{kind}")
        if kind == "library" and response:
            header = response.headers.get("cache-control", "")
        page.goto(f"{control}/other")
        page.go_back()
        page.close()
    server.shutdown()
    fact(
        "cache-control",
        f"the library's way gives {header!r}; server hits after Back: well-formed "
        f"no-store {hits['good']}, the library's {hits['library']}, no header {hits['none']} "
        "(2 = fetched again, 1 = shown from the browser's cache)",
    )


def probe_enforcement(browser: Browser, tmp: Path) -> None:
    with site(tmp, "--require-2fa", "--quiet") as running:
        base = running.base
        ctx = new_context(browser)
        page = ctx.new_page()
        landed = sign_in(page, base, STAFF1)
        choices = labels(page, "two_factor_setup_form")
        home = signed_in_as(page, base)
        sign_in(page, base, STAFF1)
        enrol(page, base)
        done = signed_in_as(page, base)
        page.goto(base + "/tf-setup")
        fact(
            "operator-require-2fa",
            f"with SECURITY_TWO_FACTOR_REQUIRED: password -> {landed} "
            f"({choices}); '/' meanwhile: {home!r}; after enrolling: {done!r}; /tf-setup then "
            f"offers: {labels(page, 'two_factor_setup_form')}",
        )
        ctx.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--passwords", type=int, default=5, help="wrong passwords to send")
    parser.add_argument("--timing", action="store_true", help="print the time after each fact")
    args = parser.parse_args()
    started = time.time()
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        with site(Path(tmp)) as running:
            confirmed = probe_setup_and_qr(browser, running.base)
            probe_signin_codes(browser, running.base)
            probe_pending_state(browser, running.base)
            probe_passwords(browser, running.base, args.passwords)
            probe_recovery_codes(browser, running)
            probe_passkeys(browser, running.base, confirmed["staff2"], confirmed["owner"])
            probe_reset(browser, running)
        probe_cache_control(browser)
        probe_enforcement(browser, Path(tmp))
        browser.close()
    fact("probe", f"done in {time.time() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
