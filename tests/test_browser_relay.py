"""relay.py on a real page: a form sent by the harness as the page would, reaching the server
once."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest
from playwright.sync_api import Browser

from clinic2fa.scenarios.targets.browser import relay

PAGE = b"""<!doctype html><title>form</title>
<form method="post" action="/use">
  <input name="code" value="12 34"><input name="code" value="second">
  <button name="go" value="yes" formaction="/relayed">Use</button>
</form>
<form method="get" action="/search"><button>Search</button></form>
<form method="post" enctype="multipart/form-data" action="/upload"><button>Upload</button></form>
"""


class _Site(BaseHTTPRequestHandler):
    posts: ClassVar[list[tuple[str, bytes, str, str]]] = []  # path, body, cookie, test clinic

    def log_message(self, *_args: object) -> None:
        pass

    def do_GET(self) -> None:
        body = PAGE if self.path == "/" else f"done: {self.headers.get('cookie')}".encode()
        self.send_response(200)
        self.send_header("content-type", "text/html")
        if self.path == "/":
            self.send_header("set-cookie", "sid=abc; Path=/; HttpOnly")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("content-length", 0)))
        self.posts.append((self.path, body, self.headers.get("cookie", ""),
                           self.headers.get("test-clinic", "")))
        self.send_response(302)
        self.send_header("location", "/done")
        self.send_header("set-cookie", "used=1; Path=/")
        self.send_header("set-cookie", "more=2; Path=/")
        self.send_header("content-length", "0")
        self.end_headers()


@pytest.fixture
def site() -> Iterator[str]:
    _Site.posts = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Site)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://localhost:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_a_relayed_form_reaches_the_server_once_and_its_answer_is_the_pages(
        browser: Browser, site: str) -> None:
    clinic = {"test-clinic": "room-7"}
    context = browser.new_context(extra_http_headers=clinic)
    page = context.new_page()
    page.goto(site + "/")
    form = relay.Form.read(page.locator("form").first.locator("button").element_handle(),
                           context, clinic)
    assert form is not None
    assert form.action == site + "/relayed"  # the button's formaction wins, as in a click
    assert form.fields == (("code", "12 34"), ("code", "second"), ("go", "yes"))
    headers = dict(form.headers)
    assert headers["cookie"] == "sid=abc" and headers["test-clinic"] == "room-7"
    assert headers["origin"] == site and headers["referer"] == site + "/"

    [(response, sent, came)] = relay.send([form], timeout=5.0)
    assert response.status_code == 302 and 0 < sent <= came
    assert _Site.posts == [("/relayed", b"code=12+34&code=second&go=yes", "sid=abc", "room-7")]

    handler = relay.answer(page, form, response)
    with page.expect_navigation(url="**/done"):
        page.locator("form").first.locator("button").click()
    page.unroute("**/*", handler)
    assert len(_Site.posts) == 1  # the click was answered from the relay: nothing sent twice
    assert {c["name"] for c in context.cookies()} == {"sid", "used", "more"}  # its Set-Cookie
    assert "used=1" in page.locator("body").inner_text()  # and the page went on from it
    context.close()


@pytest.mark.parametrize("which", [1, 2], ids=["get", "multipart"])
def test_a_form_a_relay_cannot_send_as_the_page_would_is_left_to_the_page(
        browser: Browser, site: str, which: int) -> None:
    context = browser.new_context()
    page = context.new_page()
    page.goto(site + "/")
    button = page.locator("form").nth(which).locator("button").element_handle()
    assert relay.Form.read(button, context, {}) is None
    context.close()
