"""What the reference shows and records: never a secret (SECRET-NOT-DISCLOSED, AUDIT-LOG)."""

from __future__ import annotations

import dataclasses
import json
from typing import TYPE_CHECKING

import pytest

from clinic2fa.simulator.audit import AuditEntry, Event
from clinic2fa.simulator.clinic import Clinic, SecurityStatus, Setup, StaffEntry
from clinic2fa.simulator.errors import TwoFactorError
from clinic2fa.simulator.virtual.authenticator_app import AuthenticatorApp

if TYPE_CHECKING:
    from conftest import Cast, Enrolled, Helpers


def secret_forms(enrolled: Enrolled) -> set[str]:
    """Every way the confirmed TOTP secret was ever written out."""
    secret = enrolled.account.secret
    return {secret, secret.lower(), enrolled.setup.manual_entry, enrolled.setup.uri,
            enrolled.setup.manual_entry.lower()}


# -- SECRET-NOT-DISCLOSED -----------------------------------------------------------------------


def test_SECRET_NOT_DISCLOSED_status_and_staff_rows_have_no_secret_fields() -> None:
    """The shapes themselves leave no room for a secret."""
    assert {f.name for f in dataclasses.fields(SecurityStatus)} == {
        "email", "role", "two_factor_enabled", "authenticator_app", "backup_codes_left",
        "passkeys", "enforcement_required"}
    assert {f.name for f in dataclasses.fields(StaffEntry)} == {
        "email", "name", "role", "two_factor_enabled", "sign_in_blocked"}


def test_SECRET_NOT_DISCLOSED_nothing_returned_after_enrolment_contains_it(
        clinic: Clinic, people: Cast, helpers: type[Helpers]) -> None:
    owner = helpers.enrol(clinic, people.owner)
    staff = helpers.enrol(clinic, people.staff)
    admin_token = helpers.enrol(clinic, people.admin).token
    staff_pending = clinic.sign_in(people.staff2.email, people.staff2.password).token
    pending_setup = clinic.start_authenticator_setup(staff_pending)  # someone else's, unconfirmed
    shown: list[object] = []
    for enrolled in (owner, staff):
        shown += [clinic.security(enrolled.token), clinic.profile(enrolled.token)]
    shown += [clinic.staff(owner.token), clinic.staff(admin_token)]
    for code in ("000000", "12345", staff.code_steps_away(3), staff.confirm_code):
        try:
            clinic.enter_code(staff.pending(), code)
        except TwoFactorError as refusal:
            shown += [str(refusal), refusal.to_dict()]
    try:
        clinic.start_authenticator_setup(staff.token)
    except TwoFactorError as refusal:
        shown += [str(refusal), refusal.to_dict()]
    text = repr(shown)
    for enrolled in (owner, staff):
        for form in secret_forms(enrolled):
            assert form not in text
    assert pending_setup.manual_entry not in text
    assert helpers.user_record(clinic, people.staff2.email).pending_secret not in text
    for person in people.all():
        assert helpers.user_record(clinic, person.email).password_hash not in text


# -- AUDIT-LOG ----------------------------------------------------------------------------------


@dataclasses.dataclass
class Story:
    """The audit log after a busy day, and every secret and code handled on the way."""

    handled: set[str]
    codes: set[str]
    entries: list[AuditEntry]


def bare_secret(setup: Setup) -> str:
    """The bare base32 secret inside a setup's Key URI."""
    return setup.uri.split("secret=")[1].split("&")[0]


@pytest.fixture
def story(clinic: Clinic, people: Cast, helpers: type[Helpers]) -> Story:
    """Every kind of 2FA event on one clinic, keeping every secret that passed through it."""
    clock = helpers.fake_clock(clinic)
    handled: set[str] = {p.password for p in people.all()} | {"typo-Pa55"}
    codes: set[str] = set()
    with pytest.raises(TwoFactorError):
        clinic.sign_in(people.staff.email, "typo-Pa55")
    owner = helpers.enrol(clinic, people.owner)
    admin = helpers.enrol(clinic, people.admin)
    # staff: one abandoned setup, then a confirmed one.
    token = clinic.sign_in(people.staff.email, people.staff.password).token
    abandoned = clinic.start_authenticator_setup(token)
    setup = clinic.start_authenticator_setup(token)
    app = AuthenticatorApp(clinic.clock.now)
    app.scan(setup.qr_png)
    confirm_code = app.code()
    backup = clinic.confirm_authenticator(token, confirm_code)
    handled |= {abandoned.uri, abandoned.manual_entry, setup.uri, setup.manual_entry}
    handled |= {s.replace(" ", "") for s in (abandoned.manual_entry, setup.manual_entry)}
    codes |= {confirm_code, owner.confirm_code, admin.confirm_code}
    # a sign-in with a wrong code then the right one, one with a backup code
    helpers.next_step(clinic)
    pending = clinic.sign_in(people.staff.email, people.staff.password).token
    wrong = f"{(int(app.code()) + 1) % 1_000_000:06d}"
    with pytest.raises(TwoFactorError):
        clinic.enter_code(pending, wrong)
    right = app.code()
    clinic.enter_code(pending, right)
    codes |= {wrong, right}
    clinic.use_backup_code(clinic.sign_in(people.staff.email, people.staff.password).token,
                           backup[0])
    fresh = clinic.regenerate_backup_codes(token, people.staff.password)
    handled |= set(backup) | set(fresh) | {c.replace("-", "") for c in backup + fresh}
    # a lock-out with wrong backup codes and wrong 6-digit codes
    pending = clinic.sign_in(people.staff.email, people.staff.password).token
    for guess in ("zzzzz-zzzzz", "yyyyy-yyyyy"):
        with pytest.raises(TwoFactorError):
            clinic.use_backup_code(pending, guess)
    for step in (4, 5, 6):
        guess = app.code_at_step(app.step() + step)
        codes.add(guess)
        with pytest.raises(TwoFactorError):
            clinic.enter_code(pending, guess)
    clock.advance(clinic.policy.lockout_seconds)
    # enforcement on, an admin disables staff's 2FA, enforcement off, owner disables own
    clinic.set_enforcement(owner.token, True)
    clinic.disable_2fa_for(admin.token, people.staff.email)
    clinic.set_enforcement(owner.token, False)
    clinic.disable_2fa(owner.token, people.owner.password)
    for enrolled in (owner, admin):
        handled |= secret_forms(enrolled) | set(enrolled.backup_codes)
    for person in people.all():
        handled.add(helpers.user_record(clinic, person.email).password_hash)
    handled |= {bare_secret(s) for s in (abandoned, setup)}
    return Story(handled, codes, clinic.audit.entries())


def test_AUDIT_LOG_records_each_security_event_with_who_and_whom(story: Story,
                                                                people: Cast) -> None:
    entries = story.entries
    seen = {(e.event, e.actor, e.subject, e.detail) for e in entries}
    staff, admin, owner = people.staff.email, people.admin.email, people.owner.email
    expected = {
        (Event.SIGN_IN_FAILED, staff, staff, ""),
        (Event.SETUP_STARTED, staff, staff, ""),
        (Event.ENROLMENT_CONFIRMED, staff, staff, ""),
        (Event.SECOND_STEP_FAILED, staff, staff, "wrong_code"),
        (Event.SECOND_STEP_FAILED, staff, staff, "time_skew"),
        (Event.SECOND_STEP_PASSED, staff, staff, "authenticator app"),
        (Event.SECOND_STEP_PASSED, staff, staff, "backup code"),
        (Event.BACKUP_CODE_USED, staff, staff, "9 left"),
        (Event.BACKUP_CODES_REGENERATED, staff, staff, ""),
        (Event.LOCKED_OUT, staff, staff, "900s"),
        (Event.ENFORCEMENT_CHANGED, owner, owner, "required"),
        (Event.ENFORCEMENT_CHANGED, owner, owner, "optional"),
        (Event.TWO_FACTOR_DISABLED, admin, staff, "by admin"),
        (Event.TWO_FACTOR_DISABLED, owner, owner, "by themselves"),
    }
    assert expected <= seen, expected - seen
    times = [e.at for e in entries]
    assert times == sorted(times), "recorded in order, on the server's (fake) clock"


def test_AUDIT_LOG_contains_no_secret_code_or_password(story: Story) -> None:
    entries = story.entries
    dump = json.dumps([e.to_dict() for e in entries])
    assert len(story.handled) > 50
    for secret in story.handled:
        assert secret not in dump, secret
        assert secret.lower() not in dump.lower(), secret
    # 6-digit codes are searched in the text fields only: timestamps are digits too.
    text = json.dumps([[e.event, e.actor, e.subject, e.detail] for e in entries])
    assert len(story.codes) >= 8
    for code in story.codes:
        assert code not in text, code
