"""Properties of the reference under generated inputs (hypothesis, "ci" profile in conftest).

(a) TOTP-WINDOW / TOTP-REPLAY / SKEW-REASON: a code from any step is judged as a small model says.
(b) BACKUP-SINGLE-USE / BACKUP-REGENERATE: uses and regenerations in any order, against a model.
(c) SIGNIN-PENDING-GRANTS-NOTHING: no sequence short of the right second step opens anything.
Time moves only through the FakeClock; every clinic uses FAST_HASH.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pytest
from hypothesis import assume, event, given, note
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    multiple,
    rule,
    run_state_machine_as_test,
)

from clinic2fa.simulator.backup_codes import ALPHABET
from clinic2fa.simulator.clinic import Clinic, Stage
from clinic2fa.simulator.clock import FakeClock
from clinic2fa.simulator.errors import ErrorCode, Reason, TwoFactorError

if TYPE_CHECKING:
    from conftest import Cast, Enrolled, Helpers

PERIOD = 30

# -- (a) the window, the skew horizon and replay ------------------------------------------------


@given(window=st.integers(0, 3), offset=st.integers(-14, 14), gap=st.integers(0, 30),
       within=st.floats(0, PERIOD, exclude_max=True, allow_nan=False))
def test_TOTP_WINDOW_property_any_step_judged_like_the_model(
        helpers: type[Helpers], people: Cast, window: int, offset: int, gap: int,
        within: float) -> None:
    """Inside the window and after the last used step: accepted exactly once. Otherwise the
    refusal says why: time_skew up to the skew horizon, wrong_code beyond, already_used for
    steps not later than the enrolment's."""
    clock = FakeClock()
    clinic = helpers.build_clinic(clock, window=window)
    enrolled = helpers.enrol(clinic, people.staff)
    enrolled_step = int(clock.now() // PERIOD)
    clock.advance(gap * PERIOD + within)
    now_step = int(clock.now() // PERIOD)
    reach = max(window, clinic.policy.skew_horizon)
    code = enrolled.app.code_at_step(now_step + offset)
    others = {enrolled.app.code_at_step(s) for s in range(now_step - reach, now_step + reach + 1)
              if s != now_step + offset}
    assume(code not in others)  # a 6-digit collision would make the step ambiguous (p ~ 1e-5)

    if abs(offset) > reach:
        expected: object = (ErrorCode.CODE_REJECTED, Reason.WRONG_CODE)
    elif abs(offset) > window:
        expected = (ErrorCode.CODE_REJECTED, Reason.TIME_SKEW)
    elif now_step + offset <= enrolled_step:
        expected = (ErrorCode.CODE_REJECTED, Reason.ALREADY_USED)
    else:
        expected = Stage.SIGNED_IN
    note(f"now_step={now_step} offset={offset} expected={expected}")
    event(f"expected {expected}")
    assert submit(enrolled, code) == expected
    if expected is Stage.SIGNED_IN:  # exactly once
        assert submit(enrolled, code) == (ErrorCode.CODE_REJECTED, Reason.ALREADY_USED)


def submit(enrolled: Enrolled, code: str) -> object:
    """A fresh password sign-in, then the code: the stage reached or (code, reason) refused."""
    try:
        return enrolled.clinic.enter_code(enrolled.pending(), code).stage
    except TwoFactorError as refusal:
        return (refusal.code, refusal.reason)


# -- (b) backup codes under any interleaving ----------------------------------------------------

SPELLINGS = st.sampled_from([
    lambda c: c,
    str.upper,
    lambda c: c.replace("-", ""),
    lambda c: f" {c[:5]} {c[6:]} ",
])
MADE_UP = st.one_of(
    st.text(alphabet=ALPHABET + "-", min_size=10, max_size=11),
    st.text(max_size=14),
)


def normal(code: str) -> str:
    """The model's matching rule: ignore case, spaces and hyphens (BACKUP-SINGLE-USE notes)."""
    return "".join(code.split()).replace("-", "").lower()


class BackupCodeMachine(RuleBasedStateMachine):
    """The clinic against a model: a set of valid codes, a failure count and a lock-out end."""

    issued = Bundle("issued")

    def __init__(self, helpers: type[Helpers], people: Cast) -> None:
        super().__init__()
        self.clock = FakeClock()
        # The settings session must outlive any run of waits; nothing else depends on it.
        self.clinic: Clinic = helpers.build_clinic(self.clock, session_ttl=10**9)
        self.person = people.staff
        self.enrolled = helpers.enrol(self.clinic, people.staff)
        self.valid: set[str] = set()
        self.ever: set[str] = set()
        self.failures = 0
        self.in_a_row = 0  # RATE-LIMIT-CAP: across lock-outs
        self.locked_until = 0.0
        self.passwords = PasswordModel(self.clinic)

    @initialize(target=issued)
    def first_codes(self) -> object:
        self.valid = set(self.enrolled.backup_codes)
        self.ever |= self.valid
        return multiple(*self.enrolled.backup_codes)

    @rule(target=issued)
    def regenerate(self) -> object:
        if self.passwords.locked(self.clock.now()):  # PASSWORD-RATE-LIMIT: the right one too
            try:
                self.clinic.regenerate_backup_codes(self.enrolled.token, self.person.password)
            except TwoFactorError as refusal:
                assert refusal.code is ErrorCode.LOCKED_OUT
            else:
                raise AssertionError("regenerated while password checks were locked out")
            return multiple()
        codes = self.clinic.regenerate_backup_codes(self.enrolled.token, self.person.password)
        self.passwords.right()
        assert len(codes) == 10 and len(set(codes)) == 10
        assert not set(codes) & self.ever, "a regenerated code repeats an earlier one"
        self.valid = set(codes)
        self.ever |= self.valid
        return multiple(*codes)

    @rule(password=st.text(max_size=12))
    def regenerate_with_wrong_password(self, password: str) -> None:
        assume(password != self.person.password)
        locked = self.passwords.locked(self.clock.now())
        try:
            self.clinic.regenerate_backup_codes(self.enrolled.token, password)
        except TwoFactorError as refusal:
            assert refusal.code is (ErrorCode.LOCKED_OUT if locked else
                                    ErrorCode.PASSWORD_REQUIRED)
        else:
            raise AssertionError("regenerated without the password")
        if not locked:
            self.passwords.wrong(self.clock.now())

    @rule(code=issued, spelling=SPELLINGS)
    def use_issued(self, code: str, spelling: Callable[[str], str]) -> None:
        self.use(spelling(code))

    @rule(typed=MADE_UP)
    def use_made_up(self, typed: str) -> None:
        self.use(typed)

    @rule(seconds=st.integers(0, 1200))
    def wait(self, seconds: int) -> None:
        self.clock.advance(seconds)

    def use(self, typed: str) -> None:
        if self.passwords.locked(self.clock.now()):  # not even the password step is open
            with pytest.raises(TwoFactorError) as refused:
                self.enrolled.pending()
            assert refused.value.code is ErrorCode.LOCKED_OUT
            return
        pending = self.enrolled.pending()
        self.passwords.right()
        match = next((c for c in self.valid if normal(c) == normal(typed)), None)
        try:
            outcome: object = self.clinic.use_backup_code(pending, typed).stage
        except TwoFactorError as refusal:
            outcome = (refusal.code, refusal.reason)
        now = self.clock.now()
        event(f"use -> {outcome}")
        if now < self.locked_until or self.in_a_row >= self.clinic.policy.max_consecutive_failures:
            assert outcome == (ErrorCode.LOCKED_OUT, None)
        elif match is not None:
            assert outcome is Stage.SIGNED_IN
            self.valid.discard(match)
            self.failures = self.in_a_row = 0
        else:
            assert outcome == (ErrorCode.CODE_REJECTED, Reason.WRONG_CODE)
            self.failures += 1
            self.in_a_row += 1
            if self.failures >= self.clinic.policy.max_failures:
                self.failures, self.locked_until = 0, now + self.clinic.policy.lockout_seconds

    @invariant()
    def count_agrees(self) -> None:
        assert self.enrolled.user.backup_codes_left == len(self.valid)
        assert self.clinic.security(self.enrolled.token).backup_codes_left == len(self.valid)


def test_BACKUP_SINGLE_USE_property_any_interleaving_of_uses_and_regenerations(
        helpers: type[Helpers], people: Cast) -> None:
    run_state_machine_as_test(lambda: BackupCodeMachine(helpers, people))


# -- (c) a pending sign-in never grants access --------------------------------------------------

PROTECTED = ["profile", "security", "start_setup", "confirm_setup", "regenerate_backup_codes",
             "disable_2fa", "set_enforcement", "clear_enforcement", "staff", "disable_2fa_for"]
PICK = st.integers(0, 7)  # which pending sign-in an action uses (modulo how many there are)
ACTION = st.one_of(
    st.tuples(st.just("protected"), PICK, st.sampled_from(PROTECTED)),
    st.tuples(st.just("step_code"), PICK, st.integers(-12, 12)),
    st.tuples(st.just("typed_code"), PICK, st.text(alphabet="0123456789 x", max_size=8)),
    st.tuples(st.just("enrolment_code"), PICK, st.none()),
    st.tuples(st.just("spent_backup"), PICK, st.none()),
    st.tuples(st.just("made_up_backup"), PICK, MADE_UP),
    st.tuples(st.just("wait"), PICK, st.integers(0, 400)),
    st.tuples(st.just("sign_in_again"), PICK, st.none()),
    st.tuples(st.just("wrong_password"), PICK, st.text(max_size=10)),
    st.tuples(st.just("sign_out"), PICK, st.none()),
)


class PasswordModel:
    """PASSWORD-RATE-LIMIT and RATE-LIMIT-CAP as the model sees one account's password."""

    def __init__(self, clinic: Clinic) -> None:
        self.policy = clinic.policy
        self.failures = self.in_a_row = 0
        self.locked_until = 0.0

    def locked(self, now: float) -> bool:
        return now < self.locked_until or self.in_a_row >= self.policy.max_consecutive_failures

    def wrong(self, now: float) -> None:
        self.failures += 1
        self.in_a_row += 1
        if self.failures >= self.policy.password_max_failures:
            self.failures, self.locked_until = 0, now + self.policy.password_lockout_seconds

    def right(self) -> None:
        self.failures = self.in_a_row = 0


@dataclass
class Pending:
    """A pending sign-in as the model sees it."""

    token: str
    expires_at: float
    gone: bool = False

    def expected_refusal(self, now: float) -> set[ErrorCode]:
        """What any access must answer now, and mark the sign-in gone once expiry is seen."""
        if self.gone:
            return {ErrorCode.NOT_SIGNED_IN}
        if now >= self.expires_at:
            self.gone = True
            return {ErrorCode.SIGN_IN_EXPIRED}
        return set()


@given(actions=st.lists(ACTION, max_size=25))
def test_SIGNIN_PENDING_GRANTS_NOTHING_property_no_sequence_opens_anything(
        helpers: type[Helpers], people: Cast, actions: list[tuple[str, int, object]]) -> None:
    clock = FakeClock()
    clinic = helpers.build_clinic(clock)
    owner = helpers.enrol(clinic, people.owner)
    spent = owner.backup_codes[0]
    done = clinic.use_backup_code(owner.pending(), spent)  # one backup code already used
    for full in (done.token, owner.token):  # from here on, no session is past the second step
        clinic.sign_out(full)
    enrolled_step = int(clock.now() // PERIOD)
    ttl = clinic.policy.pending_ttl
    pendings = [Pending(owner.pending(), clock.now() + ttl)]
    passwords = PasswordModel(clinic)

    def acceptable_codes() -> set[str]:
        """The codes that would be the correct second step right now: excluded by definition."""
        now_step = int(clock.now() // PERIOD)
        return {owner.app.code_at_step(s) for s in range(now_step - 1, now_step + 2)
                if s > enrolled_step}

    def second_step(pending: Pending, attempt: Callable[[], object]) -> None:
        expected = pending.expected_refusal(clock.now()) or {ErrorCode.CODE_REJECTED,
                                                             ErrorCode.LOCKED_OUT}
        try:
            reached = attempt()
        except TwoFactorError as refusal:
            event(f"second step refused: {refusal.code}")
            assert refusal.code in expected, (refusal.code, expected)
        else:
            raise AssertionError(f"a wrong second step signed in: {reached}")

    def everything_refused() -> None:
        for pending in pendings:
            for name, attempt in helpers.protected_actions(clinic, pending.token,
                                                           people.owner).items():
                expected = pending.expected_refusal(clock.now()) or {
                    ErrorCode.SECOND_STEP_REQUIRED}
                code, _ = helpers.refused(attempt)
                assert code in expected, (name, code, expected)

    for kind, pick, arg in actions:
        pending = pendings[pick % len(pendings)]
        if kind == "protected":
            attempt = helpers.protected_actions(clinic, pending.token, people.owner)[str(arg)]
            expected = pending.expected_refusal(clock.now()) or {ErrorCode.SECOND_STEP_REQUIRED}
            assert helpers.refused(attempt)[0] in expected
        elif kind in ("step_code", "typed_code", "enrolment_code"):
            if kind == "step_code":
                code = owner.app.code_at_step(int(clock.now() // PERIOD) + int(str(arg)))
            else:
                code = owner.confirm_code if kind == "enrolment_code" else str(arg)
            if "".join(code.split()) in acceptable_codes():
                continue  # that would be the correct second step
            second_step(pending, lambda c=code, p=pending: clinic.enter_code(p.token, c))
        elif kind in ("spent_backup", "made_up_backup"):
            typed = spent if kind == "spent_backup" else str(arg)
            if normal(typed) in {normal(c) for c in owner.backup_codes[1:]}:
                continue  # an unused backup code would be a correct second step
            second_step(pending, lambda t=typed, p=pending: clinic.use_backup_code(p.token, t))
        elif kind == "wait":
            clock.advance(int(str(arg)))
        elif kind == "sign_in_again":
            if passwords.locked(clock.now()):
                assert helpers.refused(lambda: owner.pending())[0] is ErrorCode.LOCKED_OUT
            else:
                pendings.append(Pending(owner.pending(), clock.now() + ttl))
                passwords.right()
        elif kind == "wrong_password":
            if str(arg) == people.owner.password:
                continue
            expected = ErrorCode.LOCKED_OUT if passwords.locked(clock.now()) else \
                ErrorCode.INVALID_CREDENTIALS
            assert helpers.refused(lambda a=arg: clinic.sign_in(people.owner.email, str(a))) == (
                expected, None)
            if expected is ErrorCode.INVALID_CREDENTIALS:
                passwords.wrong(clock.now())
        elif kind == "sign_out":
            clinic.sign_out(pending.token)
            pending.gone = True
        everything_refused()

    everything_refused()
    signed_in = [s for s in clinic._sessions.values() if s.stage is Stage.SIGNED_IN]
    assert not signed_in, "some session got past the second step"
    record = helpers.user_record(clinic, people.owner.email)
    assert record.two_factor_enabled and record.totp_secret == owner.account.secret
    assert record.backup_codes_left == 9 and record.pending_secret is None
    assert not clinic.enforcement_required
    assert all(helpers.user_record(clinic, p.email).password_hash for p in people.all())
