"""The reference's hardening (issue 16): new tokens, throttled passwords, the cap, skew, digits."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from clinic2fa.simulator.audit import Event
from clinic2fa.simulator.clinic import Clinic, Stage
from clinic2fa.simulator.clock import FakeClock
from clinic2fa.simulator.errors import ErrorCode, Reason, TwoFactorError
from clinic2fa.simulator.hashing import Hasher
from clinic2fa.simulator.virtual.authenticator_app import AuthenticatorApp

if TYPE_CHECKING:
    from conftest import Cast, Enrolled, Helpers, Person

LOCKED = ErrorCode.LOCKED_OUT


def refusal(action: object) -> TwoFactorError:
    with pytest.raises(TwoFactorError) as caught:
        action()  # type: ignore[operator]
    return caught.value


def signed_in(clinic: Clinic, person: Person) -> str:
    signed = clinic.sign_in(person.email, person.password)
    assert signed.stage is Stage.SIGNED_IN
    return signed.token


# -- SESSION-NEW-TOKEN --------------------------------------------------------------------------


@pytest.mark.parametrize("how", ["code", "backup code"])
def test_SESSION_NEW_TOKEN_the_second_step_answers_a_new_token_and_kills_the_pending_one(
        staff_enrolled: Enrolled, helpers: type[Helpers], how: str) -> None:
    clinic = staff_enrolled.clinic
    helpers.next_step(clinic)
    pending = staff_enrolled.pending()
    if how == "code":
        done = clinic.enter_code(pending, staff_enrolled.app.code(staff_enrolled.account))
    else:
        done = clinic.use_backup_code(pending, staff_enrolled.backup_codes[0])
    assert done.stage is Stage.SIGNED_IN and done.token != pending
    assert refusal(lambda: clinic.profile(pending)).code is ErrorCode.NOT_SIGNED_IN
    assert clinic.profile(done.token).email == staff_enrolled.person.email


def test_SESSION_NEW_TOKEN_enrolment_under_enforcement_renews_the_session(
        clinic: Clinic, people: Cast) -> None:
    clinic.set_enforcement(signed_in(clinic, people.owner), True)
    token = clinic.sign_in(people.staff.email, people.staff.password).token
    app = AuthenticatorApp(clinic.clock.now)
    app.scan(clinic.start_authenticator_setup(token).qr_png)
    codes = clinic.confirm_authenticator(token, app.code())
    assert codes.session is not None and codes.session != token
    assert refusal(lambda: clinic.security(token)).code is ErrorCode.NOT_SIGNED_IN
    assert clinic.profile(codes.session).two_factor_enabled


def test_SESSION_NEW_TOKEN_a_signed_in_enrolment_keeps_its_session(
        clinic: Clinic, people: Cast) -> None:
    """Nothing is raised when 2FA is optional: the session was full already."""
    token = signed_in(clinic, people.staff)
    app = AuthenticatorApp(clinic.clock.now)
    app.scan(clinic.start_authenticator_setup(token).qr_png)
    assert clinic.confirm_authenticator(token, app.code()).session is None
    assert clinic.profile(token).two_factor_enabled


# -- PASSWORD-RATE-LIMIT ------------------------------------------------------------------------


def wrong_passwords(clinic: Clinic, email: str, count: int) -> list[ErrorCode]:
    return [refusal(lambda: clinic.sign_in(email, "not-the-password")).code
            for _ in range(count)]


def test_PASSWORD_RATE_LIMIT_wrong_passwords_lock_the_password_the_right_one_too(
        clinic: Clinic, people: Cast, clock: FakeClock) -> None:
    limit = clinic.policy.password_max_failures
    assert wrong_passwords(clinic, people.staff.email, limit) == \
        [ErrorCode.INVALID_CREDENTIALS] * limit
    locked = refusal(lambda: clinic.sign_in(people.staff.email, people.staff.password))
    assert locked.code is LOCKED
    assert locked.retry_after == pytest.approx(clinic.policy.password_lockout_seconds)
    assert signed_in(clinic, people.staff2)  # per account: another is not locked
    clock.advance(clinic.policy.password_lockout_seconds)
    assert signed_in(clinic, people.staff)
    assert (Event.LOCKED_OUT, people.staff.email) in {
        (e.event, e.actor) for e in clinic.audit.entries()}


def test_PASSWORD_RATE_LIMIT_the_right_password_resets_the_count(
        clinic: Clinic, people: Cast) -> None:
    limit = clinic.policy.password_max_failures
    for _ in range(3):
        wrong_passwords(clinic, people.staff.email, limit - 1)
        assert signed_in(clinic, people.staff)


def test_PASSWORD_RATE_LIMIT_an_unknown_email_is_throttled_alike(clinic: Clinic) -> None:
    """No enumeration by lock-out: the same answers, in the same order, for nobody."""
    limit = clinic.policy.password_max_failures
    known = wrong_passwords(clinic, CAST_STAFF2, limit + 1)
    unknown = wrong_passwords(clinic, "nobody@clinic.test", limit + 1)
    assert known == unknown == [ErrorCode.INVALID_CREDENTIALS] * limit + [LOCKED]


CAST_STAFF2 = "staff2@clinic.test"


@pytest.mark.parametrize("path", ["regenerate_backup_codes", "disable_2fa"])
def test_PASSWORD_RATE_LIMIT_re_entry_shares_the_count_with_sign_in(
        staff_enrolled: Enrolled, path: str) -> None:
    clinic, token = staff_enrolled.clinic, staff_enrolled.token
    password = staff_enrolled.person.password
    action = getattr(clinic, path)
    limit = clinic.policy.password_max_failures
    for _ in range(limit - 1):
        assert refusal(lambda: action(token, "wrong")).code is ErrorCode.PASSWORD_REQUIRED
    assert refusal(lambda: clinic.sign_in(staff_enrolled.person.email, "wrong")).code is \
        ErrorCode.INVALID_CREDENTIALS  # the limit-th, on the sign-in path
    assert refusal(lambda: action(token, password)).code is LOCKED
    assert staff_enrolled.user.two_factor_enabled


def test_PASSWORD_RATE_LIMIT_parallel_guesses_never_overtake_the_count(
        clinic: Clinic, people: Cast, helpers: type[Helpers]) -> None:
    """Counted before the hash is checked: 3x the limit at once, at most the limit checked."""
    limit = clinic.policy.password_max_failures
    outcomes = helpers.at_once(lambda _: clinic.sign_in(people.staff.email, "wrong"),
                               ["x"] * (3 * limit))
    checked = [o for o in outcomes if o == (ErrorCode.INVALID_CREDENTIALS, None)]
    assert len(checked) <= limit
    assert len(outcomes) - len(checked) >= 2 * limit


# -- RATE-LIMIT-CAP -----------------------------------------------------------------------------


def test_RATE_LIMIT_CAP_passwords_block_after_100_in_a_row_until_unblocked(
        clinic: Clinic, people: Cast, clock: FakeClock) -> None:
    policy = clinic.policy
    failed = 0
    while failed < policy.max_consecutive_failures:
        try:
            clinic.sign_in(people.staff.email, "wrong")
        except TwoFactorError as refused:
            if refused.code is LOCKED:
                clock.advance(policy.password_lockout_seconds)
                continue
            failed += 1
    blocked = refusal(lambda: clinic.sign_in(people.staff.email, people.staff.password))
    assert blocked.code is LOCKED and blocked.retry_after is None
    clock.advance(30 * 24 * 3600)  # waiting alone does not lift it
    assert refusal(lambda: clinic.sign_in(people.staff.email, people.staff.password)).code \
        is LOCKED
    admin = signed_in(clinic, people.admin)
    rows = {r.email: r for r in clinic.staff(admin)}
    assert rows[people.staff.email].sign_in_blocked and not rows[people.admin.email].sign_in_blocked
    staff = signed_in(clinic, people.staff2)
    assert refusal(lambda: clinic.unblock(staff, people.staff.email)).code is \
        ErrorCode.NOT_PERMITTED
    clinic.unblock(admin, people.staff.email)
    assert signed_in(clinic, people.staff)
    assert not {r.email: r for r in clinic.staff(admin)}[people.staff.email].sign_in_blocked


def block_second_step(enrolled: Enrolled, clock: FakeClock) -> str:
    """100 wrong codes in a row across lock-outs; the pending token of the last sign-in."""
    clinic, policy = enrolled.clinic, enrolled.clinic.policy
    failed = 0
    pending = enrolled.pending()
    while failed < policy.max_consecutive_failures:
        try:
            clinic.enter_code(pending, "000000")
        except TwoFactorError as refused:
            if refused.code is LOCKED:
                clock.advance(policy.lockout_seconds)
                pending = enrolled.pending()
                continue
            assert refused.code is ErrorCode.CODE_REJECTED
            failed += 1
    return pending


def test_RATE_LIMIT_CAP_the_second_step_blocks_after_100_in_a_row(
        staff_enrolled: Enrolled, clock: FakeClock, people: Cast) -> None:
    clinic = staff_enrolled.clinic
    block_second_step(staff_enrolled, clock)
    clock.advance(7 * 24 * 3600)
    pending = staff_enrolled.pending()  # the password still works: its own count
    blocked = refusal(lambda: clinic.enter_code(
        pending, staff_enrolled.app.code(staff_enrolled.account)))
    assert blocked.code is LOCKED and blocked.retry_after is None
    assert refusal(lambda: clinic.use_backup_code(
        pending, staff_enrolled.backup_codes[0])).code is LOCKED
    admin = signed_in(clinic, people.admin)
    assert {r.email: r for r in clinic.staff(admin)}[people.staff.email].sign_in_blocked
    assert (Event.BLOCKED, people.staff.email, "second step") in {
        (e.event, e.actor, e.detail) for e in clinic.audit.entries()}


def test_RATE_LIMIT_CAP_an_admin_disabling_2fa_lifts_the_second_step_block(
        staff_enrolled: Enrolled, clock: FakeClock, people: Cast) -> None:
    """TROUBLE-3's path: the owner or an admin acts; the user then sets up 2FA again."""
    clinic = staff_enrolled.clinic
    block_second_step(staff_enrolled, clock)
    clinic.disable_2fa_for(signed_in(clinic, people.admin), people.staff.email)
    token = signed_in(clinic, people.staff)
    app = AuthenticatorApp(clinic.clock.now)
    app.scan(clinic.start_authenticator_setup(token).qr_png)
    clinic.confirm_authenticator(token, app.code())
    pending = clinic.sign_in(people.staff.email, people.staff.password).token
    clock.advance(clinic.policy.period)
    assert clinic.enter_code(pending, app.code()).stage is Stage.SIGNED_IN


# -- SIGNIN-NO-ENUMERATION ----------------------------------------------------------------------


class CountingHasher(Hasher):
    verifications = 0

    def verify(self, stored: str, candidate: str) -> bool:
        CountingHasher.verifications += 1
        return super().verify(stored, candidate)


def test_SIGNIN_NO_ENUMERATION_an_unknown_email_costs_one_verification_too(
        clinic: Clinic, people: Cast) -> None:
    clinic._hasher = CountingHasher(clinic.policy.hash_cost)
    for email in ("nobody@clinic.test", people.staff.email):
        CountingHasher.verifications = 0
        assert refusal(lambda e=email: clinic.sign_in(e, "wrong")).message == \
            "Wrong email or password."
        assert CountingHasher.verifications == 1


# -- TOTP-SKEW-NO-ORACLE ------------------------------------------------------------------------


def test_TOTP_SKEW_NO_ORACLE_a_skewed_code_is_refused_when_its_step_comes(
        staff_enrolled: Enrolled, clock: FakeClock, helpers: type[Helpers]) -> None:
    clinic = staff_enrolled.clinic
    helpers.next_step(clinic)
    ahead = 4
    skewed = staff_enrolled.code_steps_away(ahead)
    pending = staff_enrolled.pending()
    assert refusal(lambda: clinic.enter_code(pending, skewed)).reason is Reason.TIME_SKEW
    # the phone is put right: its current code signs in at once
    now = clinic.enter_code(pending, staff_enrolled.code_steps_away(0))
    assert now.stage is Stage.SIGNED_IN
    clock.advance(ahead * clinic.policy.period)
    later = staff_enrolled.pending()
    assert (refusal(lambda: clinic.enter_code(later, skewed)).reason is Reason.ALREADY_USED)
    assert clinic.enter_code(later, staff_enrolled.code_steps_away(1)).stage is Stage.SIGNED_IN


def test_TOTP_SKEW_NO_ORACLE_the_remembered_steps_stay_few(
        staff_enrolled: Enrolled, clock: FakeClock, helpers: type[Helpers]) -> None:
    clinic = staff_enrolled.clinic
    spare = iter(staff_enrolled.backup_codes)
    for turn in range(36):  # skewed guesses, a step apart: only steps still ahead are kept
        helpers.next_step(clinic)
        pending = staff_enrolled.pending()
        refusal(lambda p=pending: clinic.enter_code(p, staff_enrolled.code_steps_away(3)))
        if turn % 4 == 3:  # a success now and then, so TOTP-RATE-LIMIT never locks
            clinic.use_backup_code(pending, next(spare))
    # from the window's first step (now - window) to the last guess's (now + 3)
    assert len(staff_enrolled.user.skewed_steps) <= 3 + clinic.policy.window + 1


def test_TOTP_SKEW_NO_ORACLE_a_later_skew_keeps_a_step_still_in_the_window(
        staff_enrolled: Enrolled, clock: FakeClock, helpers: type[Helpers]) -> None:
    """A second skewed guess once the first one's step is the window's step before: the first
    code is still refused (found by mutation analysis: the floor once dropped that step)."""
    clinic = staff_enrolled.clinic
    helpers.next_step(clinic)
    ahead = 4
    skewed = staff_enrolled.code_steps_away(ahead)
    pending = staff_enrolled.pending()
    assert refusal(lambda: clinic.enter_code(pending, skewed)).reason is Reason.TIME_SKEW
    clock.advance((ahead + 1) * clinic.policy.period)  # its step is now the one before
    assert refusal(lambda: clinic.enter_code(pending, staff_enrolled.code_steps_away(ahead))
                   ).reason is Reason.TIME_SKEW
    assert refusal(lambda: clinic.enter_code(pending, skewed)).reason is Reason.ALREADY_USED


# -- TOTP-ASCII-DIGITS --------------------------------------------------------------------------

SCRIPTS = {"full-width": 0xFF10, "Arabic-Indic": 0x0660, "Devanagari": 0x0966}
SUPERSCRIPT = str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹")


@pytest.mark.parametrize("script", [*SCRIPTS, "superscript"])
def test_TOTP_ASCII_DIGITS_other_scripts_digits_are_malformed_even_for_the_right_code(
        staff_enrolled: Enrolled, helpers: type[Helpers], script: str) -> None:
    clinic = staff_enrolled.clinic
    helpers.next_step(clinic)
    right = staff_enrolled.code_steps_away(0)
    typed = right.translate(SUPERSCRIPT) if script == "superscript" else "".join(
        chr(SCRIPTS[script] + int(d)) for d in right)
    pending = staff_enrolled.pending()
    refused = refusal(lambda: clinic.enter_code(pending, typed))
    assert (refused.code, refused.reason) == (ErrorCode.CODE_REJECTED, Reason.MALFORMED)
    assert clinic.enter_code(pending, right).stage is Stage.SIGNED_IN  # ASCII: accepted
