"""RATE-LIMIT-CAP asks for the server's clock only when it needs it: a deployment that takes
more than 100 wrong codes in a row unthrottled, then the right one at once, fails on a target
without a clock; one that locks out is not applicable there (its lock-out must be waited out)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from browser_support import provider, reference, run
from playwright.sync_api import Browser

from clinic2fa.scenarios.core.model import Needs
from clinic2fa.simulator.clinic import Clinic

SCENARIO = "RATE-LIMIT-CAP-SECOND-STEP"


def _unthrottled(**made: Any) -> Clinic:
    """Neither lock-out nor cap: every wrong code is only wrong (as on Flask-Security-Too)."""
    return Clinic(**{**made, "policy": replace(made["policy"], max_failures=10**9,
                                               max_consecutive_failures=10**9)})


@pytest.mark.parametrize(("clinic", "outcome", "said"), [
    (Clinic, "not_applicable", "after a lock-out, counting on needs 901 s to pass"),
    (_unthrottled, "fail", "the right code at once after 100 wrong ones in a row"),
], ids=["reference", "unthrottled"])
def test_without_the_clock(browser: Browser, clinic: Any, outcome: str, said: str) -> None:
    with reference(clinic=clinic) as url:
        made = provider(url, browser)
        made.capabilities = made.capabilities - {Needs.CLOCK}  # a deployment's own clock
        try:
            result = run(made, SCENARIO)[SCENARIO]
        finally:
            made.close()
    assert result.outcome.value == outcome and said in result.message, result.message
