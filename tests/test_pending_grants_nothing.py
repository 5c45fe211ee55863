"""SIGNIN-PENDING-GRANTS-NOTHING: what a half-finished sign-in must not get is the action's
effect. Any refusal counts (Flask-Security-Too answers Disable with "not enrolled"), and a
refusal with the effect done fails, as an action let through does."""

from __future__ import annotations

from pathlib import Path

import pytest
from runner_support import memory_of, run_here

from clinic2fa.scenarios import catalogue
from clinic2fa.scenarios.selfcheck import defects
from clinic2fa.simulator.clinic import Clinic, Stage
from clinic2fa.simulator.errors import ErrorCode, TwoFactorError

CATALOGUE = catalogue.load()
SCENARIO = "SIGNIN-PENDING-GRANTS-NOTHING"


class _Pending(Clinic):
    def _pending_user(self, token: str) -> object | None:
        session = self._sessions.get(token)
        if session is None or session.stage is not Stage.SECOND_STEP:
            return None
        return self._users[session.email]


class RefusesAsNotEnrolled(_Pending):
    """A pending session sees no 2FA to disable: refused, for another reason (FST)."""

    def disable_2fa(self, token: str, password: str) -> None:
        if self._pending_user(token) is not None:
            raise TwoFactorError(ErrorCode.NOT_ENROLLED, "Authenticator not registered.")
        super().disable_2fa(token, password)


class DisablesThenRefuses(_Pending):
    """Breaks the rule behind a refusal: 2FA goes off, then the answer says "second step"."""

    def disable_2fa(self, token: str, password: str) -> None:
        user = self._pending_user(token)
        if user is not None:
            self._strip_factors(user)  # type: ignore[arg-type]
            raise TwoFactorError(ErrorCode.SECOND_STEP_REQUIRED, "Enter the code first.")
        super().disable_2fa(token, password)


class RegeneratesThenRefuses(_Pending):
    """Breaks the rule behind a refusal: new backup codes replace the old, then a refusal."""

    def regenerate_backup_codes(self, token: str, password: str) -> list[str]:
        user = self._pending_user(token)
        if user is not None:
            self._new_backup_codes(user, self._fresh_backup_codes())  # type: ignore[arg-type]
            raise TwoFactorError(ErrorCode.SECOND_STEP_REQUIRED, "Enter the code first.")
        return super().regenerate_backup_codes(token, password)


def outcome(tmp_path: Path, clinic: type[Clinic]) -> tuple[str, str]:
    report = run_here(tmp_path, {SCENARIO: CATALOGUE[SCENARIO]},
                      provider=memory_of(clinic)).report()
    (scen,) = report["scenarios"]
    return scen["outcome"], scen["message"]


@pytest.mark.parametrize("clinic", [Clinic, RefusesAsNotEnrolled])
def test_a_refusal_of_any_kind_with_nothing_changed_passes(tmp_path: Path,
                                                           clinic: type[Clinic]) -> None:
    assert outcome(tmp_path, clinic) == ("pass", "")


@pytest.mark.parametrize(("clinic", "said"), [
    (defects.CATALOGUE["pending-grants-access"].build, "should be refused, but it was accepted"),
    (defects.CATALOGUE["pending-adds-passkey"].build, "Set up passkey before the second step"),
    (DisablesThenRefuses, "account changed through a half-finished sign-in"),
    (RegeneratesThenRefuses, "backup code issued before the half-finished sign-in"),
])
def test_an_action_let_through_or_done_behind_a_refusal_fails(tmp_path: Path, clinic: type[Clinic],
                                                              said: str) -> None:
    found, message = outcome(tmp_path, clinic)
    assert found == "fail" and said in message, message
