"""PASSKEY-CHALLENGE-FRESH passes only once an answer over an earlier challenge is refused: a
deployment that keeps earlier challenges alive fails it, and a browser, which answers only the
open prompt, leaves it unsupported (PASSKEY-CHALLENGE then is not verified, not conforms)."""

from __future__ import annotations

from typing import Any

import pytest
from browser_support import outcome
from memory_support import memory, run_body
from playwright.sync_api import Browser
from webauthn.helpers.structs import ClientDataType, CollectedClientData

from clinic2fa.scenarios.core.context import NonConformance
from clinic2fa.simulator.clinic import Clinic
from clinic2fa.simulator.passkeys import Ceremony, Passkeys

SCENARIO = "PASSKEY-CHALLENGE-FRESH"


class EarlierChallengesLive(Passkeys):
    """A fresh challenge each time, but every earlier one is still taken (a signed state token
    that is checked only for its age, as Flask-Security-Too keeps it)."""

    def _new_challenge(self, key: str, ceremony: Ceremony) -> bytes:
        challenge = super()._new_challenge(key, ceremony)
        self.__dict__.setdefault("issued", set()).add(challenge)
        return challenge

    def _check_client(self, client: CollectedClientData, kind: ClientDataType,
                      expected: bytes) -> None:
        if client.challenge in self.__dict__.get("issued", set()):
            expected = client.challenge
        super()._check_client(client, kind, expected)


def _clinic(**made: Any) -> Clinic:
    clinic = Clinic(**made)
    clinic._passkeys.__class__ = EarlierChallengesLive
    return clinic


def test_in_memory_an_earlier_challenge_still_taken_fails() -> None:
    run_body(SCENARIO, memory())
    with pytest.raises(NonConformance, match="an answer over an earlier challenge"):
        run_body(SCENARIO, memory(clinic=_clinic))


def test_in_the_browser_freshness_alone_is_not_a_pass(browser: Browser) -> None:
    result = outcome(browser, SCENARIO)
    assert result.outcome.value == "unsupported", result.message
    assert "replay_challenge" in result.message
