"""A virtual staff member's accounting under load: exact, never a guess counted as a verdict."""

from __future__ import annotations

import pyotp
import pytest

from clinic2fa.scenarios.load.staff import (
    PERIOD,
    PROBE_KINDS,
    Attempt,
    Span,
    StaffMember,
    Verdict,
)

SECRET = pyotp.random_base32(32)
MID = 1_800_000_015.0  # the middle of step 60_000_000
STEP = int(MID // PERIOD)


def member(confirmed: int = STEP - 1, codes: int = 3) -> StaffMember:
    return StaffMember("s@clinic.test", "pw", SECRET, confirmed_step=confirmed,
                       unspent=[f"code-{n}" for n in range(codes)])


def test_a_fresh_step_must_be_inside_the_window_wherever_the_server_reads_it() -> None:
    staff = member()
    assert staff.fresh_step(Span(MID, MID)) == STEP
    assert staff.fresh_step(Span(MID, MID + 20)) == STEP  # may be read in the next step
    staff.maybe_step = STEP
    assert staff.fresh_step(Span(MID, MID)) == STEP + 1
    assert staff.fresh_step(Span(MID, MID + 60)) == STEP + 1  # next, current or previous
    assert staff.fresh_step(Span(MID, MID + 90)) is None  # read in STEP + 3 it is too old
    staff.maybe_step = STEP + 1
    assert staff.fresh_step(Span(MID, MID)) is None  # nothing unused left in the window


def test_the_attempt_falls_back_to_backup_codes_then_to_nothing() -> None:
    staff = member(confirmed=STEP + 1)
    attempt = staff.attempt(Span(MID, MID))
    assert attempt is not None and attempt.backup and attempt.code == "code-0" and attempt.valid
    assert staff.settle(attempt, True, Span(MID, MID)) is Verdict.RIGHT
    assert staff.unspent == ["code-1", "code-2"] and staff.spent == ["code-0"]
    staff.unspent = []
    assert staff.attempt(Span(MID, MID)) is None


def test_a_valid_code_refused_is_a_wrong_verdict_only_when_surely_valid() -> None:
    staff = member()
    code = staff.attempt(Span(MID, MID))
    assert code is not None and code.step == STEP and not code.backup
    assert staff.settle(code, False, Span(MID, MID)) is Verdict.VALID_REFUSED
    late = Span(MID, MID + 2 * PERIOD)  # the answer took a minute: the window may have moved
    assert staff.settle(code, False, late) is Verdict.UNCERTAIN
    assert staff.settle(code, True, late) is Verdict.RIGHT
    assert staff.confirmed_step == staff.maybe_step == STEP


def test_no_answer_is_no_verdict_and_spends_the_step_or_code() -> None:
    staff = member()
    code = staff.attempt(Span(MID, MID))
    assert code is not None
    assert staff.settle(code, None, Span(MID, MID)) is None
    assert (staff.confirmed_step, staff.maybe_step) == (STEP - 1, STEP)
    backup = staff.attempt(Span(MID, MID + 90))
    assert backup is not None and backup.backup
    assert staff.settle(backup, None, Span(MID, MID)) is None
    assert backup.code not in staff.unspent and backup.code not in staff.spent


@pytest.mark.parametrize("kind", PROBE_KINDS)
def test_probes_are_surely_invalid(kind: str) -> None:
    staff = member(confirmed=STEP + 1)
    used = staff.attempt(Span(MID, MID))
    assert used is not None and used.backup
    staff.settle(used, True, Span(MID, MID))
    staff.new_backup_codes(["new-1", "new-2"])
    staff.probes = PROBE_KINDS.index(kind)
    probe = staff.probe(Span(MID, MID))
    assert probe is not None and probe.what == kind and not probe.valid
    window = {staff.code_at(s) for s in range(STEP - 1, STEP + 2) if s > staff.maybe_step}
    assert probe.code not in window and probe.code not in staff.unspent
    assert staff.settle(probe, False, Span(MID, MID)) is Verdict.RIGHT
    assert staff.settle(probe, True, Span(MID, MID)) is Verdict.INVALID_ACCEPTED


def test_probe_kinds_take_turns_and_skip_what_cannot_be_made_yet() -> None:
    staff = StaffMember("s@clinic.test", "pw", SECRET, confirmed_step=-1)
    kinds = [probe.what for probe in (staff.probe(Span(MID, MID)) for _ in range(3)) if probe]
    assert kinds == ["wrong 6-digit code"] * 3  # nothing spent or replaced yet


def test_regenerating_replaces_the_unspent_codes() -> None:
    staff = member()
    staff.new_backup_codes(["a", "b"])
    assert staff.unspent == ["a", "b"] and staff.replaced == ["code-0", "code-1", "code-2"]
    staff.new_backup_codes(None)  # no answer: which list the server holds is unknown
    assert staff.unspent == [] and "a" not in staff.replaced


def test_one_code_sent_at_once_by_a_crowd_signs_in_exactly_one() -> None:
    """settle_many: a second acceptance of one code is a wrong verdict (a race the server lost)."""
    member = StaffMember("a@b.c", "pw", SECRET, confirmed_step=-1)
    span = Span(1000 * PERIOD, 1000 * PERIOD + 1)
    attempt = member.attempt(span)
    assert attempt is not None and attempt.valid
    assert member.settle_many(attempt, [True, False, False], span) == [Verdict.RIGHT] * 3
    raced = member.attempt(Span(1001 * PERIOD, 1001 * PERIOD + 1))
    assert raced is not None
    verdicts = member.settle_many(raced, [True, True, None], Span(1001 * PERIOD,
                                                                   1001 * PERIOD + 1))
    assert verdicts == [Verdict.RIGHT, Verdict.INVALID_ACCEPTED]
    backup = Attempt("backup code", "spare", True, True)
    member.unspent = ["spare"]
    assert member.settle_many(backup, [False, False], span) == [Verdict.VALID_REFUSED]
    assert member.unspent == []
