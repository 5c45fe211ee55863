"""The 6-digit code at the second step: step, window, replay, rate limit, skew reason."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

import pytest

from clinic2fa.simulator.clinic import Clinic, Stage
from clinic2fa.simulator.clock import FakeClock
from clinic2fa.simulator.errors import ErrorCode, Reason, TwoFactorError
from clinic2fa.simulator.totp import TotpParams
from clinic2fa.simulator.users import User

if TYPE_CHECKING:
    from conftest import Cast, Enrolled, Helpers

REJECTED = ErrorCode.CODE_REJECTED
LOCKED = (ErrorCode.LOCKED_OUT, None)


def enrolled_long_ago(clinic: Clinic, people: Cast, helpers: type[Helpers]) -> Enrolled:
    """Staff enrolled 20 steps ago, so every step near now is later than the last one used."""
    enrolled = helpers.enrol(clinic, people.staff)
    helpers.fake_clock(clinic).advance(20 * clinic.policy.period)
    return enrolled


def attempt(enrolled: Enrolled, steps: int) -> Stage:
    """A fresh sign-in, then the app's code from `steps` steps away from the server's now."""
    token = enrolled.pending()
    return enrolled.clinic.enter_code(token, enrolled.code_steps_away(steps)).stage


def wrong(enrolled: Enrolled) -> str:
    """A well-formed code that is no step's code near now (checked, not assumed)."""
    near = {enrolled.code_steps_away(d) for d in range(-11, 12)}
    return next(c for c in (f"{n:06d}" for n in range(1_000_000)) if c not in near)


# -- TOTP-STEP ----------------------------------------------------------------------------------


def test_TOTP_STEP_reference_uses_sha1_6_digits_30_seconds(clinic: Clinic) -> None:
    assert clinic.params == TotpParams(algorithm="SHA1", digits=6, period=30)


def test_TOTP_STEP_steps_are_30_seconds_from_the_epoch(
        clock: FakeClock, make_clinic: Callable[..., Clinic], people: Cast,
        helpers: type[Helpers]) -> None:
    """With a zero window the boundary is visible: a code lives exactly [30k, 30k + 30).

    Two users, since a code refused as skew is never accepted later (TOTP-SKEW-NO-ORACLE)."""
    clinic = make_clinic(clock, window=0)
    enrolled = helpers.enrol(clinic, people.staff)
    other = helpers.enrol(clinic, people.staff2)
    k = int(clock.now() // 30) + 5
    clock.set(k * 30 + 29.999)
    assert enrolled.clinic.enter_code(enrolled.pending(),
                                      enrolled.app.code_at_step(k)).stage is Stage.SIGNED_IN
    early = enrolled.app.code_at_step(k + 1)
    assert helpers.refused(lambda: clinic.enter_code(enrolled.pending(), early)) == (
        REJECTED, Reason.TIME_SKEW)
    clock.set((k + 1) * 30)
    assert clinic.enter_code(other.pending(),
                             other.app.code_at_step(k + 1)).stage is Stage.SIGNED_IN


@pytest.mark.parametrize("typed", ["12345", "1234567", "12345678", "abcdef", "12-34-56"])
def test_TOTP_STEP_only_6_digit_codes_are_read(clinic: Clinic, people: Cast,
                                               helpers: type[Helpers], typed: str) -> None:
    enrolled = enrolled_long_ago(clinic, people, helpers)
    token = enrolled.pending()
    assert helpers.refused(lambda: clinic.enter_code(token, typed)) == (REJECTED, Reason.MALFORMED)


def test_TOTP_STEP_code_typed_with_a_space_is_accepted(clinic: Clinic, people: Cast,
                                                       helpers: type[Helpers]) -> None:
    enrolled = enrolled_long_ago(clinic, people, helpers)
    code = enrolled.code_steps_away(0)
    assert clinic.enter_code(enrolled.pending(), f" {code[:3]} {code[3:]} ") is not None


# -- TOTP-WINDOW --------------------------------------------------------------------------------


@pytest.mark.parametrize("steps", [-1, 0, 1])
def test_TOTP_WINDOW_one_step_each_way_is_accepted(clinic: Clinic, people: Cast,
                                                   helpers: type[Helpers], steps: int) -> None:
    enrolled = enrolled_long_ago(clinic, people, helpers)
    assert attempt(enrolled, steps) is Stage.SIGNED_IN


@pytest.mark.parametrize("steps", [-2, 2])
def test_TOTP_WINDOW_two_steps_away_is_refused(clinic: Clinic, people: Cast,
                                               helpers: type[Helpers], steps: int) -> None:
    enrolled = enrolled_long_ago(clinic, people, helpers)
    assert helpers.refused(lambda: attempt(enrolled, steps)) == (REJECTED, Reason.TIME_SKEW)
    assert attempt(enrolled, 0) is Stage.SIGNED_IN  # the refusal did not consume anything


@pytest.mark.parametrize(("window", "inside", "outside"), [(0, [0], [-1, 1]),
                                                           (2, [-2, -1, 0, 1, 2], [-3, 3]),
                                                           (3, [-3, 3], [-4, 4])])
def test_TOTP_WINDOW_follows_policy_window(
        clock: FakeClock, make_clinic: Callable[..., Clinic], people: Cast,
        helpers: type[Helpers], window: int, inside: list[int], outside: list[int]) -> None:
    for steps in inside:
        enrolled = enrolled_long_ago(make_clinic(clock, window=window), people, helpers)
        assert attempt(enrolled, steps) is Stage.SIGNED_IN, steps
    for steps in outside:
        enrolled = enrolled_long_ago(make_clinic(clock, window=window), people, helpers)
        assert helpers.refused(lambda e=enrolled, s=steps: attempt(e, s)) == (
            REJECTED, Reason.TIME_SKEW), steps


# -- TOTP-REPLAY --------------------------------------------------------------------------------


def test_TOTP_REPLAY_code_accepted_once(clinic: Clinic, people: Cast,
                                        helpers: type[Helpers]) -> None:
    enrolled = enrolled_long_ago(clinic, people, helpers)
    code = enrolled.code_steps_away(0)
    assert clinic.enter_code(enrolled.pending(), code).stage is Stage.SIGNED_IN
    second = enrolled.pending()
    assert helpers.refused(lambda: clinic.enter_code(second, code)) == (
        REJECTED, Reason.ALREADY_USED)
    assert helpers.refused(lambda: clinic.profile(second)) == (
        ErrorCode.SECOND_STEP_REQUIRED, None)


def test_TOTP_REPLAY_enrolment_code_cannot_sign_in(clinic: Clinic, people: Cast,
                                                   helpers: type[Helpers]) -> None:
    enrolled = helpers.enrol(clinic, people.staff)
    token = enrolled.pending()  # same time step as the confirmation
    assert helpers.refused(lambda: clinic.enter_code(token, enrolled.confirm_code)) == (
        REJECTED, Reason.ALREADY_USED)


def test_TOTP_REPLAY_older_step_refused_after_a_newer_one(clinic: Clinic, people: Cast,
                                                          helpers: type[Helpers]) -> None:
    """Only steps later than the last accepted one pass, even inside the window."""
    enrolled = enrolled_long_ago(clinic, people, helpers)
    assert attempt(enrolled, 1) is Stage.SIGNED_IN
    for steps in (0, -1):
        assert helpers.refused(lambda s=steps: attempt(enrolled, s)) == (
            REJECTED, Reason.ALREADY_USED), steps
    helpers.fake_clock(clinic).advance(60)  # two steps on: the old "+1" is now "-1", still used
    assert helpers.refused(lambda: attempt(enrolled, -1)) == (REJECTED, Reason.ALREADY_USED)
    assert attempt(enrolled, 0) is Stage.SIGNED_IN


class RendezvousUser(User):
    """A User whose `last_step` reads meet at a barrier, so unlocked checks would interleave.

    Without the clinic's lock every thread reads the old last step before any writes the new
    one, and the race shows every time; with the lock the first reader waits out the short
    rendezvous alone (the others are queued on the lock) and the rest pass straight through.
    """

    rendezvous: threading.Barrier | None = None

    @property  # type: ignore[override]
    def last_step(self) -> int:
        value = int(self.__dict__["last_step"])  # read first, then let the others catch up
        barrier = type(self).rendezvous
        if barrier is not None and threading.current_thread() is not threading.main_thread():
            with contextlib.suppress(threading.BrokenBarrierError):
                barrier.wait(timeout=0.05)
        return value

    @last_step.setter
    def last_step(self, value: int) -> None:
        self.__dict__["last_step"] = value


def test_TOTP_REPLAY_concurrent_submissions_of_one_code_succeed_once(
        clinic: Clinic, people: Cast, helpers: type[Helpers],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The check and the update are atomic: of parallel sign-ins with one code, one wins."""
    enrolled = enrolled_long_ago(clinic, people, helpers)
    code = enrolled.code_steps_away(0)
    tokens = [enrolled.pending() for _ in range(4)]  # 3 refusals: under the lock-out limit
    monkeypatch.setattr(RendezvousUser, "rendezvous", threading.Barrier(len(tokens)))
    monkeypatch.setattr(enrolled.user, "__class__", RendezvousUser)
    outcomes = helpers.at_once(lambda token: clinic.enter_code(token, code), tokens)
    assert outcomes.count(Stage.SIGNED_IN) == 1
    assert outcomes.count((REJECTED, Reason.ALREADY_USED)) == len(tokens) - 1


# -- TOTP-RATE-LIMIT ----------------------------------------------------------------------------


def fail(enrolled: Enrolled, token: str, times: int) -> None:
    for _ in range(times):
        code = wrong(enrolled)
        with pytest.raises(TwoFactorError) as exc:
            enrolled.clinic.enter_code(token, code)
        assert (exc.value.code, exc.value.reason) == (REJECTED, Reason.WRONG_CODE)


def test_TOTP_RATE_LIMIT_five_wrong_codes_lock_out_even_the_right_code(
        clinic: Clinic, people: Cast, helpers: type[Helpers]) -> None:
    enrolled = enrolled_long_ago(clinic, people, helpers)
    token = enrolled.pending()
    fail(enrolled, token, 5)
    right = enrolled.code_steps_away(0)
    assert helpers.refused(lambda: clinic.enter_code(token, right)) == LOCKED
    assert helpers.refused(lambda: clinic.enter_code(enrolled.pending(), right)) == LOCKED


def test_TOTP_RATE_LIMIT_four_wrong_codes_do_not_lock(clinic: Clinic, people: Cast,
                                                      helpers: type[Helpers]) -> None:
    enrolled = enrolled_long_ago(clinic, people, helpers)
    token = enrolled.pending()
    fail(enrolled, token, 4)
    assert clinic.enter_code(token, enrolled.code_steps_away(0)).stage is Stage.SIGNED_IN


def test_TOTP_RATE_LIMIT_counts_per_user_across_sign_ins(clinic: Clinic, people: Cast,
                                                         helpers: type[Helpers]) -> None:
    """A new sign-in every few guesses must not reset the count (RFC 4226 s7.3)."""
    enrolled = enrolled_long_ago(clinic, people, helpers)
    for times in (2, 2, 1):
        fail(enrolled, enrolled.pending(), times)
    right = enrolled.code_steps_away(0)
    assert helpers.refused(lambda: clinic.enter_code(enrolled.pending(), right)) == LOCKED


def test_TOTP_RATE_LIMIT_lock_is_per_user(clinic: Clinic, people: Cast,
                                          helpers: type[Helpers]) -> None:
    enrolled = enrolled_long_ago(clinic, people, helpers)
    other = helpers.enrol(clinic, people.staff2)
    helpers.next_step(clinic)
    fail(enrolled, enrolled.pending(), 5)
    assert clinic.enter_code(other.pending(), other.code_steps_away(0)).stage is Stage.SIGNED_IN


def test_TOTP_RATE_LIMIT_success_resets_the_count(clinic: Clinic, people: Cast,
                                                  helpers: type[Helpers]) -> None:
    enrolled = enrolled_long_ago(clinic, people, helpers)
    fail(enrolled, enrolled.pending(), 4)
    assert attempt(enrolled, 0) is Stage.SIGNED_IN
    helpers.next_step(clinic)
    token = enrolled.pending()
    fail(enrolled, token, 4)
    assert clinic.enter_code(token, enrolled.code_steps_away(0)).stage is Stage.SIGNED_IN


def test_TOTP_RATE_LIMIT_lock_ends_after_lockout_seconds(clinic: Clinic, people: Cast,
                                                         helpers: type[Helpers]) -> None:
    enrolled = enrolled_long_ago(clinic, people, helpers)
    clock = helpers.fake_clock(clinic)
    fail(enrolled, enrolled.pending(), 5)
    clock.advance(clinic.policy.lockout_seconds - 1)
    assert clinic.policy.lockout_seconds == 15 * 60
    assert helpers.refused(lambda: attempt(enrolled, 0)) == LOCKED
    clock.advance(1)
    assert attempt(enrolled, 0) is Stage.SIGNED_IN


def test_TOTP_RATE_LIMIT_follows_policy(
        clock: FakeClock, make_clinic: Callable[..., Clinic], people: Cast,
        helpers: type[Helpers]) -> None:
    clinic = make_clinic(clock, max_failures=2, lockout_seconds=60)
    enrolled = enrolled_long_ago(clinic, people, helpers)
    fail(enrolled, enrolled.pending(), 2)
    assert helpers.refused(lambda: attempt(enrolled, 0)) == LOCKED
    clock.advance(60)
    assert attempt(enrolled, 0) is Stage.SIGNED_IN


def test_TOTP_RATE_LIMIT_covers_backup_codes(clinic: Clinic, people: Cast,
                                             helpers: type[Helpers]) -> None:
    """Wrong backup codes count too, and a lock refuses a valid backup code without spending it."""
    enrolled = enrolled_long_ago(clinic, people, helpers)
    token = enrolled.pending()
    fail(enrolled, token, 3)
    for _ in range(2):
        assert helpers.refused(lambda: clinic.use_backup_code(token, "aaaaa-aaaaa")) == (
            REJECTED, Reason.WRONG_CODE)
    assert helpers.refused(lambda: clinic.use_backup_code(token, enrolled.backup_codes[0])) == (
        LOCKED)
    assert enrolled.user.backup_codes_left == 10


def test_TOTP_RATE_LIMIT_skewed_and_replayed_codes_count_as_failures(
        clinic: Clinic, people: Cast, helpers: type[Helpers]) -> None:
    enrolled = enrolled_long_ago(clinic, people, helpers)
    assert attempt(enrolled, 1) is Stage.SIGNED_IN
    token = enrolled.pending()
    for steps in (0, -1):  # replays
        with pytest.raises(TwoFactorError):
            clinic.enter_code(token, enrolled.code_steps_away(steps))
    for steps in (3, 4, 5):  # skew
        with pytest.raises(TwoFactorError):
            clinic.enter_code(token, enrolled.code_steps_away(steps))
    helpers.fake_clock(clinic).advance(60)
    assert helpers.refused(lambda: attempt(enrolled, 0)) == LOCKED


# -- SKEW-REASON --------------------------------------------------------------------------------


@pytest.mark.parametrize("offset_steps", [2, -2, 10, -10])
def test_SKEW_REASON_phone_clock_off_is_reported_as_time_skew(
        clinic: Clinic, people: Cast, helpers: type[Helpers], offset_steps: int) -> None:
    """TROUBLE-2: '6-digit code rejected' -> 'Sync your phone's clock'."""
    enrolled = enrolled_long_ago(clinic, people, helpers)
    enrolled.app.offset = offset_steps * 30
    token = enrolled.pending()
    with pytest.raises(TwoFactorError) as exc:
        clinic.enter_code(token, enrolled.app.code(enrolled.account))
    assert (exc.value.code, exc.value.reason) == (REJECTED, Reason.TIME_SKEW)
    assert "Sync your phone's clock" in exc.value.message
    assert helpers.refused(lambda: clinic.profile(token)) == (ErrorCode.SECOND_STEP_REQUIRED, None)
    enrolled.app.sync_clock()
    assert clinic.enter_code(token, enrolled.app.code(enrolled.account)).stage is Stage.SIGNED_IN


@pytest.mark.parametrize("steps", [-11, 11, -40])
def test_SKEW_REASON_beyond_the_skew_horizon_is_just_wrong(
        clinic: Clinic, people: Cast, helpers: type[Helpers], steps: int) -> None:
    enrolled = enrolled_long_ago(clinic, people, helpers)
    assert helpers.refused(lambda: attempt(enrolled, steps)) == (REJECTED, Reason.WRONG_CODE)
