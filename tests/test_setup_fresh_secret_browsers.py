"""SETUP-FRESH-SECRET across two browsers of the same user: after a setup started in the second,
the first browser's screen, still open, must not confirm with its own (earlier) secret's code.
A deployment that keeps earlier pending secrets (per browser, as allauth's session, or in a
signed form token, as Flask-Security-Too) fails, in memory and in the browser."""

from __future__ import annotations

import pytest
from browser_support import outcome
from memory_support import memory, run_body
from playwright.sync_api import Browser

from clinic2fa.scenarios.core.context import NonConformance

SCENARIO = "SETUP-FRESH-SECRET-OLD-CODE-REFUSED"
DEFECT = "old-pending-secret-accepted"
SAID = "after a new setup in another browser"


def test_in_memory() -> None:
    run_body(SCENARIO, memory())
    with pytest.raises(NonConformance, match=SAID):
        run_body(SCENARIO, memory(DEFECT))


@pytest.mark.parametrize("defect", [None, DEFECT], ids=["reference", DEFECT])
def test_in_the_browser(browser: Browser, defect: str | None) -> None:
    result = outcome(browser, SCENARIO, defect=defect)
    if defect is None:
        assert (result.outcome.value, result.message) == ("pass", "")
    else:
        assert result.outcome.value == "fail" and SAID in result.message, result.message
