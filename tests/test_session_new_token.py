"""SESSION-NEW-TOKEN is strict: a pending token still alive after the second step fails it.

A deployment that issues a new token but lets the pending one live on (Flask's signed cookie
session does) fails, in memory and in the browser; so does one that keeps the token itself
(the session-kept defect); the reference passes both ways.
"""

from __future__ import annotations

from dataclasses import replace

import pytest
from browser_support import outcome
from memory_support import memory, run_body
from playwright.sync_api import Browser

from clinic2fa.scenarios.core.context import NonConformance
from clinic2fa.simulator.clinic import Clinic, Session, Stage

SCENARIO = "SESSION-NEW-TOKEN-SECOND-STEP"


class PendingLivesOn(Clinic):
    """A new token at the second step, and the pending one left alive as it was (pending)."""

    def _renew(self, session: Session) -> Session:
        renewed = super()._renew(session)
        self._sessions[session.token] = replace(session, stage=Stage.SECOND_STEP)
        return renewed


def test_in_memory_the_reference_passes_and_a_live_pending_token_fails() -> None:
    run_body(SCENARIO, memory())
    with pytest.raises(NonConformance, match="from before the second step"):
        run_body(SCENARIO, memory(clinic=PendingLivesOn))
    with pytest.raises(NonConformance, match="same session token"):
        run_body(SCENARIO, memory("session-kept"))


@pytest.mark.parametrize(("clinic", "defect", "said"), [
    (Clinic, None, None),
    (PendingLivesOn, None, "from before the second step"),
    (Clinic, "session-kept", "same session token"),
], ids=["reference", "pending-lives-on", "session-kept"])
def test_in_the_browser_the_old_cookie_must_be_dead(browser: Browser, clinic: type[Clinic],
                                                    defect: str | None, said: str | None) -> None:
    result = outcome(browser, SCENARIO, defect=defect, clinic=clinic)
    if said is None:
        assert (result.outcome.value, result.message) == ("pass", "")
    else:
        assert result.outcome.value == "fail" and said in result.message
