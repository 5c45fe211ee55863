"""A deployment's declared policy: read from its config, checked against the spec's bounds, and
the catalogue following it (a deployment behaving as declared passes, one that does not fails)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from runner_support import run_here

from clinic2fa.scenarios import catalogue
from clinic2fa.scenarios.core.policy import REFERENCE, Policy
from clinic2fa.scenarios.errors import UsageError
from clinic2fa.scenarios.targets import config as config_mod
from clinic2fa.scenarios.targets.memory import MemoryProvider, MemoryTarget
from clinic2fa.simulator.clinic import Clinic, StaffEntry, Stage
from clinic2fa.simulator.clock import FakeClock
from clinic2fa.simulator.errors import ErrorCode, TwoFactorError
from clinic2fa.simulator.policy import FAST_HASH
from clinic2fa.simulator.policy import Policy as ClinicPolicy
from clinic2fa.simulator.users import User

CATALOGUE = catalogue.load()


def parse(text: str) -> Policy:
    import tomllib

    return config_mod.parse(tomllib.loads(text)).policy


# -- the [policy] table -------------------------------------------------------------------------


def test_the_policy_table_is_read_with_what_it_declares() -> None:
    policy = parse('[policy]\nissuer = "Clinic Site"\nwindow = 0\nbackup_codes = 12\n'
                   'backup_codes_issued = "on_request"\nreasons = ["wrong_code"]\n'
                   'features = ["passkeys"]\n[policy.rate_limit]\nmodel = "backoff"\n'
                   'backoff_seconds = 2\n')
    assert (policy.issuer, policy.window, policy.backup_codes) == ("Clinic Site", 0, 12)
    assert policy.rate_limit.model == "backoff" and policy.rate_limit.delay_after(3) == 8
    assert policy.tells("wrong_code") and not policy.tells("already_used")
    assert policy.offers("passkeys") and not policy.offers("enforcement")
    assert policy.declared == {"issuer", "window", "backup_codes", "backup_codes_issued",
                               "reasons", "features", "rate_limit.model",
                               "rate_limit.backoff_seconds"}
    assert policy.rate_limit.max_failures == REFERENCE.rate_limit.max_failures  # not declared
    assert parse("") == REFERENCE


@pytest.mark.parametrize(("table", "complaint"), [
    ("[policy]\ncolour = 1", "[policy]: unknown key 'colour'"),
    ("[policy]\nwindow = 1.5", "[policy] window: must be a whole number"),
    ("[policy]\nwindow = true", "[policy] window: must be a whole number"),
    ("[policy]\nissuer = ''", "[policy] issuer: the issuer must be a name"),
    ("[policy]\nreasons = ['why_not']", "[policy] reasons: must be a list of wrong_code"),
    ("[policy]\nfeatures = 'enforcement'", "[policy] features: must be a list of"),
    ("[policy]\nbackup_codes_issued = 'later'", "must be one of at_enrolment, on_request"),
    ("[policy]\npasskey_first = 'no'", "[policy] passkey_first: must be one of offered, not_"),
    ("[policy.rate_limit]\nmodel = 'lockot'", "[policy] rate_limit.model: must be one of"),
    ("[policy.rate_limit]\nbackoff_factor = 0.5", "rate_limit.backoff_factor: must be a number"),
    ("[policy.rate_limit]\nspeed = 1", "[policy.rate_limit]: unknown key 'speed'"),
    ("[target]\nmax_wait = 0", "[target] max_wait must be a positive number"),
])
def test_each_mistake_is_one_line_naming_its_key(table: str, complaint: str) -> None:
    with pytest.raises(UsageError) as error:
        parse(table)
    assert complaint in str(error.value) and "\n" not in str(error.value)


# -- bounds ---------------------------------------------------------------------------------------


class Declared(MemoryProvider):
    """The reference clinic (with its own policy changed), and a declared policy."""

    def __init__(self, declared: Policy, clinic: type[Clinic] = Clinic, **clinic_policy: Any
                 ) -> None:
        def make() -> MemoryTarget:
            clock = FakeClock()
            made = clinic(clock=clock, policy=ClinicPolicy(hash_cost=FAST_HASH, **clinic_policy))
            return MemoryTarget(made, clock)

        super().__init__("memory+declared", make)
        self._declared = declared

    def policy(self) -> Policy:
        return self._declared


def run(tmp_path: Path, declared: Policy, *select: str, **clinic: Any) -> dict[str, Any]:
    scenarios = {k: v for k, v in CATALOGUE.items()
                 if not select or any(v.id == s or s in v.verifies for s in select)}
    return run_here(tmp_path, scenarios, provider=Declared(declared, **clinic)).report()


def outcomes(report: dict[str, Any]) -> dict[str, tuple[str, str]]:
    return {s["id"]: (s["outcome"], s["message"]) for s in report["scenarios"]}


def test_a_choice_outside_the_bounds_fails_its_requirement_in_its_own_words(
        tmp_path: Path) -> None:
    declared = REFERENCE.with_changes(window=4, declared=frozenset({"window"}))
    report = run(tmp_path, declared, "TOTP-WINDOW-DECLARED", "KEY-URI-DECLARED", window=4)
    found = outcomes(report)
    assert found["TOTP-WINDOW-DECLARED"][0] == "fail"
    assert found["TOTP-WINDOW-DECLARED"][1].startswith(
        "the declared window = 4 is outside the spec's bounds (0..1): RFC 6238 s5.2")
    assert found["KEY-URI-DECLARED"][0] == "pass"
    window = next(r for r in report["requirements"] if r["id"] == "TOTP-WINDOW")
    assert (window["verdict"], window["verdict_kind"]) == ("does_not_conform", "fail")
    assert {"key": "window", "value": 4, "declared": True} in window["policy"]


def test_no_rate_limit_is_outside_the_bounds_and_seen_so(tmp_path: Path) -> None:
    declared = REFERENCE.with_changes(**{"rate_limit.model": "none"})
    found = outcomes(run(tmp_path, declared, "TOTP-RATE-LIMIT", max_failures=10**9,
                         max_consecutive_failures=10**9))  # nothing ever stops a guess
    assert found["TOTP-RATE-LIMIT-DECLARED"][0] == "fail"
    assert "rate_limit.model = 'none' is outside" in found["TOTP-RATE-LIMIT-DECLARED"][1]
    assert found["TOTP-RATE-LIMIT-FIVE-WRONG"][0] == "fail"  # 100 wrong codes, then let in
    assert "after 100 wrong ones" in found["TOTP-RATE-LIMIT-FIVE-WRONG"][1]
    assert found["TOTP-RATE-LIMIT-PER-USER"][0] == "not_applicable"


# -- behaviour as declared ------------------------------------------------------------------------

CHOICES = [  # (declared, the clinic's own policy): a deployment other than the reference
    ({"window": 0}, {"window": 0}),
    ({"issuer": "Other Practice"}, {"issuer": "Other Practice"}),
    ({"backup_codes": 8}, {"backup_code_count": 8}),
    ({"rate_limit.max_failures": 3, "rate_limit.lockout_seconds": 60},
     {"max_failures": 3, "lockout_seconds": 60}),
]


@pytest.mark.parametrize(("declared", "clinic"), CHOICES, ids=lambda c: ",".join(c))
def test_a_deployment_that_behaves_as_declared_conforms(tmp_path: Path, declared: dict[str, Any],
                                                        clinic: dict[str, Any]) -> None:
    policy = REFERENCE.with_changes(**declared, declared=frozenset(declared))
    report = run(tmp_path, policy, **clinic)
    assert report["exit_code"] == 0, [s["id"] for s in report["scenarios"]
                                      if s["outcome"] not in ("pass", "not_applicable")]


@pytest.mark.parametrize(("declared", "clinic"), CHOICES, ids=lambda c: ",".join(c))
def test_a_deployment_that_does_not_behave_as_declared_fails(
        tmp_path: Path, declared: dict[str, Any], clinic: dict[str, Any]) -> None:
    """The same clinics, with the reference's choices declared instead of their own."""
    report = run(tmp_path, REFERENCE, **clinic)
    assert report["exit_code"] == 1
    assert any(s["outcome"] == "fail" for s in report["scenarios"])


class BackingOff(Clinic):
    """Throttles with a growing back-off: 1 s after the first wrong code, doubling."""

    def _count_failure(self, user: User, refusal: TwoFactorError) -> None:
        user.failures += 1
        user.locked_until = self.clock.now() + 2.0 ** (user.failures - 1)


BACKOFF = REFERENCE.with_changes(**{"rate_limit.model": "backoff", "rate_limit.backoff_seconds": 1,
                                    "rate_limit.backoff_factor": 2},
                                 declared=frozenset({"rate_limit.model"}))


def test_a_growing_back_off_conforms_where_it_is_declared(tmp_path: Path) -> None:
    found = outcomes(run(tmp_path, BACKOFF, "TOTP-RATE-LIMIT", "SKEW-REASON", clinic=BackingOff))
    assert {o for o, _ in found.values()} <= {"pass", "not_applicable"}, found


def test_a_scenario_a_declared_back_off_makes_not_applicable_leaves_the_rule_conforming(
        tmp_path: Path) -> None:
    """Not applicable by the deployment's declared choice: neutral, not partial evidence."""
    report = run(tmp_path, BACKOFF, "TOTP-RATE-LIMIT", clinic=BackingOff)
    (item,) = [r for r in report["requirements"] if r["id"] == "TOTP-RATE-LIMIT"]
    neutral = [row for row in item["scenarios"] if row["outcome"] == "not_applicable"]
    assert neutral and all(row.get("binds") is False for row in neutral)
    assert item["verdict"] == "conforms" and "partial" not in item


def test_a_back_off_declared_but_absent_fails(tmp_path: Path) -> None:
    found = outcomes(run(tmp_path, BACKOFF, "TOTP-RATE-LIMIT"))  # the reference locks out
    assert found["TOTP-RATE-LIMIT-FIVE-WRONG"][0] == "fail"


class DropsSetupOnWrongCode(Clinic):
    """A wrong code at confirmation ends the setup: the person starts again (a new QR code)."""

    def confirm_authenticator(self, token: str, code: str) -> Any:
        try:
            return super().confirm_authenticator(token, code)
        except TwoFactorError as refusal:
            if refusal.code is ErrorCode.CODE_REJECTED:
                with self._lock:
                    _, user = self._session(token, Stage.SIGNED_IN, Stage.ENROLMENT)
                    user.pending_secret = None
            raise


class NeverConfirms(DropsSetupOnWrongCode):
    """Ends the setup on a wrong code, and after that refuses even the right one."""

    def confirm_authenticator(self, token: str, code: str) -> Any:
        self.refused = getattr(self, "refused", 0) + 1
        return super().confirm_authenticator(token, code if self.refused == 1 else "x")


def test_a_setup_that_a_wrong_code_ends_is_started_again(tmp_path: Path) -> None:
    found = outcomes(run(tmp_path, REFERENCE, "STEP-4-CONFIRM-ENROLMENT",
                         "SETUP-CONFIRM-OFF-UNTIL-CONFIRMED", "SETUP-FRESH-SECRET-OLD-CODE-REFUSED",
                         "TROUBLE-2-SYNC-CLOCK", "TROUBLE-5-RETRY-SETUP",
                         clinic=DropsSetupOnWrongCode))
    assert found == {k: ("pass", "") for k in found} and len(found) == 5
    found = outcomes(run(tmp_path, REFERENCE, "STEP-4-CONFIRM-ENROLMENT", clinic=NeverConfirms))
    assert found["STEP-4-CONFIRM-ENROLMENT"][0] == "fail"


class PendingIsSignedOut(Clinic):
    """Pages that know only 'signed in' or not: a half-finished sign-in is not signed in."""

    def profile(self, token: str) -> Any:
        try:
            return super().profile(token)
        except TwoFactorError as refusal:
            if refusal.code is ErrorCode.SECOND_STEP_REQUIRED:
                raise TwoFactorError(ErrorCode.NOT_SIGNED_IN, "Sign in first.") from None
            raise


class PendingIsSignedIn(Clinic):
    """A correct password alone reaches My Profile: the second step guards nothing."""

    def profile(self, token: str) -> Any:
        with self._lock:
            _, user = self._session(token, Stage.SIGNED_IN, Stage.SECOND_STEP)
        return StaffEntry(user.email, user.name, user.role, user.two_factor_enabled)


def test_a_half_finished_sign_in_may_be_treated_as_not_signed_in(tmp_path: Path) -> None:
    found = outcomes(run(tmp_path, REFERENCE, "OUTCOME-1-EVERY-SIGN-IN",
                         "SIGNIN-SECOND-STEP-ASKED", clinic=PendingIsSignedOut))
    assert found["OUTCOME-1-EVERY-SIGN-IN"] == ("pass", "")
    assert found["SIGNIN-SECOND-STEP-ASKED"] == ("pass", "")
    found = outcomes(run(tmp_path, REFERENCE, "OUTCOME-1-EVERY-SIGN-IN",
                         "SIGNIN-SECOND-STEP-ASKED", clinic=PendingIsSignedIn))
    assert found["OUTCOME-1-EVERY-SIGN-IN"][0] == "fail"
    assert found["SIGNIN-SECOND-STEP-ASKED"][0] == "fail"


class DashedManualEntry(Clinic):
    """Writes the manual-entry secret in groups of four joined by dashes (as libpass does)."""

    def start_authenticator_setup(self, token: str) -> Any:
        setup = super().start_authenticator_setup(token)
        return replace(setup, manual_entry=setup.manual_entry.replace(" ", "-"))


class UngroupedManualEntry(Clinic):
    """Writes the manual-entry secret in one piece: no short groups to read and type."""

    def start_authenticator_setup(self, token: str) -> Any:
        setup = super().start_authenticator_setup(token)
        return replace(setup, manual_entry=setup.manual_entry.replace(" ", ""))


def test_a_manual_entry_secret_in_dashed_groups_is_in_short_groups(tmp_path: Path) -> None:
    found = outcomes(run(tmp_path, REFERENCE, "MANUAL-SECRET-SAME-SECRET",
                         clinic=DashedManualEntry))
    assert found["MANUAL-SECRET-SAME-SECRET"] == ("pass", "")
    found = outcomes(run(tmp_path, REFERENCE, "MANUAL-SECRET-SAME-SECRET",
                         clinic=UngroupedManualEntry))
    assert found["MANUAL-SECRET-SAME-SECRET"][0] == "fail"


@pytest.mark.parametrize(("selected", "verdict"), [
    (["SIGNIN-PENDING-EXPIRES-DECLARED"], "not_verified"),  # the choice alone: nothing seen
    (["SIGNIN-PENDING-EXPIRES-DECLARED", "SIGNIN-PENDING-EXPIRES"], "conforms"),
])
def test_a_declared_choice_inside_the_bounds_alone_makes_nothing_conform(
        tmp_path: Path, selected: list[str], verdict: str) -> None:
    done = run_here(tmp_path, catalogue.load(), target="memory", select=selected)
    assert done.outcomes() == dict.fromkeys(selected, "pass")
    (item,) = [r for r in done.report()["requirements"] if r["id"] == "SIGNIN-PENDING-EXPIRES"]
    assert item["verdict"] == verdict


# -- passkey-first enrolment (BACKUP-PASSKEY-FIRST) -----------------------------------------------


def test_a_passkey_first_user_without_backup_codes_fails_unless_none_is_offered(
        tmp_path: Path) -> None:
    """Where the deployment declares passkeys only beside an authenticator app, the codes of a
    passkey-first user are not applicable (said why); declared offered, their absence fails."""
    from clinic2fa.scenarios.selfcheck.defects.backup_codes import PasskeyFirstNoBackupCodes

    assert parse("[policy]\npasskey_first = 'not_offered'").passkey_first == "not_offered"
    none_offered = REFERENCE.with_changes(passkey_first="not_offered",
                                          declared=frozenset({"passkey_first"}))
    found = outcomes(run(tmp_path, none_offered, "BACKUP-PASSKEY-FIRST",
                         clinic=PasskeyFirstNoBackupCodes))
    assert found["BACKUP-PASSKEY-FIRST-ISSUED"][0] == "not_applicable"
    assert "passkey_first = 'not_offered'" in found["BACKUP-PASSKEY-FIRST-ISSUED"][1]
    assert found["BACKUP-PASSKEY-FIRST-KEPT"] == ("pass", "")  # a passkey beside the app
    found = outcomes(run(tmp_path, REFERENCE, "BACKUP-PASSKEY-FIRST",
                         clinic=PasskeyFirstNoBackupCodes))
    assert found["BACKUP-PASSKEY-FIRST-ISSUED"][0] == "fail"
