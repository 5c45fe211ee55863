"""Disabling 2FA, the owner's enforcement, and owner/admin recovery from Settings -> Staff."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from clinic2fa.simulator.clinic import Clinic, Stage
from clinic2fa.simulator.errors import ErrorCode, Reason
from clinic2fa.simulator.virtual.authenticator_app import AuthenticatorApp

if TYPE_CHECKING:
    from conftest import Cast, Enrolled, Helpers, Person

NOT_PERMITTED = (ErrorCode.NOT_PERMITTED, None)


def full_session(clinic: Clinic, person: Person) -> str:
    """A signed-in session for someone without 2FA (before enforcement)."""
    signed = clinic.sign_in(person.email, person.password)
    assert signed.stage is Stage.SIGNED_IN
    return signed.token


def factors_gone(enrolled: Enrolled) -> bool:
    record = enrolled.user
    return (record.totp_secret is None and record.pending_secret is None
            and record.backup_hashes == [] and record.passkeys == []
            and not record.two_factor_enabled)


# -- DISABLE-REAUTH -----------------------------------------------------------------------------


@pytest.mark.parametrize("password", ["", "wrong", "admin-Pa55-battery-staple"])
def test_DISABLE_REAUTH_wrong_password_is_refused(staff_enrolled: Enrolled,
                                                  helpers: type[Helpers], password: str) -> None:
    clinic = staff_enrolled.clinic
    assert helpers.refused(lambda: clinic.disable_2fa(staff_enrolled.token, password)) == (
        ErrorCode.PASSWORD_REQUIRED, None)
    assert clinic.security(staff_enrolled.token).two_factor_enabled
    assert staff_enrolled.user.totp_secret == staff_enrolled.account.secret


def test_DISABLE_REAUTH_password_disables_and_removes_every_factor(
        staff_enrolled: Enrolled, people: Cast) -> None:
    clinic = staff_enrolled.clinic
    clinic.disable_2fa(staff_enrolled.token, people.staff.password)
    status = clinic.security(staff_enrolled.token)
    assert (status.two_factor_enabled, status.authenticator_app, status.backup_codes_left) == (
        False, False, 0)
    assert factors_gone(staff_enrolled)
    assert clinic.sign_in(people.staff.email, people.staff.password).stage is Stage.SIGNED_IN


def test_DISABLE_REAUTH_ends_the_users_other_sessions(staff_enrolled: Enrolled, people: Cast,
                                                      helpers: type[Helpers]) -> None:
    clinic = staff_enrolled.clinic
    other = staff_enrolled.sign_in_fully()
    pending = staff_enrolled.pending()
    clinic.disable_2fa(staff_enrolled.token, people.staff.password)
    assert clinic.profile(staff_enrolled.token).email == people.staff.email  # this one stays
    for gone in (other, pending):
        assert helpers.refused(lambda t=gone: clinic.profile(t)) == (ErrorCode.NOT_SIGNED_IN, None)


# -- DISABLE-ENFORCED ---------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["owner", "admin", "staff"])
def test_DISABLE_ENFORCED_no_self_disable_under_enforcement(
        clinic: Clinic, people: Cast, helpers: type[Helpers], who: str) -> None:
    owner = helpers.enrol(clinic, people.owner) if who != "owner" else None
    person: Person = getattr(people, who)
    enrolled = helpers.enrol(clinic, person)
    clinic.set_enforcement((owner or enrolled).token, True)
    assert helpers.refused(lambda: clinic.disable_2fa(enrolled.token, person.password)) == (
        ErrorCode.ENFORCED, None)
    assert clinic.security(enrolled.token).two_factor_enabled
    clinic.set_enforcement((owner or enrolled).token, False)
    clinic.disable_2fa(enrolled.token, person.password)
    assert not clinic.security(enrolled.token).two_factor_enabled


# -- ENFORCE-OWNER-ONLY -------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["admin", "staff"])
def test_ENFORCE_OWNER_ONLY_admin_and_staff_cannot_change_it(
        clinic: Clinic, people: Cast, helpers: type[Helpers], who: str) -> None:
    person: Person = getattr(people, who)
    token = helpers.enrol(clinic, person).token  # even with 2FA on and fully signed in
    for required in (True, False, True):
        assert helpers.refused(lambda r=required: clinic.set_enforcement(token, r)) == (
            NOT_PERMITTED)
        assert clinic.enforcement_required is False
    owner = full_session(clinic, people.owner)
    clinic.set_enforcement(owner, True)
    assert helpers.refused(lambda: clinic.set_enforcement(token, False)) == NOT_PERMITTED
    assert clinic.enforcement_required is True


def test_ENFORCE_OWNER_ONLY_owner_turns_it_on_and_off(clinic: Clinic, people: Cast) -> None:
    owner = full_session(clinic, people.owner)
    clinic.set_enforcement(owner, True)
    assert clinic.security(owner).enforcement_required
    clinic.set_enforcement(owner, False)
    assert not clinic.security(owner).enforcement_required


# -- ENFORCE-FORCES-ENROLMENT -------------------------------------------------------------------


ENROLMENT_ONLY = ["profile", "regenerate_backup_codes", "disable_2fa", "set_enforcement",
                  "clear_enforcement", "staff", "disable_2fa_for"]


@pytest.mark.parametrize("who", ["owner", "admin", "staff"])
@pytest.mark.parametrize("action", ENROLMENT_ONLY)
def test_ENFORCE_FORCES_ENROLMENT_nothing_but_setup_before_enrolling(
        clinic: Clinic, people: Cast, helpers: type[Helpers], who: str, action: str) -> None:
    clinic.set_enforcement(full_session(clinic, people.owner), True)
    person: Person = getattr(people, who)
    signed = clinic.sign_in(person.email, person.password)
    assert signed.stage is Stage.ENROLMENT
    attempt = helpers.protected_actions(clinic, signed.token, person)[action]
    assert helpers.refused(attempt) == (ErrorCode.ENROLMENT_REQUIRED, None)
    assert clinic.enforcement_required is True


def test_ENFORCE_FORCES_ENROLMENT_second_step_paths_are_closed_too(
        clinic: Clinic, people: Cast, helpers: type[Helpers]) -> None:
    clinic.set_enforcement(full_session(clinic, people.owner), True)
    token = clinic.sign_in(people.staff.email, people.staff.password).token
    assert helpers.refused(lambda: clinic.enter_code(token, "123456")) == (
        ErrorCode.ENROLMENT_REQUIRED, None)
    assert helpers.refused(lambda: clinic.use_backup_code(token, "aaaaa-aaaaa")) == (
        ErrorCode.ENROLMENT_REQUIRED, None)


def test_ENFORCE_FORCES_ENROLMENT_security_page_shows_what_is_required(
        clinic: Clinic, people: Cast) -> None:
    """Decision pinned: Security settings hosts "Set up authenticator app" (STEP-1, STEP-2),
    so the enrolment-only state may open it; it shows only the user's own status."""
    clinic.set_enforcement(full_session(clinic, people.owner), True)
    token = clinic.sign_in(people.staff.email, people.staff.password).token
    status = clinic.security(token)
    assert (status.enforcement_required, status.two_factor_enabled) == (True, False)


def test_ENFORCE_FORCES_ENROLMENT_confirming_signs_the_session_in(
        clinic: Clinic, people: Cast, helpers: type[Helpers]) -> None:
    clinic.set_enforcement(full_session(clinic, people.owner), True)
    token = clinic.sign_in(people.staff.email, people.staff.password).token
    first = clinic.start_authenticator_setup(token)  # TROUBLE-5: a failed first try...
    assert helpers.refused(lambda: clinic.confirm_authenticator(token, "000000"))[0] is (
        ErrorCode.CODE_REJECTED)
    assert helpers.refused(lambda: clinic.profile(token)) == (ErrorCode.ENROLMENT_REQUIRED, None)
    setup = clinic.start_authenticator_setup(token)  # ...and a retry with a fresh QR
    assert setup.uri != first.uri
    app = AuthenticatorApp(clinic.clock.now)
    app.scan(setup.qr_png)
    codes = clinic.confirm_authenticator(token, app.code())
    assert len(codes) == 10 and codes.session not in (None, token)  # SESSION-NEW-TOKEN
    assert helpers.refused(lambda: clinic.profile(token)) == (ErrorCode.NOT_SIGNED_IN, None)
    token = codes.session
    assert clinic.profile(token).two_factor_enabled
    clinic.sign_out(token)
    assert clinic.sign_in(people.staff.email, people.staff.password).stage is Stage.SECOND_STEP


def test_ENFORCE_FORCES_ENROLMENT_applies_to_the_owner_too(clinic: Clinic, people: Cast) -> None:
    owner = full_session(clinic, people.owner)
    clinic.set_enforcement(owner, True)
    assert clinic.sign_in(people.owner.email, people.owner.password).stage is Stage.ENROLMENT


def test_ENFORCE_FORCES_ENROLMENT_at_next_sign_in_not_mid_session(
        clinic: Clinic, people: Cast) -> None:
    """Decision (the guide's 'next sign-in'): open sessions are not ended by enforcement."""
    staff = full_session(clinic, people.staff)
    clinic.set_enforcement(full_session(clinic, people.owner), True)
    assert clinic.profile(staff).email == people.staff.email


def test_ENFORCE_FORCES_ENROLMENT_users_with_2fa_get_the_second_step(
        clinic: Clinic, people: Cast, helpers: type[Helpers]) -> None:
    enrolled = helpers.enrol(clinic, people.staff)
    clinic.set_enforcement(full_session(clinic, people.owner), True)
    assert clinic.sign_in(people.staff.email, people.staff.password).stage is Stage.SECOND_STEP
    assert enrolled.user.two_factor_enabled


def test_ENFORCE_FORCES_ENROLMENT_enrolment_sign_in_expires(
        clinic: Clinic, people: Cast, helpers: type[Helpers]) -> None:
    clinic.set_enforcement(full_session(clinic, people.owner), True)
    token = clinic.sign_in(people.staff.email, people.staff.password).token
    helpers.fake_clock(clinic).advance(clinic.policy.pending_ttl)
    assert helpers.refused(lambda: clinic.start_authenticator_setup(token)) == (
        ErrorCode.SIGN_IN_EXPIRED, None)


# -- ADMIN-DISABLE-ROLES ------------------------------------------------------------------------


@pytest.mark.parametrize(("actor", "target"), [("owner", "admin"), ("owner", "staff"),
                                               ("admin", "staff"), ("admin", "staff2")])
def test_ADMIN_DISABLE_ROLES_owner_and_admin_can_disable_others(
        clinic: Clinic, people: Cast, helpers: type[Helpers], actor: str, target: str) -> None:
    actor_token = helpers.enrol(clinic, getattr(people, actor)).token
    victim = helpers.enrol(clinic, getattr(people, target))
    clinic.disable_2fa_for(actor_token, victim.person.email)
    assert factors_gone(victim)
    rows = {row.email: row for row in clinic.staff(actor_token)}
    assert rows[victim.person.email].two_factor_enabled is False


@pytest.mark.parametrize(("actor", "target"), [("staff", "staff2"), ("staff", "admin"),
                                               ("staff", "owner"), ("admin", "owner"),
                                               ("owner", "owner"), ("admin", "admin")])
def test_ADMIN_DISABLE_ROLES_refusals(clinic: Clinic, people: Cast, helpers: type[Helpers],
                                      actor: str, target: str) -> None:
    """Staff never; an admin not on the owner (decision); nobody on themselves this way."""
    victim = helpers.enrol(clinic, getattr(people, target))
    actor_token = (victim.token if actor == target
                   else helpers.enrol(clinic, getattr(people, actor)).token)
    assert helpers.refused(
        lambda: clinic.disable_2fa_for(actor_token, victim.person.email)) == NOT_PERMITTED
    assert victim.user.totp_secret == victim.account.secret
    assert victim.user.backup_codes_left == 10
    assert clinic.profile(victim.token).two_factor_enabled


def test_ADMIN_DISABLE_ROLES_unknown_user(clinic: Clinic, people: Cast,
                                          helpers: type[Helpers]) -> None:
    owner = full_session(clinic, people.owner)
    assert helpers.refused(lambda: clinic.disable_2fa_for(owner, "ghost@clinic.test")) == (
        ErrorCode.UNKNOWN_USER, None)


def test_ADMIN_DISABLE_ROLES_staff_cannot_see_the_staff_list(clinic: Clinic,
                                                             people: Cast,
                                                             helpers: type[Helpers]) -> None:
    staff = full_session(clinic, people.staff)
    assert helpers.refused(lambda: clinic.staff(staff)) == NOT_PERMITTED


# -- ADMIN-DISABLE-ENDS-SESSIONS ----------------------------------------------------------------


def test_ADMIN_DISABLE_ENDS_SESSIONS_every_session_of_the_target_ends(
        clinic: Clinic, people: Cast, helpers: type[Helpers]) -> None:
    admin = helpers.enrol(clinic, people.admin)
    victim = helpers.enrol(clinic, people.staff)
    bystander = helpers.enrol(clinic, people.staff2)
    second = victim.sign_in_fully()
    pending = victim.pending()
    clinic.disable_2fa_for(admin.token, people.staff.email)
    for token in (victim.token, second, pending):
        assert helpers.refused(lambda t=token: clinic.profile(t)) == (
            ErrorCode.NOT_SIGNED_IN, None)
    assert helpers.refused(lambda: clinic.enter_code(pending, victim.app.code())) == (
        ErrorCode.NOT_SIGNED_IN, None)
    assert clinic.profile(admin.token).email == people.admin.email
    assert clinic.profile(bystander.token).email == people.staff2.email


def test_ADMIN_DISABLE_ENDS_SESSIONS_old_factors_are_useless(
        clinic: Clinic, people: Cast, helpers: type[Helpers]) -> None:
    owner = helpers.enrol(clinic, people.owner)
    victim = helpers.enrol(clinic, people.staff)
    clinic.disable_2fa_for(owner.token, people.staff.email)
    assert factors_gone(victim)
    token = full_session(clinic, people.staff)  # no second step any more
    assert helpers.refused(lambda: clinic.use_backup_code(token, victim.backup_codes[0])) == (
        ErrorCode.INVALID_REQUEST, None)


def test_ADMIN_DISABLE_ENDS_SESSIONS_under_enforcement_the_user_enrols_again(
        clinic: Clinic, people: Cast, helpers: type[Helpers]) -> None:
    owner = helpers.enrol(clinic, people.owner)
    victim = helpers.enrol(clinic, people.staff)
    clinic.set_enforcement(owner.token, True)
    clinic.disable_2fa_for(owner.token, people.staff.email)
    signed = clinic.sign_in(people.staff.email, people.staff.password)
    assert signed.stage is Stage.ENROLMENT
    assert helpers.refused(lambda: clinic.profile(signed.token)) == (
        ErrorCode.ENROLMENT_REQUIRED, None)
    setup = clinic.start_authenticator_setup(signed.token)
    helpers.next_step(clinic)
    # The lost phone's codes do not confirm the new setup.
    assert helpers.refused(
        lambda: clinic.confirm_authenticator(signed.token, victim.app.code())) == (
        ErrorCode.CODE_REJECTED, Reason.WRONG_CODE)
    phone = AuthenticatorApp(clinic.clock.now)
    phone.scan(setup.qr_png)
    codes = clinic.confirm_authenticator(signed.token, phone.code())
    assert len(codes) == 10 and codes.session is not None
    assert clinic.profile(codes.session).two_factor_enabled
