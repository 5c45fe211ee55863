"""SESSION-NEW-TOKEN is strict: a pending token still alive after the second step fails it.

A deployment that issues a new token but lets the pending one live on (Flask's signed cookie
session does) fails, in memory and in the browser; so does one that keeps the token itself
(the session-kept defect); the reference passes both ways.
"""

from __future__ import annotations

from dataclasses import replace

import pytest
from browser_support import provider, reference, run
from playwright.sync_api import Browser

from clinic2fa.scenarios import catalogue
from clinic2fa.scenarios.core.context import Context, NonConformance
from clinic2fa.scenarios.core.trace import Trace
from clinic2fa.scenarios.selfcheck import defects
from clinic2fa.scenarios.targets.memory import MEMORY_HASH, MemoryTarget
from clinic2fa.simulator.clinic import Clinic, Session, Stage
from clinic2fa.simulator.clock import FakeClock
from clinic2fa.simulator.policy import Policy

CATALOGUE = catalogue.load()
SCENARIO = "SESSION-NEW-TOKEN-SECOND-STEP"


class PendingLivesOn(Clinic):
    """A new token at the second step, and the pending one left alive as it was (pending)."""

    def _renew(self, session: Session) -> Session:
        renewed = super()._renew(session)
        self._sessions[session.token] = replace(session, stage=Stage.SECOND_STEP)
        return renewed


def _memory(clinic: type[Clinic] | None = None, defect: str | None = None) -> MemoryTarget:
    clock = FakeClock()
    made = {"clock": clock, "policy": Policy(hash_cost=MEMORY_HASH)}
    if defect:
        return MemoryTarget(defects.build(defect, **made), clock)
    return MemoryTarget(clinic(**made) if clinic else None, clock)


def _run_memory(on: MemoryTarget) -> Trace:
    trace = Trace()
    ctx = Context(on, trace, frozenset(on.capabilities))
    try:
        CATALOGUE[SCENARIO].run(ctx)
    finally:
        ctx.run_cleanups()
    return trace


def test_in_memory_the_reference_passes_and_a_live_pending_token_fails() -> None:
    _run_memory(_memory())
    with pytest.raises(NonConformance, match="from before the second step"):
        _run_memory(_memory(PendingLivesOn))
    with pytest.raises(NonConformance, match="same session token"):
        _run_memory(_memory(defect="session-kept"))


@pytest.mark.parametrize(("clinic", "defect", "said"), [
    (Clinic, None, None),
    (PendingLivesOn, None, "from before the second step"),
    (Clinic, "session-kept", "same session token"),
], ids=["reference", "pending-lives-on", "session-kept"])
def test_in_the_browser_the_old_cookie_must_be_dead(browser: Browser, clinic: type[Clinic],
                                                    defect: str | None, said: str | None) -> None:
    with reference(defect=defect, clinic=clinic) as url:
        made = provider(url, browser)
        try:
            result = run(made, SCENARIO)[SCENARIO]
        finally:
            made.close()
    if said is None:
        assert (result.outcome.value, result.message) == ("pass", "")
    else:
        assert result.outcome.value == "fail" and said in result.message
