"""The browser mapping describes flows: steps per action, facts read the deployment's way, a
Python module for what TOML cannot say, and a QR code waited for until it decodes."""

from __future__ import annotations

import asyncio
import base64
import re
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from browser_support import outcome, provider, reference, run
from playwright.sync_api import Browser
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from clinic2fa.scenarios.errors import UsageError
from clinic2fa.scenarios.targets.browser import locators

FLOWS: dict[str, Any] = {
    "start_authenticator_setup": [
        {"goto": "/settings/security"},
        {"fill": {"label": "Re-enter your password"}, "value": "{password}",
         "when": {"label": "Re-enter your password"}},  # a prompt this site never shows
        {"submit": {"role": "button", "name": "Set up authenticator app"}},
        {"wait": "qr_code"},
    ],
    "confirm_enrolment": [
        {"goto": "/settings/security/authenticator", "unless": "confirm_field"},
        {"fill": "confirm_field", "value": "{code}"},
        {"submit": "confirm_submit"},
        {"wait": "backup_codes"},
    ],
    "disable_2fa": [
        {"goto": "/settings/security"},
        {"fill": "disable_password", "value": "{password}"},
        {"tick": {"css": "#no-such-checkbox"}, "optional": True},
        {"submit": "disable_submit"},
    ],
}
FACTS: dict[str, Any] = {
    "two_factor": {"pattern": r"2FA\s+On"},
    "backup_codes_left": {"pattern": r"Backup codes left\s+(\d+)"},
    "authenticator_app": {"present": {"role": "button", "name": "Regenerate backup codes"}},
}


# -- the mapping's mistakes, each one line naming its key -----------------------------------------

@pytest.mark.parametrize(("table", "complaint"), [
    ({"flows": {"fly": [{"goto": "/"}]}}, "[browser.flows] fly: no such action"),
    ({"flows": {"disable_2fa": [{"jump": "x"}]}}, "disable_2fa step 1: give exactly one of"),
    ({"flows": {"disable_2fa": [{"click": "nowhere"}]}}, "'nowhere' names no locator"),
    ({"flows": {"disable_2fa": [{"goto": "account"}]}}, "goto takes a path"),
    ({"flows": {"disable_2fa": [{"fill": "disable_password"}]}}, "fill needs one"),
    ({"flows": {"disable_2fa": [{"fill": "disable_password", "value": "{code}"}]}},
     "{code} is no value of disable_2fa"),
    ({"flows": {"disable_2fa": [{"goto": "/x", "optional": True}]}}, "optional is true or"),
    ({"facts": {"colour": {"present": "alert"}}}, "[browser.facts] colour: no such fact"),
    ({"facts": {"backup_codes_left": {"present": "alert"}}}, "read it with number or pattern"),
    ({"facts": {"backup_codes_left": {"pattern": "left"}}}, "needs a group"),
    ({"locators": {"reauth_password": {"label": "Password"}}}, "no flow or fact names it"),
    ({"module": "/nowhere/flows.py"}, "module /nowhere/flows.py not found"),
])
def test_each_mistake_names_its_key(table: dict[str, Any], complaint: str) -> None:
    with pytest.raises(UsageError) as error:
        locators.parse(table)
    assert complaint in str(error.value) and "\n" not in str(error.value)


def test_a_locator_of_its_own_is_fine_once_a_flow_uses_it() -> None:
    mapping = locators.parse({"locators": {"reauth_password": {"label": "Password"}},
                              "flows": {"disable_2fa": [{"fill": "reauth_password",
                                                         "value": "{password}"}]}})
    assert mapping.flows["disable_2fa"].steps[0].what == "reauth_password"


def test_a_module_function_must_be_named_after_an_action(tmp_path: Path) -> None:
    module = tmp_path / "flows.py"
    module.write_text("def dissable_2fa(page, password):\n    pass\n")
    with pytest.raises(UsageError, match="defines dissable_2fa, which is no action"):
        locators.parse({"module": "flows.py"}, base=tmp_path)
    module.write_text("def _helper(page):\n    pass\n\ndef sign_out(page, password):\n"
                      "    _helper(page)\n")
    assert locators.parse({"module": "flows.py"}, base=tmp_path).flows["sign_out"].function


# -- on the reference's pages -------------------------------------------------------------------


@pytest.fixture(scope="module")
def site() -> Iterator[str]:
    with reference() as url:
        yield url


def test_flows_and_facts_drive_the_pages(browser: Browser, site: str) -> None:
    made = provider(site, browser, {"flows": FLOWS, "facts": FACTS})
    try:
        results = run(made, "STEP-4-CONFIRM-ENROLMENT", "STEP-5-BACKUP-CODES", "TROUBLE-4-DISABLE",
                      "OUTCOME-2-BACKUP-CODE")
    finally:
        made.close()
    assert {k: (r.outcome.value, r.message) for k, r in results.items()} == \
        {k: ("pass", "") for k in results}
    assert made.mapping.describe()["flows"] == sorted(FLOWS)


def test_a_python_module_does_what_toml_cannot(browser: Browser, site: str,
                                               tmp_path: Path) -> None:
    (tmp_path / "flows.py").write_text(
        "def sign_out(page, password):\n"
        "    page.get_by_role('button', name='Avatar').click()\n"
        "    page.get_by_role('button', name='Sign out').click()\n")
    made = provider(site, browser, {"module": str(tmp_path / "flows.py")})
    try:
        result = run(made, "STEP-6-SIGN-IN-TEST")["STEP-6-SIGN-IN-TEST"]
    finally:
        made.close()
    assert (result.outcome.value, result.message) == ("pass", "")


# The stored password read through a page (a deployment's admin page, elsewhere); here from the
# reference's test support, whole, with the page's cookies and test clinic.
STORED = """
from urllib.parse import quote

def stored_password(page, subject, password):
    origin = "/".join(page.url.split("/")[:3])
    answer = page.request.get(f"{origin}/test-support/users/{quote(subject, safe='')}/stored")
    return answer.json()["password"]
"""


@pytest.mark.parametrize("defect", [None, "password-sha256"])
def test_a_stored_password_read_from_the_pages_is_judged(browser: Browser, tmp_path: Path,
                                                          defect: str | None) -> None:
    (tmp_path / "flows.py").write_text(STORED)
    result = outcome(browser, "PASSWORD-HASH-STORAGE", {"module": str(tmp_path / "flows.py")},
                     **({"defect": defect} if defect else {}))
    if defect is None:
        assert (result.outcome.value, result.message) == ("pass", "")
        calls = [e for e in result.trace.entries if e.text == "stored_password"]
        assert len(calls) == 2 and all(e.detail["result"] == "[redacted]" for e in calls)
    else:
        assert result.outcome.value == "fail"
        assert "not a hash of an approved password hashing function" in result.message


# -- a QR code that loads late ------------------------------------------------------------------

SVG = re.compile(r'<figure class="qr">(.*?)</figure>', re.S)
LATENCY = 0.5  # seconds the slow site takes to send its QR image (a slow network, not a wait)


def late_qr(app: ASGIApp) -> ASGIApp:
    """The setup page's QR code as an <img> of its own URL, which the site sends late."""
    images: dict[str, bytes] = {}

    async def wrapped(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith("/late-qr/"):
            await asyncio.sleep(LATENCY)
            body = images.get(scope["path"].rsplit("/", 1)[1], b"")
            await send({"type": "http.response.start", "status": 200,
                        "headers": [(b"content-type", b"image/svg+xml")]})
            await send({"type": "http.response.body", "body": body})
            return
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        held: list[Message] = []

        def late(match: re.Match[str]) -> str:
            key = secrets.token_hex(8)
            images[key] = re.sub(r'\s(role|aria-label)="[^"]*"', "", match.group(1)).encode()
            return (f'<figure class="qr"><img role="img" alt="QR code" width="220" height="220" '
                    f'style="background:#fff;padding:16px" src="/late-qr/{key}"></figure>')

        async def rewrite(message: Message) -> None:
            held.append(message)
            if message["type"] == "http.response.start" or message.get("more_body"):
                return
            start, parts = held[0], held[1:]
            body = b"".join(p.get("body", b"") for p in parts)
            headers = list(start["headers"])
            if (b"content-type", b"text/html; charset=utf-8") in headers:
                body = SVG.sub(late, body.decode()).encode()
                headers = [(k, str(len(body)).encode() if k == b"content-length" else v)
                           for k, v in headers]
            await send({**start, "headers": headers})
            await send({"type": "http.response.body", "body": body})

        await app(scope, receive, rewrite)

    return wrapped


@pytest.fixture(scope="module")
def slow_site() -> Iterator[str]:
    with reference(wrap=late_qr) as url:
        yield url


def test_the_qr_code_is_waited_for_until_it_decodes(browser: Browser, slow_site: str) -> None:
    made = provider(slow_site, browser)
    try:
        results = run(made, "STEP-3-SCAN-QR", "KEY-URI-FORMAT")
    finally:
        made.close()
    assert {k: (r.outcome.value, r.message) for k, r in results.items()} == \
        {k: ("pass", "") for k in results}


# -- a QR code served as an <img> of an SVG data: URI (as Flask-Security-Too does) --------------

BACKGROUND = re.compile(r'<rect width="(\d+)" height="\1" fill="#fff"/>')


def svg_img_qr(transparent: bool) -> Callable[[ASGIApp], ASGIApp]:
    """The setup page's QR code as <img src="data:image/svg+xml;base64,...">; `transparent`:
    without the SVG's own white background (the page behind it is white: it still scans)."""

    def wrap(app: ASGIApp) -> ASGIApp:
        def img(match: re.Match[str]) -> str:
            svg = re.sub(r'\s(role|aria-label)="[^"]*"', "", match.group(1))
            if transparent:
                svg = BACKGROUND.sub("", svg, count=1)
            data = base64.b64encode(svg.encode()).decode()
            return (f'<figure class="qr"><img role="img" alt="QR code" '
                    f'src="data:image/svg+xml;base64,{data}"></figure>')

        async def wrapped(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != "http":
                await app(scope, receive, send)
                return
            held: list[Message] = []

            async def rewrite(message: Message) -> None:
                held.append(message)
                if message["type"] == "http.response.start" or message.get("more_body"):
                    return
                start, parts = held[0], held[1:]
                body = b"".join(p.get("body", b"") for p in parts)
                headers = list(start["headers"])
                if (b"content-type", b"text/html; charset=utf-8") in headers:
                    body = SVG.sub(img, body.decode()).encode()
                    headers = [(k, str(len(body)).encode() if k == b"content-length" else v)
                               for k, v in headers  # a site whose policy lets data: images in
                               if k != b"content-security-policy"]
                await send({**start, "headers": headers})
                await send({"type": "http.response.body", "body": body})

            await app(scope, receive, rewrite)

        return wrapped

    return wrap


@pytest.mark.parametrize("transparent", [False, True])
def test_an_svg_image_is_read_on_its_own(browser: Browser, transparent: bool) -> None:
    result = outcome(browser, "QR-READABLE-EVERY-FORM", wrap=svg_img_qr(transparent))
    if transparent:
        assert result.outcome.value == "fail"
        assert "the QR code's SVG reads as nothing over a dark background" in result.message
    else:
        assert (result.outcome.value, result.message) == ("pass", "")
def transparent_qr(app: ASGIApp) -> ASGIApp:
    """The setup page's QR code as django-allauth serves it: an <img> of a data: URI SVG with
    no background of its own, on a white of the page's (its screenshot reads; the image does
    not). The reference's Content-Security-Policy, which allows no data: image, goes too."""

    async def wrapped(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        held: list[Message] = []

        def bare(match: re.Match[str]) -> str:
            svg = re.sub(r'\s(role|aria-label)="[^"]*"', "", match.group(1))
            svg = re.sub(r'<rect [^>]*fill="#fff"/>', "", svg)
            data = base64.b64encode(svg.encode()).decode()
            return (f'<figure class="qr"><img role="img" alt="QR code" style="background:#fff"'
                    f' src="data:image/svg+xml;base64,{data}"></figure>')

        async def rewrite(message: Message) -> None:
            held.append(message)
            if message["type"] == "http.response.start" or message.get("more_body"):
                return
            start, parts = held[0], held[1:]
            body = b"".join(p.get("body", b"") for p in parts)
            headers = list(start["headers"])
            if (b"content-type", b"text/html; charset=utf-8") in headers:
                body = SVG.sub(bare, body.decode()).encode()
                headers = [(k, str(len(body)).encode() if k == b"content-length" else v)
                           for k, v in headers if k != b"content-security-policy"]
            await send({**start, "headers": headers})
            await send({"type": "http.response.body", "body": body})

        await app(scope, receive, rewrite)

    return wrapped


def test_an_img_qr_code_is_read_as_served_not_only_as_shown(browser: Browser) -> None:
    """QR-READABLE: the data: URI an <img> shows is the image served; read on its own it has
    no light background, though the page's white makes the screenshot read."""
    with reference(wrap=transparent_qr) as url:
        made = provider(url, browser)
        try:
            results = run(made, "QR-READABLE-EVERY-FORM", "STEP-3-SCAN-QR")
        finally:
            made.close()
    assert (results["STEP-3-SCAN-QR"].outcome.value, results["STEP-3-SCAN-QR"].message) == \
        ("pass", "")
    qr = results["QR-READABLE-EVERY-FORM"]
    assert (qr.outcome.value, qr.message) == (
        "fail", "the QR code's SVG reads as nothing over a dark background: it has no light "
                "background of its own")
