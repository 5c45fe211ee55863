"""The reference served in-process for the browser target's tests, and providers on it.

The server listens on http://localhost:PORT (WebAuthn refuses 127.0.0.1), on a FakeClock started
at the real time and a cheap hash; the browser is pytest-playwright's (one per test session:
a second Playwright in the same thread is refused), launched with conftest.py's flags.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from playwright.sync_api import Browser
from starlette.types import ASGIApp

from clinic2fa.scenarios import catalogue as catalogue_mod
from clinic2fa.scenarios.core.model import Scenario
from clinic2fa.scenarios.core.verdicts import ScenarioResult
from clinic2fa.scenarios.running.execute import run_scenario
from clinic2fa.scenarios.selfcheck import defects
from clinic2fa.scenarios.targets.browser.provider import BrowserProvider
from clinic2fa.scenarios.targets.config import TargetConfig
from clinic2fa.scenarios.targets.http import provider as http_provider
from clinic2fa.simulator.clinic import Clinic
from clinic2fa.simulator.clock import FakeClock
from clinic2fa.simulator.policy import FAST_HASH, HashCost, Policy
from clinic2fa.simulator.web.app import create_app
from clinic2fa.simulator.web.server import listen, public_origin, running

CATALOGUE: dict[str, Scenario] = catalogue_mod.load()


@contextmanager
def reference(defect: str | None = None,
              wrap: Callable[[ASGIApp], ASGIApp] | None = None,
              hash_cost: HashCost = FAST_HASH,
              clinic: Callable[..., Clinic] = Clinic) -> Iterator[str]:
    """`clinic2fa serve --fake-clock [--defect NAME]` in a thread; its URL. A timing check
    needs a `hash_cost` whose work a page load does not drown (FAST_HASH's is microseconds);
    `clinic`: a test's own Clinic (a subclass, or other policy), for a fault no seeded defect
    has."""
    sock = listen("localhost")
    origin, rp_id = public_origin("localhost", sock.getsockname()[1])
    clock = FakeClock(time.time())

    def fresh(clock: FakeClock = clock) -> Clinic:
        made: dict[str, Any] = {"clock": clock, "policy": Policy(hash_cost=hash_cost),
                                "rp_id": rp_id, "origin": origin}
        return defects.build(defect, **made) if defect else clinic(**made)

    app = create_app(fresh(), test_support=True, fresh_clinic=fresh)
    with running(wrap(app) if wrap else app, sock=sock) as url:
        yield url


def provider(url: str, browser: Browser, table: dict[str, Any] | None = None,
             report_dir: Path | None = None, *, opened: bool = True) -> BrowserProvider:
    """A browser+http provider on `url` with pytest-playwright's browser."""
    config = TargetConfig(browser=dict(table or {}))
    made = BrowserProvider(http_provider(url, config), config, browser=browser)
    if report_dir is not None:
        made.keep_evidence_in(report_dir)
    if opened:
        made.open()
    return made


def run(made: BrowserProvider, *ids: str) -> dict[str, ScenarioResult]:
    """Run catalogue scenarios on the provider, in order; their results by ID."""
    return {sid: run_scenario(CATALOGUE[sid], made) for sid in ids}


def outcome(browser: Browser, scenario_id: str, table: dict[str, Any] | None = None,
            **served: Any) -> ScenarioResult:
    """One scenario's result in the browser on a reference served for it alone (`served`:
    `reference`'s arguments, a defect, a wrapped app, a test's own Clinic, a hash cost)."""
    with reference(**served) as url:
        made = provider(url, browser, table)
        try:
            return run(made, scenario_id)[scenario_id]
        finally:
            made.close()
