"""A deployment that ends the setup on a refused code (Flask-Security-Too does): the scenarios
set up again, and still catch a deployment that accepts the codes the rule refuses."""

from __future__ import annotations

from pathlib import Path

import pytest
from runner_support import memory_of, run_here

from clinic2fa.scenarios import catalogue
from clinic2fa.scenarios.selfcheck.defects.values import TotpSha256
from clinic2fa.simulator import totp
from clinic2fa.simulator.clinic import BackupCodes, Clinic
from clinic2fa.simulator.errors import ErrorCode, TwoFactorError

CATALOGUE = catalogue.load()
OTHER_PARAMETERS = "TOTP-STEP-OTHER-PARAMETERS-REFUSED"


class DropsSetup(Clinic):
    """The reference, but a refused code at confirmation ends the setup (FST's tf-setup): the
    next code meets no setup in progress until the user sets up again."""

    def confirm_authenticator(self, token: str, code: str) -> BackupCodes:
        try:
            return super().confirm_authenticator(token, code)
        except TwoFactorError as refusal:
            if refusal.code is ErrorCode.CODE_REJECTED:
                self._users[self._sessions[token].email].pending_secret = None
            raise


class DropsSetupSha256(DropsSetup, TotpSha256):
    """Ends the setup on a refused code, and takes HMAC-SHA-256 codes (breaks TOTP-STEP)."""


class DropsSetupMinuteCodes(DropsSetup):
    """Ends the setup on a refused code, and takes a code of a 60-second step too (breaks
    TOTP-STEP): the scenario tries that one last, on a setup started again."""

    def confirm_authenticator(self, token: str, code: str) -> BackupCodes:
        user = self._users[self._sessions[token].email]
        minute = totp.TotpParams(self.params.algorithm, self.params.digits, 60)
        if user.pending_secret and code == totp.code_at_step(
                user.pending_secret, totp.step_of(self.clock.now(), minute), minute):
            code = totp.code_at_step(user.pending_secret,
                                     totp.step_of(self.clock.now(), self.params), self.params)
        return super().confirm_authenticator(token, code)


def outcome(tmp_path: Path, clinic: type[Clinic], scenario_id: str) -> tuple[str, str]:
    report = run_here(tmp_path, {scenario_id: CATALOGUE[scenario_id]},
                      provider=memory_of(clinic)).report()
    (scen,) = report["scenarios"]
    return scen["outcome"], scen["message"]


def test_a_dropped_setup_is_set_up_again_not_read_as_the_codes_answer(tmp_path: Path) -> None:
    found, message = outcome(tmp_path, DropsSetup, OTHER_PARAMETERS)
    assert (found, message) == ("pass", "")
    trace = run_here(tmp_path / "again", {OTHER_PARAMETERS: CATALOGUE[OTHER_PARAMETERS]},
                     provider=memory_of(DropsSetup)).report()["scenarios"][0]["trace"]
    notes = [e["text"] for e in trace if "ended this setup" in e["text"]]
    assert len(notes) == 2  # after the SHA-256 code and after the 8-digit one


def test_the_reference_keeps_its_setup_and_passes(tmp_path: Path) -> None:
    assert outcome(tmp_path, Clinic, OTHER_PARAMETERS) == ("pass", "")


def test_a_deployment_that_drops_the_setup_and_takes_sha256_codes_fails(tmp_path: Path) -> None:
    found, message = outcome(tmp_path, DropsSetupSha256, OTHER_PARAMETERS)
    assert found == "fail"
    assert "HMAC-SHA-256" in message and "accepted" in message


def test_a_code_accepted_on_the_setup_started_again_fails(tmp_path: Path) -> None:
    found, message = outcome(tmp_path, DropsSetupMinuteCodes, OTHER_PARAMETERS)
    assert found == "fail"
    assert "a 60-second step" in message and "accepted" in message


class DropsSetupWideAtConfirmation(DropsSetup):
    """Ends the setup on a refused code, and at confirmation takes a code two steps old (breaks
    TOTP-WINDOW): the scenario sends that one second, on a setup started again."""

    def confirm_authenticator(self, token: str, code: str) -> BackupCodes:
        user = self._users[self._sessions[token].email]
        now = totp.step_of(self.clock.now(), self.params)
        if user.pending_secret and code == totp.code_at_step(user.pending_secret, now - 2,
                                                             self.params):
            code = totp.code_at_step(user.pending_secret, now, self.params)
        return super().confirm_authenticator(token, code)


@pytest.mark.parametrize(("clinic", "found"), [(Clinic, "pass"), (DropsSetup, "pass"),
                                                (DropsSetupWideAtConfirmation, "fail")])
def test_the_window_s_confirmation_codes_go_to_a_live_setup(tmp_path: Path, clinic: type[Clinic],
                                                             found: str) -> None:
    outcome_, message = outcome(tmp_path, clinic, "TOTP-WINDOW-TWO-STEPS-OUT")
    assert outcome_ == found, message
    if found == "fail":
        assert "-2 steps away at confirmation" in message and "accepted" in message
