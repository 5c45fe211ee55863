"""Backup codes on the reference: ten, single-use, hashed, shown once, regenerated, random."""

from __future__ import annotations

import contextlib
import dataclasses
import math
import re
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from clinic2fa.simulator import backup_codes
from clinic2fa.simulator.clinic import Clinic, Stage
from clinic2fa.simulator.errors import ErrorCode, Reason

if TYPE_CHECKING:
    from conftest import Cast, Enrolled, Helpers

CODE = re.compile(r"[0-9a-hjkmnp-tv-z]{5}-[0-9a-hjkmnp-tv-z]{5}")  # Crockford, no i l o u
WRONG = (ErrorCode.CODE_REJECTED, Reason.WRONG_CODE)


def use(enrolled: Enrolled, code: str) -> Stage:
    """A fresh sign-in with the password, then the backup code instead of the app's code."""
    return enrolled.clinic.use_backup_code(enrolled.pending(), code).stage


# -- BACKUP-COUNT -------------------------------------------------------------------------------


def test_BACKUP_COUNT_ten_distinct_codes_at_confirmation_and_regeneration(
        owner_enrolled: Enrolled, people: Cast, clinic: Clinic) -> None:
    assert len(owner_enrolled.backup_codes) == 10
    assert len(set(owner_enrolled.backup_codes)) == 10
    again = clinic.regenerate_backup_codes(owner_enrolled.token, people.owner.password)
    assert len(again) == len(set(again)) == 10
    assert clinic.security(owner_enrolled.token).backup_codes_left == 10


# -- BACKUP-SINGLE-USE --------------------------------------------------------------------------


def test_BACKUP_SINGLE_USE_each_code_signs_in_once(staff_enrolled: Enrolled,
                                                   helpers: type[Helpers]) -> None:
    for left, code in zip(range(9, -1, -1), staff_enrolled.backup_codes, strict=True):
        assert use(staff_enrolled, code) is Stage.SIGNED_IN
        assert staff_enrolled.user.backup_codes_left == left
        assert helpers.refused(lambda c=code: use(staff_enrolled, c)) == WRONG


def test_BACKUP_SINGLE_USE_spent_code_refused_in_any_spelling(staff_enrolled: Enrolled,
                                                              helpers: type[Helpers]) -> None:
    """Codes match ignoring case, spaces and hyphens; so does being spent."""
    code = staff_enrolled.backup_codes[0]
    assert use(staff_enrolled, code.upper()) is Stage.SIGNED_IN
    for spelling in (code, code.replace("-", ""), f" {code[:5]} {code[6:]} ", code.upper()):
        assert helpers.refused(lambda s=spelling: use(staff_enrolled, s)) == WRONG


class RendezvousList(list[str | None]):
    """Stored hashes whose readers meet at a barrier after reading, so that unlocked checks
    would all see the code unspent; with the clinic's lock the first reader waits out the short
    rendezvous alone and the rest pass straight through."""

    def __init__(self, items: list[str | None], parties: int) -> None:
        super().__init__(items)
        self.barrier = threading.Barrier(parties)

    def __iter__(self) -> Iterator[str | None]:
        snapshot = list(super().__iter__())
        if threading.current_thread() is not threading.main_thread():
            with contextlib.suppress(threading.BrokenBarrierError):
                self.barrier.wait(timeout=0.05)
        return iter(snapshot)


def test_BACKUP_SINGLE_USE_concurrent_uses_of_one_code_succeed_once(
        staff_enrolled: Enrolled, helpers: type[Helpers]) -> None:
    """Checking and spending a code are atomic: of parallel sign-ins with one code, one wins."""
    code, clinic = staff_enrolled.backup_codes[0], staff_enrolled.clinic
    tokens = [staff_enrolled.pending() for _ in range(4)]
    record = staff_enrolled.user
    record.backup_hashes = RendezvousList(record.backup_hashes, len(tokens))
    outcomes = helpers.at_once(lambda token: clinic.use_backup_code(token, code), tokens)
    assert sorted(map(str, outcomes)) == sorted([str(Stage.SIGNED_IN)] + [str(WRONG)] * 3)
    assert record.backup_codes_left == 9


def test_BACKUP_SINGLE_USE_only_at_the_second_step(staff_enrolled: Enrolled,
                                                   helpers: type[Helpers]) -> None:
    """A backup code is a second factor, not a way in without the password."""
    clinic, code = staff_enrolled.clinic, staff_enrolled.backup_codes[0]
    assert helpers.refused(lambda: clinic.use_backup_code("no-such-token", code)) == (
        ErrorCode.NOT_SIGNED_IN, None)
    assert helpers.refused(lambda: clinic.use_backup_code(staff_enrolled.token, code)) == (
        ErrorCode.INVALID_REQUEST, None)  # already fully signed in
    assert staff_enrolled.user.backup_codes_left == 10


# -- BACKUP-HASHED ------------------------------------------------------------------------------


def test_BACKUP_HASHED_user_record_holds_only_argon2id_hashes(staff_enrolled: Enrolled) -> None:
    record = staff_enrolled.user
    assert len(record.backup_hashes) == 10
    for stored in record.backup_hashes:
        assert stored is not None and stored.startswith("$argon2id$")
    salts = {stored.split("$")[4] for stored in record.backup_hashes if stored}
    assert len(salts) == 10, "each hash has its own salt"
    for code in staff_enrolled.backup_codes:
        normalised = backup_codes.normalise(code)
        matches = [h for h in record.backup_hashes if h and verifies(h, normalised)]
        assert len(matches) == 1


def verifies(stored: str, candidate: str) -> bool:
    """Check with argon2 itself, not the simulator's Hasher: the hashes are standard argon2id."""
    try:
        return PasswordHasher().verify(stored, candidate)
    except (VerificationError, InvalidHashError):
        return False


def test_BACKUP_HASHED_no_plaintext_anywhere_in_the_user_record(
        staff_enrolled: Enrolled, clinic: Clinic, people: Cast) -> None:
    use(staff_enrolled, staff_enrolled.backup_codes[0])
    fresh = clinic.regenerate_backup_codes(staff_enrolled.token, people.staff.password)
    dump = repr(dataclasses.asdict(staff_enrolled.user))
    for code in staff_enrolled.backup_codes + fresh:
        for form in (code, code.replace("-", ""), code.upper(), code.replace("-", "").upper()):
            assert form not in dump, form


# -- BACKUP-SHOWN-ONCE --------------------------------------------------------------------------


def test_BACKUP_SHOWN_ONCE_no_later_path_returns_them(staff_enrolled: Enrolled,
                                                      helpers: type[Helpers]) -> None:
    clinic, token = staff_enrolled.clinic, staff_enrolled.token
    status = clinic.security(token)
    assert status.backup_codes_left == 10  # a count, never the codes
    assert helpers.refused(lambda: clinic.confirm_authenticator(token, "123456")) == (
        ErrorCode.NO_SETUP_IN_PROGRESS, None)
    assert helpers.refused(lambda: clinic.start_authenticator_setup(token)) == (
        ErrorCode.ALREADY_ENROLLED, None)
    seen = repr([status, clinic.profile(token), clinic.audit.entries()]).lower()
    for code in staff_enrolled.backup_codes:
        assert code not in seen and code.replace("-", "") not in seen


# -- BACKUP-REGENERATE --------------------------------------------------------------------------


def test_BACKUP_REGENERATE_replaces_every_old_code(staff_enrolled: Enrolled, people: Cast,
                                                   helpers: type[Helpers]) -> None:
    clinic, old = staff_enrolled.clinic, staff_enrolled.backup_codes
    assert use(staff_enrolled, old[0]) is Stage.SIGNED_IN
    new = clinic.regenerate_backup_codes(staff_enrolled.token, people.staff.password)
    assert not set(new) & set(old)
    for i, code in enumerate(old):
        if i == clinic.policy.max_failures:  # ten refusals in a row would hit the lock-out
            helpers.fake_clock(clinic).advance(clinic.policy.lockout_seconds)
        assert helpers.refused(lambda c=code: use(staff_enrolled, c)) == WRONG
    assert staff_enrolled.user.backup_codes_left == 10
    helpers.fake_clock(clinic).advance(clinic.policy.lockout_seconds)
    assert use(staff_enrolled, new[0]) is Stage.SIGNED_IN


@pytest.mark.parametrize("password",
                         ["", "wrong", "staff-Pa55-tooth-fairy ", "STAFF-PA55-TOOTH-FAIRY"])
def test_BACKUP_REGENERATE_needs_the_password(staff_enrolled: Enrolled, helpers: type[Helpers],
                                              password: str) -> None:
    clinic = staff_enrolled.clinic
    before = list(staff_enrolled.user.backup_hashes)
    assert helpers.refused(
        lambda: clinic.regenerate_backup_codes(staff_enrolled.token, password)) == (
        ErrorCode.PASSWORD_REQUIRED, None)
    assert staff_enrolled.user.backup_hashes == before
    assert use(staff_enrolled, staff_enrolled.backup_codes[0]) is Stage.SIGNED_IN


def test_BACKUP_REGENERATE_needs_2fa_and_a_full_session(clinic: Clinic, people: Cast,
                                                        helpers: type[Helpers]) -> None:
    token = clinic.sign_in(people.staff2.email, people.staff2.password).token
    assert helpers.refused(
        lambda: clinic.regenerate_backup_codes(token, people.staff2.password)) == (
        ErrorCode.NOT_ENROLLED, None)
    enrolled = helpers.enrol(clinic, people.staff)
    pending = enrolled.pending()
    assert helpers.refused(
        lambda: clinic.regenerate_backup_codes(pending, people.staff.password)) == (
        ErrorCode.SECOND_STEP_REQUIRED, None)


# -- BACKUP-ENTROPY -----------------------------------------------------------------------------


def test_BACKUP_ENTROPY_at_least_20_bits_from_a_32_symbol_alphabet(
        staff_enrolled: Enrolled, people: Cast) -> None:
    assert len(set(backup_codes.ALPHABET)) == 32
    bits = backup_codes.LENGTH * math.log2(len(backup_codes.ALPHABET))
    assert bits >= 20 and bits == 50
    seen = list(staff_enrolled.backup_codes)
    for _ in range(20):
        seen += staff_enrolled.clinic.regenerate_backup_codes(staff_enrolled.token,
                                                              people.staff.password)
    assert all(CODE.fullmatch(code) for code in seen)
    assert len(set(seen)) == len(seen) == 210
    # Every symbol turns up across 2100 random characters (each is missed with p ~ 1e-29).
    assert set("".join(seen).replace("-", "")) == set(backup_codes.ALPHABET)


def test_BACKUP_ENTROPY_codes_come_from_the_os_csprng(monkeypatch: pytest.MonkeyPatch) -> None:
    """generate() draws every character through secrets.choice (BACKUP-ENTROPY)."""
    calls: list[str] = []

    def spy(alphabet: str) -> str:
        calls.append(alphabet)
        return alphabet[0]

    monkeypatch.setattr(backup_codes.secrets, "choice", spy)
    assert backup_codes.generate(3) == ["00000-00000"] * 3
    assert calls == [backup_codes.ALPHABET] * 30
