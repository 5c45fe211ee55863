"""SETUP-FRESH-SECRET across two browsers of the same user: after a setup started in the second,
the first browser's screen, still open, must not confirm with its own (earlier) secret's code.
A deployment that keeps earlier pending secrets (per browser, as allauth's session, or in a
signed form token, as Flask-Security-Too) fails, in memory and in the browser."""

from __future__ import annotations

import pytest
from browser_support import provider, reference, run
from playwright.sync_api import Browser

from clinic2fa.scenarios import catalogue
from clinic2fa.scenarios.core.context import Context, NonConformance
from clinic2fa.scenarios.core.trace import Trace
from clinic2fa.scenarios.selfcheck import defects
from clinic2fa.scenarios.targets.memory import MEMORY_HASH, MemoryTarget
from clinic2fa.simulator.clock import FakeClock
from clinic2fa.simulator.policy import Policy

SCENARIO = "SETUP-FRESH-SECRET-OLD-CODE-REFUSED"
DEFECT = "old-pending-secret-accepted"
SAID = "after a new setup in another browser"


def _run_memory(defect: str | None) -> None:
    clock = FakeClock()
    on = MemoryTarget(defects.build(defect, clock=clock, policy=Policy(hash_cost=MEMORY_HASH))
                      if defect else None, clock)
    ctx = Context(on, Trace(), frozenset(on.capabilities))
    try:
        catalogue.load()[SCENARIO].run(ctx)
    finally:
        ctx.run_cleanups()


def test_in_memory() -> None:
    _run_memory(None)
    with pytest.raises(NonConformance, match=SAID):
        _run_memory(DEFECT)


@pytest.mark.parametrize("defect", [None, DEFECT], ids=["reference", DEFECT])
def test_in_the_browser(browser: Browser, defect: str | None) -> None:
    with reference(defect=defect) as url:
        made = provider(url, browser)
        try:
            result = run(made, SCENARIO)[SCENARIO]
        finally:
            made.close()
    if defect is None:
        assert (result.outcome.value, result.message) == ("pass", "")
    else:
        assert result.outcome.value == "fail" and SAID in result.message, result.message
