"""The checks can fail: per guide item, a reference broken in that promise fails its scenario."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from functools import partial
from typing import Any

import pytest

from clinic2fa import spec
from clinic2fa.scenarios import catalogue
from clinic2fa.scenarios.core.context import Context, NonConformance
from clinic2fa.scenarios.core.trace import Trace
from clinic2fa.scenarios.selfcheck import defects
from clinic2fa.scenarios.targets.memory import MemoryTarget
from clinic2fa.simulator import totp
from clinic2fa.simulator.audit import Event
from clinic2fa.simulator.clinic import Clinic, SecurityStatus, Setup, SignIn, Stage
from clinic2fa.simulator.clock import FakeClock
from clinic2fa.simulator.errors import ErrorCode, Reason, TwoFactorError
from clinic2fa.simulator.hashing import Hasher
from clinic2fa.simulator.passkeys import Passkeys
from clinic2fa.simulator.policy import FAST_HASH, Policy

CATALOGUE = catalogue.load()


class SecurityAlwaysOn(Clinic):
    """STEP-1: Security settings claim 2FA and an app before anything was set up."""

    def security(self, token: str) -> SecurityStatus:
        status = super().security(token)
        return dataclasses.replace(status, two_factor_enabled=True, authenticator_app=True)


class NoManualEntry(Clinic):
    """STEP-2: the setup screen shows the QR code but no manual-entry secret beside it."""

    def start_authenticator_setup(self, token: str) -> Setup:
        return dataclasses.replace(super().start_authenticator_setup(token), manual_entry="")


class QrForAnotherIssuer(Clinic):
    """STEP-3: the QR code on screen adds the account under another practice's name."""

    def start_authenticator_setup(self, token: str) -> Setup:
        setup = super().start_authenticator_setup(token)
        other = setup.uri.replace("MyDentalPractice", "OtherPractice")
        return dataclasses.replace(setup, qr_png=totp.qr_png(other))








class PasskeyNeverSignsIn(Clinic):
    """STEP-7: the passkey is checked but the sign-in stays at the second step."""

    def finish_passkey_sign_in(self, token: str, credential: Any) -> SignIn:
        result = super().finish_passkey_sign_in(token, credential)
        self._sessions[result.token].stage = Stage.SECOND_STEP
        return SignIn(result.token, Stage.SECOND_STEP)




class RemembersDevices(Clinic):
    """OUTCOME-1: once a user passed the second step, later sign-ins skip it."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._trusted: set[str] = set()

    def _pass_second_step(self, session: Any, user: Any, how: str) -> SignIn:
        self._trusted.add(user.email)
        return super()._pass_second_step(session, user, how)

    def sign_in(self, email: str, password: str) -> SignIn:
        result = super().sign_in(email, password)
        if result.stage is Stage.SECOND_STEP and email.strip().lower() in self._trusted:
            self._promote(self._sessions[result.token])
            return SignIn(result.token, Stage.SIGNED_IN)
        return result


class BackupCodesRefused(Clinic):
    """OUTCOME-2: backup codes are issued but never accepted."""

    def use_backup_code(self, token: str, code: str) -> SignIn:
        self._session(token, Stage.SECOND_STEP)
        raise TwoFactorError(ErrorCode.CODE_REJECTED, "That backup code is not valid.",
                             Reason.WRONG_CODE)


class OwnerCannotEnforce(Clinic):
    """OUTCOME-3: nobody, the owner included, may change 2FA enforcement."""

    def set_enforcement(self, token: str, required: bool) -> None:
        self._session(token, Stage.SIGNED_IN)
        raise TwoFactorError(ErrorCode.NOT_PERMITTED, "Only the owner changes 2FA enforcement.")






class ResetKeepsFactors(Clinic):
    """TROUBLE-3: Settings -> Staff -> Disable 2FA ends sessions but leaves the factors."""

    def _strip_factors(self, user: Any) -> None:
        if not getattr(self, "_self_disable", False):
            return
        super()._strip_factors(user)

    def disable_2fa(self, token: str, password: str) -> None:
        self._self_disable = True
        try:
            super().disable_2fa(token, password)
        finally:
            self._self_disable = False






# A broken variant is a seeded defect (scenarios/selfcheck/defects.py) where one fits, else a class.
BROKEN: list[tuple[str, type[Clinic] | str, str]] = [
    ("STEP-1", SecurityAlwaysOn, "STEP-1-SECURITY-SETTINGS"),
    ("STEP-2", NoManualEntry, "STEP-2-SETUP-SCREEN"),
    ("STEP-3", QrForAnotherIssuer, "STEP-3-SCAN-QR"),
    ("STEP-4", "confirm-any-code", "STEP-4-CONFIRM-ENROLMENT"),
    ("STEP-5", "too-few-backup-codes", "STEP-5-BACKUP-CODES"),
    ("STEP-6", "second-step-skipped", "STEP-6-SIGN-IN-TEST"),
    ("STEP-7", PasskeyNeverSignsIn, "STEP-7-ADD-PASSKEY"),
    ("STEP-8", "enforcement-not-forcing", "STEP-8-ENFORCE"),
    ("OUTCOME-1", RemembersDevices, "OUTCOME-1-EVERY-SIGN-IN"),
    ("OUTCOME-2", BackupCodesRefused, "OUTCOME-2-BACKUP-CODE"),
    ("OUTCOME-3", OwnerCannotEnforce, "OUTCOME-3-CLINIC-WIDE"),
    ("TROUBLE-1", "manual-secret-mismatch", "TROUBLE-1-MANUAL-ENTRY"),
    ("TROUBLE-2", "window-too-wide", "TROUBLE-2-SYNC-CLOCK"),
    ("TROUBLE-3", ResetKeepsFactors, "TROUBLE-3-LOST-PHONE"),
    ("TROUBLE-4", "disable-without-password", "TROUBLE-4-DISABLE"),
    ("TROUBLE-5", "same-secret-on-retry", "TROUBLE-5-RETRY-SETUP"),
]


def broken_target(variant: type[Clinic] | str) -> MemoryTarget:
    clock = FakeClock()
    make = partial(defects.build, variant) if isinstance(variant, str) else variant
    return MemoryTarget(make(clock=clock, policy=Policy(hash_cost=FAST_HASH)), clock)


def run(scenario_id: str, target: MemoryTarget) -> None:
    ctx = Context(target, Trace(), frozenset(target.capabilities))
    try:
        CATALOGUE[scenario_id].run(ctx)
    finally:
        ctx.run_cleanups()


def test_every_guide_item_has_a_broken_variant() -> None:
    assert sorted(item for item, _, _ in BROKEN) == sorted(i.id for i in spec.load().guide_items)
    for item, _, scenario_id in BROKEN:
        assert item in CATALOGUE[scenario_id].verifies


@pytest.mark.parametrize(("item", "variant", "scenario_id"), BROKEN, ids=[b[0] for b in BROKEN])
def test_broken_variant_fails_the_items_scenario(item: str, variant: type[Clinic] | str,
                                                 scenario_id: str) -> None:
    """The clean reference passes the same scenario (test_scenarios_memory)."""
    with pytest.raises(NonConformance):
        run(scenario_id, broken_target(variant))



class _UserVerificationNotChecked(Passkeys):
    """Asks for user verification in the options, then accepts answers without it."""

    @property
    def _uv_required(self) -> bool:
        return False


def test_user_verification_asked_but_not_checked_fails_its_scenario() -> None:
    """The reference requires user verification; a clinic that only asks for it fails."""
    clock = FakeClock()
    clinic = Clinic(clock=clock, policy=Policy(hash_cost=FAST_HASH), user_verification="required")
    clinic._passkeys.__class__ = _UserVerificationNotChecked
    with pytest.raises(NonConformance):
        run("PASSKEY-USER-VERIFICATION-REQUIRED", MemoryTarget(clinic, clock))


# -- what a clinic keeps: each way to break the rule fails, not only the catalogue's defect -------

class _OneSalt(Hasher):
    """argon2id, but every hash with the same salt: equal secrets give equal hashes."""

    def hash(self, secret: str) -> str:
        return self._ph.hash(secret, salt=b"one-salt-for-all")

    def hash_many(self, secrets: Iterable[str]) -> list[str]:
        return [self.hash(s) for s in secrets]


class OneSalt(Clinic):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._hasher = _OneSalt(self.policy.hash_cost)


class AdminDisableUnrecorded(Clinic):
    """AUDIT-LOG: an admin's disable leaves no trace (a self-disable still does)."""

    def _log(self, event: Event, actor: str, subject: str = "", detail: str = "") -> None:
        if event is not Event.TWO_FACTOR_DISABLED or subject in ("", actor):
            super()._log(event, actor, subject, detail)


@pytest.mark.parametrize(("variant", "scenario_id"), [
    (OneSalt, "PASSWORD-HASH-STORAGE"), (OneSalt, "BACKUP-HASHED-STORAGE"),
    (AdminDisableUnrecorded, "AUDIT-LOG-RECORDED"),
], ids=["password-salts", "backup-code-salts", "admin-disable-unrecorded"])
def test_storage_and_audit_checks_fail_on_other_breakages(variant: type[Clinic],
                                                          scenario_id: str) -> None:
    """The catalogue's storage defects store in plain; these break the rest of each rule."""
    with pytest.raises(NonConformance):
        run(scenario_id, broken_target(variant))
