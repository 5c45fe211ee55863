"""argon2 in parallel and outside the clinic's lock, without giving up a rule to a race."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import pytest
from argon2 import PasswordHasher
from argon2.exceptions import VerificationError

from clinic2fa.simulator import backup_codes
from clinic2fa.simulator.clinic import Clinic, Stage
from clinic2fa.simulator.errors import ErrorCode, Reason, TwoFactorError
from clinic2fa.simulator.hashing import Hasher
from clinic2fa.simulator.policy import FAST_HASH

if TYPE_CHECKING:
    from conftest import Cast, Enrolled, Helpers

WRONG = (ErrorCode.CODE_REJECTED, Reason.WRONG_CODE)


# -- the Hasher -----------------------------------------------------------------------------------


def test_hash_many_gives_standard_argon2id_hashes_in_order() -> None:
    secrets = [f"secret-{n}" for n in range(7)]
    hashes = Hasher(FAST_HASH).hash_many(secrets)
    assert len(hashes) == len(secrets)
    assert len({h.split("$")[4] for h in hashes}) == len(secrets), "each has its own salt"
    for secret, stored in zip(secrets, hashes, strict=True):
        assert stored.startswith("$argon2id$")
        assert PasswordHasher().verify(stored, secret)
        with pytest.raises(VerificationError):
            PasswordHasher().verify(stored, secret + "x")


def test_first_match_finds_the_one_hash_and_skips_spent_slots() -> None:
    hasher = Hasher(FAST_HASH)
    stored: list[str | None] = list(hasher.hash_many([f"code{n}" for n in range(6)]))
    stored[1] = None  # spent
    assert hasher.first_match(stored, "code4") == 4
    assert hasher.first_match(stored, "code0") == 0
    assert hasher.first_match(stored, "code1") is None
    assert hasher.first_match(stored, "nothing") is None
    assert hasher.first_match([], "code0") is None
    assert hasher.first_match([None, "not a hash"], "code0") is None


class Counting(Hasher):
    """Counts the argon2 verifications it runs."""

    def __init__(self) -> None:
        super().__init__(FAST_HASH)
        self.verified = 0

    def _verify(self, stored: str, candidate: str) -> bool:
        self.verified += 1
        return super()._verify(stored, candidate)


def test_a_backup_code_use_verifies_one_hash_right_or_wrong() -> None:
    """Ten codes: a use verifies only the hashes its tag points at, never all ten."""
    hasher = Counting()
    codes = backup_codes.generate(10)
    stored: list[str | None] = list(backup_codes.hash_all(codes, hasher))
    for n, code in enumerate(codes):
        hasher.verified = 0
        assert backup_codes.find(stored, code, hasher) == n
        assert hasher.verified <= 2  # one, or two on a one-in-256 tag collision
    verified = []
    for _ in range(50):  # wrong codes: about one each too (a hash of nobody's, or a collision)
        hasher.verified = 0
        assert backup_codes.find(stored, backup_codes.generate(1)[0], hasher) is None
        verified.append(hasher.verified)
    assert max(verified) <= 3 and sum(verified) <= 50 + 10, verified
    assert min(verified) >= 1, "a wrong code costs a verification, as a right one does"


def test_a_hash_without_a_tag_is_still_verified() -> None:
    """Hashes made elsewhere (or whose tag was let go) are matched the slow way."""
    made_elsewhere = Hasher(FAST_HASH).hash_many(["code0", "code1"])
    hasher = Counting()
    assert hasher.first_match(made_elsewhere, "code1") == 1
    assert hasher.verified >= 1


# -- the clinic hashes outside its lock -----------------------------------------------------------


class LockWatch(Hasher):
    """The clinic's hasher, noting for each argon2 call whether the clinic's lock was free."""

    def __init__(self, clinic: Clinic) -> None:
        super().__init__(FAST_HASH)
        self.clinic = clinic
        self.calls: list[tuple[str, bool]] = []

    def _lock_free(self) -> bool:
        """Another thread tries the lock without waiting (the RLock would let this one in)."""
        got: list[bool] = []

        def attempt() -> None:
            taken = self.clinic._lock.acquire(blocking=False)
            got.append(taken)
            if taken:
                self.clinic._lock.release()

        other = threading.Thread(target=attempt)
        other.start()
        other.join()
        return got[0]

    def _note(self, name: str) -> None:
        self.calls.append((name, self._lock_free()))

    def hash(self, secret: str) -> str:
        self._note("hash")
        return super().hash(secret)

    def hash_many(self, secrets: Any) -> list[str]:
        self._note("hash_many")
        return super().hash_many(secrets)

    def verify(self, stored: str, candidate: str) -> bool:
        self._note("verify")
        return super().verify(stored, candidate)

    def first_match(self, stored: Sequence[str | None], candidate: str) -> int | None:
        self._note("first_match")
        return super().first_match(stored, candidate)


def test_every_argon2_call_runs_with_the_clinic_lock_free(clinic: Clinic, people: Cast,
                                                          helpers: type[Helpers]) -> None:
    watch = LockWatch(clinic)
    clinic._hasher = watch
    clinic.add_user("new@clinic.test", "new-Pa55-crown", people.staff.role)
    enrolled = helpers.enrol(clinic, people.staff)  # sign-in, then backup codes at confirmation
    assert clinic.use_backup_code(enrolled.pending(), enrolled.backup_codes[0]).stage \
        is Stage.SIGNED_IN
    clinic.regenerate_backup_codes(enrolled.token, people.staff.password)
    clinic.disable_2fa(enrolled.token, people.staff.password)
    assert {name for name, _ in watch.calls} == {"hash", "hash_many", "verify", "first_match"}
    assert [call for call in watch.calls if not call[1]] == []


def test_a_refused_confirmation_code_costs_no_hashing(clinic: Clinic, people: Cast,
                                                      helpers: type[Helpers]) -> None:
    token = clinic.sign_in(people.staff.email, people.staff.password).token
    clinic.start_authenticator_setup(token)
    watch = LockWatch(clinic)
    clinic._hasher = watch
    assert helpers.refused(lambda: clinic.confirm_authenticator(token, "12345")) == (
        ErrorCode.CODE_REJECTED, Reason.MALFORMED)
    assert watch.calls == []


# -- what changes while a backup code is being matched --------------------------------------------


Meanwhile = Callable[[Callable[[], object]], list[int | None]]


@pytest.fixture
def meanwhile(monkeypatch: pytest.MonkeyPatch) -> Meanwhile:
    """meanwhile(action): `action` runs once, right after the next backup code was matched and
    before the clinic acts on the match, as a parallel request would. Answers the matches seen."""
    matched: list[int | None] = []

    def install(action: Callable[[], object]) -> list[int | None]:
        pending = [action]
        real = backup_codes.find

        def find(*args: Any) -> int | None:
            found = real(*args)
            matched.append(found)
            if pending:
                pending.pop()()
            return found

        monkeypatch.setattr(backup_codes, "find", find)
        return matched

    return install


def test_a_code_spent_while_it_was_being_matched_is_refused(
        staff_enrolled: Enrolled, meanwhile: Meanwhile, helpers: type[Helpers]) -> None:
    clinic, code = staff_enrolled.clinic, staff_enrolled.backup_codes[0]
    other = staff_enrolled.pending()
    won: list[Stage] = []
    meanwhile(lambda: won.append(clinic.use_backup_code(other, code).stage))
    assert helpers.refused(lambda: clinic.use_backup_code(staff_enrolled.pending(), code)) == WRONG
    assert won == [Stage.SIGNED_IN]
    assert staff_enrolled.user.backup_codes_left == 9
    assert staff_enrolled.user.failures == 1  # the refusal counted


def test_a_regeneration_while_matching_means_matching_again(
        staff_enrolled: Enrolled, people: Cast, meanwhile: Meanwhile,
        helpers: type[Helpers]) -> None:
    clinic, old = staff_enrolled.clinic, staff_enrolled.backup_codes[0]
    new: list[str] = []
    matched = meanwhile(lambda: new.extend(
        clinic.regenerate_backup_codes(staff_enrolled.token, people.staff.password)))
    assert helpers.refused(lambda: clinic.use_backup_code(staff_enrolled.pending(), old)) == WRONG
    assert matched == [0, None]  # the old code matched the old list, then nothing in the new one
    assert staff_enrolled.user.backup_codes_left == 10
    assert clinic.use_backup_code(staff_enrolled.pending(), new[0]).stage is Stage.SIGNED_IN


def test_a_lock_out_while_matching_refuses_a_right_code_and_keeps_it(
        staff_enrolled: Enrolled, meanwhile: Meanwhile,
        helpers: type[Helpers]) -> None:
    clinic, code = staff_enrolled.clinic, staff_enrolled.backup_codes[0]
    other = staff_enrolled.pending()

    near = {staff_enrolled.code_steps_away(steps) for steps in (-1, 0, 1)}
    wrong = next(c for c in ("000000", "111111", "222222", "333333") if c not in near)

    def five_wrong_codes() -> None:
        for _ in range(clinic.policy.max_failures):
            with pytest.raises(TwoFactorError):
                clinic.enter_code(other, wrong)

    meanwhile(five_wrong_codes)
    assert helpers.refused(lambda: clinic.use_backup_code(staff_enrolled.pending(), code)) == (
        ErrorCode.LOCKED_OUT, None)
    assert staff_enrolled.user.backup_codes_left == 10
    helpers.fake_clock(clinic).advance(clinic.policy.lockout_seconds)
    assert clinic.use_backup_code(staff_enrolled.pending(), code).stage is Stage.SIGNED_IN


def test_one_code_from_many_threads_signs_in_once(staff_enrolled: Enrolled,
                                                  helpers: type[Helpers]) -> None:
    clinic, code = staff_enrolled.clinic, staff_enrolled.backup_codes[0]
    tokens = [staff_enrolled.pending() for _ in range(8)]
    outcomes = helpers.at_once(lambda token: clinic.use_backup_code(token, code), tokens)
    assert outcomes.count(Stage.SIGNED_IN) == 1
    refusals = {o[0] for o in outcomes if isinstance(o, tuple)}
    assert refusals <= {ErrorCode.CODE_REJECTED, ErrorCode.LOCKED_OUT}
    assert staff_enrolled.user.backup_codes_left == 9
