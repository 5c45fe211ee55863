"""A deployment whose pages say other words is checked through a mapping file: the reference,
relabelled by a test-only middleware, passes with the mapping, and cannot be read without it."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from browser_support import provider, reference, run
from playwright.sync_api import Browser
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from clinic2fa.scenarios.running.command import RunOptions
from clinic2fa.scenarios.running.command import run as run_suite
from clinic2fa.scenarios.targets import config

# The reference's words -> another clinic product's (pages only; the JSON API is untouched).
RELABEL = {
    "<h1>Security</h1>": "<h1>Account security</h1>",
    ">Set up authenticator app</button>": ">Add authenticator</button>",
    '<label for="code">6-digit code</label>': '<label for="code">Verification code</label>',
    '<button type="submit">Confirm</button>': '<button type="submit">Activate</button>',
    '<button type="submit">Sign in</button>': '<button type="submit">Log in</button>',
    "That code is not valid.": "Invalid verification code.",
}
MAPPING = """
[browser]
timeout = 5

[browser.locators]
page_security = { role = "heading", name = "Account security" }
setup_authenticator = { role = "button", name = "Add authenticator" }
code_field = { label = "Verification code" }
confirm_field = { label = "Verification code" }
confirm_submit = { role = "button", name = "Activate" }
sign_in_submit = { css = "form[aria-label='Sign in'] button[type=submit]" }
"""
MESSAGES = """
[[browser.messages]]
pattern = "Invalid verification code\\\\."
code = "code_rejected"
reason = "wrong_code"
"""
CHECKED = ("STEP-4-CONFIRM-ENROLMENT", "STEP-6-SIGN-IN-TEST")


def relabelled(app: ASGIApp) -> ASGIApp:
    """The app with RELABEL applied to every HTML page it sends."""

    async def wrapped(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        held: list[Message] = []

        async def rewrite(message: Message) -> None:
            if message["type"] == "http.response.start":
                held.append(message)
                return
            held.append(message)
            if message.get("more_body"):
                return
            start, parts = held[0], held[1:]
            headers = list(start["headers"])  # a list: two set-cookie headers must both stay
            body = b"".join(p.get("body", b"") for p in parts)
            if (b"content-type", b"text/html; charset=utf-8") in headers:
                text = body.decode()
                for old, new in RELABEL.items():
                    text = text.replace(old, new)
                body = text.encode()
                headers = [(k, str(len(body)).encode() if k == b"content-length" else v)
                           for k, v in headers]
            await send({**start, "headers": headers})
            await send({"type": "http.response.body", "body": body})

        await app(scope, receive, rewrite)

    return wrapped


@pytest.fixture(scope="module")
def site() -> Iterator[str]:
    with reference(wrap=relabelled) as url:
        yield url


def _browser_table(tmp_path: Path, text: str) -> dict[str, Any]:
    path = tmp_path / "deployment.toml"
    path.write_text(text)
    return config.load(path).browser


def test_the_mapping_file_reads_another_ui(browser: Browser, site: str, tmp_path: Path) -> None:
    table = _browser_table(tmp_path, MAPPING + MESSAGES)
    made = provider(site, browser, table, report_dir=tmp_path, opened=False)
    code = run_suite(RunOptions(target=made.name, select=list(CHECKED), report_dir=tmp_path),
                     provider=made, out=io.StringIO())
    report = json.loads((tmp_path / "report.json").read_text())
    assert {s["id"]: s["message"] for s in report["scenarios"]} == dict.fromkeys(CHECKED, "")
    assert code == 0
    assert report["target"]["browser"]["locators_overridden"] == sorted(
        ["page_security", "setup_authenticator", "code_field", "confirm_field",
         "confirm_submit", "sign_in_submit"])
    assert report["target"]["browser"]["messages_added"] == 1
    assert "6 locators overridden (code_field, confirm_field" in \
        (tmp_path / "report.html").read_text()


def test_an_alert_no_pattern_names_fails_a_code_check_saying_what_it_read(
        browser: Browser, site: str, tmp_path: Path) -> None:
    made = provider(site, browser, _browser_table(tmp_path, MAPPING))
    try:
        result = run(made, "STEP-4-CONFIRM-ENROLMENT")["STEP-4-CONFIRM-ENROLMENT"]
    finally:
        made.close()
    assert result.outcome.value == "fail"
    assert result.message == ("a wrong code at confirmation: refused with code_rejected, "
                              "got unknown (the page said: 'Invalid verification code.')")


def test_without_the_mapping_the_pages_cannot_be_read(browser: Browser, site: str) -> None:
    # the wait is what fails, not the page load: long enough for a page on a loaded machine
    made = provider(site, browser, {"timeout": 10})
    try:
        result = run(made, "STEP-1-SECURITY-SETTINGS")["STEP-1-SECURITY-SETTINGS"]
    finally:
        made.close()
    assert result.outcome.value == "error"
    assert 'waiting for get_by_role("button", name="Sign in", exact=True)' in result.message
