"""Sign-in on the reference: the password (argon2id), the second step, the pending state."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import TYPE_CHECKING

import pytest
from argon2 import PasswordHasher

from clinic2fa.simulator.clinic import Clinic, Stage
from clinic2fa.simulator.clock import FakeClock
from clinic2fa.simulator.errors import ErrorCode, TwoFactorError
from clinic2fa.simulator.policy import Policy
from clinic2fa.simulator.users import Role

if TYPE_CHECKING:
    from conftest import Cast, Enrolled, Helpers

PROTECTED = ["profile", "security", "start_setup", "confirm_setup", "regenerate_backup_codes",
             "disable_2fa", "set_enforcement", "clear_enforcement", "staff", "disable_2fa_for"]


# -- PASSWORD-HASH ------------------------------------------------------------------------------


def test_PASSWORD_HASH_only_a_salted_argon2id_hash_is_stored(clinic: Clinic, people: Cast,
                                                             helpers: type[Helpers]) -> None:
    hashes = []
    for person in people.all():
        record = helpers.user_record(clinic, person.email)
        assert record.password_hash.startswith("$argon2id$v=19$")
        assert person.password not in repr(dataclasses.asdict(record))
        assert PasswordHasher().verify(record.password_hash, person.password)
        hashes.append(record.password_hash)
    twin = clinic.add_user("twin@clinic.test", people.staff.password, Role.STAFF)
    twin_of = helpers.user_record(clinic, people.staff.email).password_hash
    assert twin.password_hash != twin_of, "same password, different salt, different hash"


def test_PASSWORD_HASH_default_cost_meets_owasp_minimum(clock: FakeClock) -> None:
    """m=19 MiB, t=2, p=1 (OWASP Password Storage Cheat Sheet); tests use a cheaper cost."""
    cost = Policy().hash_cost
    assert (cost.memory_cost, cost.time_cost, cost.parallelism) >= (19 * 1024, 2, 1)
    user = Clinic(clock=clock).add_user("solo@clinic.test", "solo-Pa55", Role.OWNER)
    assert user.password_hash.startswith("$argon2id$v=19$m=19456,t=2,p=1$")


def test_PASSWORD_HASH_wrong_password_is_refused_like_an_unknown_account(
        clinic: Clinic, people: Cast, helpers: type[Helpers]) -> None:
    """The refusal does not tell who exists or who has 2FA (OWASP ASVS 5.0 6.3.8)."""
    helpers.enrol(clinic, people.staff)
    messages = set()
    for email, password in [(people.staff.email, "wrong"), (people.staff2.email, "wrong"),
                            ("nobody@clinic.test", people.staff.password),
                            (people.staff.email, people.staff2.password)]:
        with pytest.raises(TwoFactorError) as exc:
            clinic.sign_in(email, password)
        assert exc.value.code is ErrorCode.INVALID_CREDENTIALS
        messages.add(exc.value.message)
    assert len(messages) == 1


# -- SIGNIN-SECOND-STEP -------------------------------------------------------------------------


def test_SIGNIN_SECOND_STEP_without_2fa_the_password_is_enough(clinic: Clinic,
                                                               people: Cast) -> None:
    signed = clinic.sign_in(people.staff.email, people.staff.password)
    assert signed.stage is Stage.SIGNED_IN
    assert clinic.profile(signed.token).email == people.staff.email


def test_SIGNIN_SECOND_STEP_code_asked_after_the_password_every_time(
        staff_enrolled: Enrolled, helpers: type[Helpers]) -> None:
    clinic = staff_enrolled.clinic
    for _ in range(3):  # no remember-this-device: every sign-in asks, even with a session open
        helpers.next_step(clinic)
        pending = clinic.sign_in(staff_enrolled.person.email, staff_enrolled.person.password)
        assert pending.stage is Stage.SECOND_STEP
        assert helpers.refused(lambda t=pending.token: clinic.profile(t)) == (
            ErrorCode.SECOND_STEP_REQUIRED, None)
        done = clinic.enter_code(pending.token, staff_enrolled.app.code(staff_enrolled.account))
        assert done.stage is Stage.SIGNED_IN and done.token != pending.token
        assert clinic.profile(done.token).two_factor_enabled


def test_SIGNIN_SECOND_STEP_a_backup_code_also_completes_it(staff_enrolled: Enrolled) -> None:
    clinic, token = staff_enrolled.clinic, staff_enrolled.pending()
    done = clinic.use_backup_code(token, staff_enrolled.backup_codes[3])
    assert done.stage is Stage.SIGNED_IN
    assert clinic.profile(done.token).email == staff_enrolled.person.email


def test_SIGNIN_SECOND_STEP_cannot_be_passed_twice(staff_enrolled: Enrolled,
                                                   helpers: type[Helpers]) -> None:
    token = staff_enrolled.sign_in_fully()
    helpers.next_step(staff_enrolled.clinic)
    code = staff_enrolled.app.code(staff_enrolled.account)
    assert helpers.refused(lambda: staff_enrolled.clinic.enter_code(token, code)) == (
        ErrorCode.INVALID_REQUEST, None)


def test_SIGNIN_SECOND_STEP_unknown_or_signed_out_token_reaches_nothing(
        staff_enrolled: Enrolled, helpers: type[Helpers]) -> None:
    clinic = staff_enrolled.clinic
    token = staff_enrolled.sign_in_fully()
    clinic.sign_out(token)
    for bad in (token, "forged-token"):
        assert helpers.refused(lambda t=bad: clinic.profile(t)) == (ErrorCode.NOT_SIGNED_IN, None)
        assert helpers.refused(lambda t=bad: clinic.enter_code(t, "123456")) == (
            ErrorCode.NOT_SIGNED_IN, None)


# -- SIGNIN-PENDING-GRANTS-NOTHING --------------------------------------------------------------


@pytest.mark.parametrize("action", PROTECTED)
def test_SIGNIN_PENDING_GRANTS_NOTHING_owner_pending_session_is_refused(
        owner_enrolled: Enrolled, people: Cast, helpers: type[Helpers], action: str) -> None:
    clinic = owner_enrolled.clinic
    pending = owner_enrolled.pending()
    attempt: Callable[[], object] = helpers.protected_actions(clinic, pending, people.owner)[action]
    assert helpers.refused(attempt) == (ErrorCode.SECOND_STEP_REQUIRED, None)
    # Nothing changed behind the refusal.
    status = clinic.security(owner_enrolled.token)
    assert status.two_factor_enabled and status.backup_codes_left == 10
    assert not status.enforcement_required
    assert owner_enrolled.user.pending_secret is None


def test_SIGNIN_PENDING_GRANTS_NOTHING_then_the_second_step_grants_everything(
        owner_enrolled: Enrolled, people: Cast, helpers: type[Helpers]) -> None:
    """The session, once the code is in, reaches what it was refused (control experiment)."""
    clinic = owner_enrolled.clinic
    helpers.next_step(clinic)
    pending = owner_enrolled.pending()
    done = clinic.enter_code(pending, owner_enrolled.app.code(owner_enrolled.account))
    actions = helpers.protected_actions(clinic, done.token, people.owner)
    for name in ("profile", "security", "staff", "set_enforcement", "clear_enforcement",
                 "regenerate_backup_codes", "disable_2fa_for", "disable_2fa"):
        actions[name]()


# -- SIGNIN-PENDING-EXPIRES ---------------------------------------------------------------------


def test_SIGNIN_PENDING_EXPIRES_after_pending_ttl(staff_enrolled: Enrolled,
                                                  helpers: type[Helpers]) -> None:
    clinic, clock = staff_enrolled.clinic, helpers.fake_clock(staff_enrolled.clinic)
    assert clinic.policy.pending_ttl == 5 * 60
    helpers.next_step(clinic)
    late = staff_enrolled.pending()
    clock.advance(clinic.policy.pending_ttl)
    code = staff_enrolled.app.code(staff_enrolled.account)
    assert helpers.refused(lambda: clinic.enter_code(late, code)) == (
        ErrorCode.SIGN_IN_EXPIRED, None)
    assert helpers.refused(lambda: clinic.enter_code(late, code)) == (
        ErrorCode.NOT_SIGNED_IN, None)  # the expired sign-in is gone, not merely refused
    # Just inside the lifetime the same kind of sign-in still works.
    helpers.next_step(clinic)
    in_time = staff_enrolled.pending()
    clock.advance(clinic.policy.pending_ttl - 1)
    code = staff_enrolled.app.code(staff_enrolled.account)
    assert clinic.enter_code(in_time, code).stage is Stage.SIGNED_IN


def test_SIGNIN_PENDING_EXPIRES_for_backup_codes_too(staff_enrolled: Enrolled,
                                                     helpers: type[Helpers]) -> None:
    clinic = staff_enrolled.clinic
    late = staff_enrolled.pending()
    helpers.fake_clock(clinic).advance(clinic.policy.pending_ttl)
    assert helpers.refused(
        lambda: clinic.use_backup_code(late, staff_enrolled.backup_codes[0])) == (
        ErrorCode.SIGN_IN_EXPIRED, None)
    assert staff_enrolled.user.backup_codes_left == 10


def test_SIGNIN_PENDING_EXPIRES_follows_policy(clock: FakeClock,
                                               make_clinic: Callable[..., Clinic], people: Cast,
                                               helpers: type[Helpers]) -> None:
    clinic = make_clinic(clock, pending_ttl=60)
    enrolled = helpers.enrol(clinic, people.staff)
    helpers.next_step(clinic)
    pending = enrolled.pending()
    clock.advance(60)
    assert helpers.refused(lambda: clinic.enter_code(pending, enrolled.app.code())) == (
        ErrorCode.SIGN_IN_EXPIRED, None)


def test_SIGNIN_PENDING_EXPIRES_full_session_lives_longer(staff_enrolled: Enrolled,
                                                          helpers: type[Helpers]) -> None:
    """The short lifetime is the pending state's only; a full session has its own."""
    clinic = staff_enrolled.clinic
    token = staff_enrolled.sign_in_fully()
    helpers.fake_clock(clinic).advance(clinic.policy.pending_ttl * 2)
    assert clinic.profile(token).email == staff_enrolled.person.email
