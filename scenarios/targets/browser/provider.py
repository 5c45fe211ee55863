"""`--target browser+http://HOST:PORT`: the scenarios through the deployment's web pages.

One Chromium for the whole run (Debian's, launched through Playwright, never downloaded); each
scenario gets a BrowserTarget whose sessions are fresh contexts. The HTTP side (an HttpProvider)
brings what a browser cannot: the reference's test support (accounts, clock, reset) or the
config's accounts, and the clock estimate. When the run keeps reports, each scenario leaves its
screenshots, and a failing one its Playwright traces, in the report directory.

Every scenario the pages can express runs here, requirement checks as well as the guide's own
steps: one a browser cannot express (a replayed passkey answer, one session's requests in
parallel, reading what the clinic stores) is unsupported or not applicable, with the reason,
never deferred to a target that is not in the run.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from clinic2fa.scenarios.contract import Provider, Unreachable
from clinic2fa.scenarios.core.model import Needs
from clinic2fa.scenarios.core.policy import Policy
from clinic2fa.scenarios.core.verdicts import Outcome, ScenarioResult
from clinic2fa.scenarios.errors import UsageError
from clinic2fa.scenarios.targets.browser import chromium, locators
from clinic2fa.scenarios.targets.clock import ClockEstimate
from clinic2fa.scenarios.targets.config import TargetConfig
from clinic2fa.scenarios.targets.http import HttpProvider
from clinic2fa.scenarios.targets.http import provider as http_provider

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Playwright

    from clinic2fa.scenarios.targets.browser.target import BrowserTarget

PREFIX = "browser+"
# of the HTTP side's: CLOCK, and PARALLEL where a flood may go there (the forms of many
# browsers sent at once, burst.py); SESSIONS: the browser's cookies; HTTP: its pages' answers;
# PASSWORD_STORE where the profile has a flow that reads a stored password from the pages
FROM_HTTP = frozenset({Needs.CLOCK, Needs.PARALLEL, Needs.SESSIONS, Needs.HTTP})
OFFERED = FROM_HTTP | {Needs.PASSWORD_STORE}
SCREENSHOTS, TRACES = "screenshots", "traces"
SHOTS_NOTE = ("screenshots of a test clinic, one after every action, with the QR code, the "
              "manual-entry secret and backup codes masked")
TRACE_NOTE = ("Playwright traces (failing scenarios only) hold the pages as they were, the test "
              "clinic's secrets and typed passwords included")


class BrowserProvider(Provider):
    """Chromium for the run, the HTTP side for accounts and time, evidence per scenario."""

    kind = "browser+http"

    def __init__(self, http: HttpProvider, config: TargetConfig,
                 browser: Browser | None = None) -> None:
        """`browser`: one already launched (pytest-playwright's, in tests) that stays open."""
        where = f"config file {config.path}" if config.path else "config"
        self.mapping = locators.parse(config.browser, where,
                                      config.path.parent if config.path else None)
        self.http = http
        self.name = PREFIX + http.name
        self.origin = http.origin  # the pages: localhost for a loopback address (WebAuthn)
        self.capabilities: frozenset[Needs] = frozenset()
        self.reference = False
        self.timeout = float(self.mapping.timeout or config.timeout)
        self.browser: Browser | None = browser
        self._own_browser = browser is None
        self.keeps_evidence = False
        self._playwright: Playwright | None = None
        self._report_dir: Path | None = None
        self._parked: list[BrowserTarget] = []

    # -- the run ---------------------------------------------------------------------------------

    def open(self) -> None:
        self.http.open()
        self.reference = self.http.reference
        # The clock from the HTTP side (test support); passkeys from Chromium's own virtual
        # authenticator, whatever endpoints the deployment has (its policy says if it offers any).
        passkeys = {Needs.PASSKEYS} if self.http.config.passkeys is not False else set()
        # SESSIONS: the browser's cookies; HTTP: its pages' answers.
        shown = {Needs.PASSWORD_STORE} if "stored_password" in self.mapping.flows else set()
        self.capabilities = frozenset((self.http.capabilities & FROM_HTTP) | passkeys | shown
                                      | {Needs.SESSIONS, Needs.HTTP})
        if self._own_browser:
            from playwright.sync_api import sync_playwright

            self._playwright = sync_playwright().start()
            self.browser = chromium.launch(self._playwright, self.mapping.executable)
        self._check_sign_in_page()

    def keep_evidence_in(self, directory: Path) -> None:
        """Screenshots and traces go under `directory` (the report directory)."""
        self._report_dir = directory
        self.keeps_evidence = True
        for sub in (SCREENSHOTS, TRACES):
            shutil.rmtree(directory / sub, ignore_errors=True)  # a previous run's, never mixed

    def target(self) -> BrowserTarget:
        from clinic2fa.scenarios.targets.browser.target import BrowserTarget

        self._settle_parked()
        return BrowserTarget(self, self.http.target())

    def release(self, target: Any) -> None:
        """The scenario is over: its accounts go back, its sessions wait for `evidence`."""
        self.http.release(target.http)
        if self.keeps_evidence:
            self._parked.append(target)
        else:
            target.close()

    def evidence(self, target: Any, result: ScenarioResult) -> dict[str, Any]:
        """Screenshots of every action, and the traces of a failing scenario, on disk."""
        if target not in self._parked or self._report_dir is None:
            return {}
        self._parked.remove(target)
        try:
            return self._keep(target, result, self._report_dir)
        finally:
            target.close()  # whatever could not be kept: the sessions end all the same

    def _keep(self, target: BrowserTarget, result: ScenarioResult,
              directory: Path) -> dict[str, Any]:
        failed = result.outcome in (Outcome.FAIL, Outcome.ERROR, Outcome.WAIVED_FAIL)
        name = _file_name(result.scenario.id)
        traces = []
        for number, session in enumerate(list(target.sessions.values()), 1):
            path = None  # named by number: a session string is scrubbed from reports
            if failed and session.traced:
                path = directory / TRACES / f"{name}-session{number}.zip"
                path.parent.mkdir(parents=True, exist_ok=True)
                traces.append({"session": f"session {number}",
                               "file": path.relative_to(directory).as_posix()})
            session.close(path)
        target.sessions.clear()
        shots = []
        folder = directory / SCREENSHOTS / name
        for number, shot in enumerate(target.shots, 1):
            path = folder / f"{number:03d}-{shot.action}.jpg"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(shot.jpeg)
            shots.append({"action": shot.action, "note": shot.note,
                          "file": path.relative_to(directory).as_posix()})
        target.shots.clear()
        return {"screenshots": shots, "traces": traces} if shots or traces else {}

    def close(self) -> None:
        try:
            self._settle_parked()
            if self._own_browser and self.browser is not None:
                self.browser.close()
            if self._playwright is not None:
                self._playwright.stop()
        finally:
            if self._own_browser:
                self.browser = None
            self._playwright = None
            self.http.close()

    def clock(self) -> ClockEstimate | None:
        return self.http.clock()

    def secrets(self) -> set[str]:
        return self.http.secrets()

    def policy(self) -> Policy:
        return self.http.policy()

    def reset_hook(self) -> Callable[[], None] | None:
        return self.http.reset_hook()

    @property
    def max_wait(self) -> float:  # type: ignore[override]
        return self.http.max_wait

    def details(self) -> dict[str, Any]:
        """What the report says about the browser: the mapping's changes, evidence kept."""
        return {**self.mapping.describe(),
                "screenshots": SHOTS_NOTE if self.keeps_evidence else None,
                "traces": TRACE_NOTE if self.keeps_evidence else None}

    # -- helpers ---------------------------------------------------------------------------------

    def _settle_parked(self) -> None:
        while self._parked:
            self._parked.pop().close()

    def _check_sign_in_page(self) -> None:
        """The sign-in page answers and shows the form the mapping looks for."""
        from playwright.sync_api import Error as PlaywrightError

        assert self.browser is not None
        context = self.browser.new_context()
        context.set_default_timeout(self.timeout * 1000)
        url = self.origin + self.mapping.pages["sign_in"]
        try:
            page = context.new_page()
            try:
                page.goto(url)
            except PlaywrightError as exc:
                raise Unreachable(f"target {self.name} unreachable: "
                                  f"{str(exc).splitlines()[0]}") from None
            try:
                self.mapping.locate(page, "sign_in_email").wait_for()
            except PlaywrightError:
                raise UsageError(f"{url} shows no sign-in form with the locator sign_in_email: "
                                 "is it the clinic's sign-in page? (a mapping file can say "
                                 "where it is: [browser.pages] sign_in)") from None
        finally:
            context.close()


def _file_name(scenario_id: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in scenario_id)


def provider(target: str, config: TargetConfig | None) -> BrowserProvider:
    """The `browser+http` and `browser+https` schemes: browser+http://HOST:PORT."""
    chromium.require_playwright()
    inner = target[len(PREFIX):] if target.lower().startswith(PREFIX) else target
    if urlsplit(inner).scheme.lower() not in ("http", "https"):
        raise UsageError(f"bad target {target!r}: expected browser+http://HOST:PORT")
    config = config or TargetConfig()
    return BrowserProvider(http_provider(inner, config, contract=False), config)
