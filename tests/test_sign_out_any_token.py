"""SIGN-OUT-ANY-TOKEN: signing out a signed-out session, or with an unknown token, is no error."""

from __future__ import annotations

import time

import pytest

from clinic2fa.scenarios import catalogue
from clinic2fa.scenarios.core.verdicts import Outcome
from clinic2fa.scenarios.running.execute import run_scenario
from clinic2fa.scenarios.targets.http import HttpProvider
from clinic2fa.scenarios.targets.memory import MemoryProvider, MemoryTarget
from clinic2fa.simulator.clinic import Clinic
from clinic2fa.simulator.clock import FakeClock
from clinic2fa.simulator.errors import ErrorCode, TwoFactorError
from clinic2fa.simulator.policy import FAST_HASH, Policy
from clinic2fa.simulator.web.app import create_app
from clinic2fa.simulator.web.server import running

SCENARIO = catalogue.load()["SIGN-OUT-ANY-TOKEN"]


class RefusesUnknownTokens(Clinic):
    """Signing out a token it does not know is refused (401 not_signed_in over HTTP)."""

    def sign_out(self, token: str) -> None:
        if token not in self._sessions:
            raise TwoFactorError(ErrorCode.NOT_SIGNED_IN, "Sign in first.")
        super().sign_out(token)


def _clinic(kind: type[Clinic]) -> tuple[Clinic, FakeClock]:
    clock = FakeClock(time.time())
    return kind(clock=clock, policy=Policy(hash_cost=FAST_HASH)), clock


@pytest.mark.parametrize(("kind", "expected"), [(Clinic, Outcome.PASS),
                                                (RefusesUnknownTokens, Outcome.FAIL)])
def test_in_memory(kind: type[Clinic], expected: Outcome) -> None:
    result = run_scenario(SCENARIO, MemoryProvider(make=lambda: MemoryTarget(*_clinic(kind))))
    assert result.outcome is expected, result.message
    if expected is Outcome.FAIL:
        assert "signing out with the signed-out session should be accepted" in result.message


@pytest.mark.parametrize(("kind", "expected"), [(Clinic, Outcome.PASS),
                                                (RefusesUnknownTokens, Outcome.FAIL)])
def test_over_http_the_answers_are_the_contract_s_204(kind: type[Clinic],
                                                       expected: Outcome) -> None:
    with running(create_app(_clinic(kind)[0], test_support=True)) as url:
        provider = HttpProvider(url, None)
        provider.open()
        try:
            result = run_scenario(SCENARIO, provider)
        finally:
            provider.close()
    assert result.outcome is expected, result.message
    if expected is Outcome.FAIL:
        assert "got 401, not the contract's 204" in result.message
