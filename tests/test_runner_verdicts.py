"""The one place verdicts are decided: outcomes, blocking, spec-item verdicts, exit codes."""

from __future__ import annotations

import pytest
from runner_support import SIGN_IN, failing

from clinic2fa.scenarios.contract import (
    ConfigExhausted,
    FeatureAbsent,
    Inconclusive,
    Refused,
    Unreachable,
    Unsupported,
)
from clinic2fa.scenarios.core.context import NonConformance, NotApplicable
from clinic2fa.scenarios.core.model import Level
from clinic2fa.scenarios.core.trace import Trace
from clinic2fa.scenarios.core.verdicts import (
    ExitCode,
    Outcome,
    Row,
    ScenarioResult,
    Seen,
    Verdict,
    exit_code,
    judge,
    spec_verdict,
    verdict_kind,
)
from clinic2fa.simulator.virtual.authenticator_app import DeviceError

MUST, SHOULD = SIGN_IN, failing("T-SHOULD", Level.SHOULD)


@pytest.mark.parametrize(("raised", "outcome"), [
    (None, Outcome.PASS),
    (NonConformance("replay accepted"), Outcome.FAIL),
    (Refused("invalid_credentials"), Outcome.FAIL),
    (DeviceError("no QR code found in the image"), Outcome.FAIL),
    (NotApplicable("the target does not offer clock"), Outcome.NOT_APPLICABLE),
    (Unsupported("a browser cannot replay a passkey answer"), Outcome.UNSUPPORTED),
    (Inconclusive("the time step changed mid-check"), Outcome.INCONCLUSIVE),
    (ConfigExhausted("the [[staff]] pool is used up"), Outcome.CONFIG_EXHAUSTED),
    (FeatureAbsent("no clinic-wide enforcement"), Outcome.FEATURE_ABSENT),
    (KeyError("stage"), Outcome.ERROR),
    (Unreachable("target x unreachable: connection refused"), Outcome.ERROR),
])
def test_outcome_follows_what_the_scenario_raised(raised: BaseException | None,
                                                  outcome: Outcome) -> None:
    assert judge(MUST, raised, Trace(), [], None, False)[0] is outcome


def test_an_error_keeps_its_traceback_and_blocks() -> None:
    try:
        raise ValueError("bug in the harness")
    except ValueError as exc:
        outcome, message, detail, blocking = judge(MUST, exc, Trace(), [], None, False)
    assert outcome is Outcome.ERROR and blocking
    assert message == "ValueError: bug in the harness"
    assert "Traceback" in detail


def test_a_refusal_names_the_refused_step() -> None:
    trace = Trace()
    trace.call("sign_in", {"email": "a@b.c"}, None, Refused("invalid_credentials"))
    _, message, _, _ = judge(MUST, Refused("invalid_credentials"), trace, [], None, False)
    assert message.startswith("the target refused sign_in")


def test_a_should_failure_blocks_only_when_strict() -> None:
    raised = NonConformance("no reason given")
    assert judge(SHOULD, raised, Trace(), [], None, False)[3] is False
    assert judge(SHOULD, raised, Trace(), [], None, True)[3] is True
    assert judge(MUST, raised, Trace(), [], None, False)[3] is True


def test_waivers_turn_failures_and_passes_into_their_own_outcomes() -> None:
    outcome, message, _, blocking = judge(MUST, NonConformance("x"), Trace(), [], "bug 1", True)
    assert (outcome, blocking) == (Outcome.WAIVED_FAIL, False)
    assert "bug 1" in message
    outcome, message, _, blocking = judge(MUST, None, Trace(), [], "bug 1", True)
    assert (outcome, blocking) == (Outcome.WAIVED_PASS, False)
    assert message == "waived but passed: remove the waiver"
    # a waiver never hides a crash or turns "not applicable" into anything else
    assert judge(MUST, KeyError("x"), Trace(), [], "bug 1", False)[0] is Outcome.ERROR
    assert judge(MUST, NotApplicable("x"), Trace(), [], "b", False)[0] is Outcome.NOT_APPLICABLE


@pytest.mark.parametrize("raised", [Unsupported("x"), Inconclusive("x"), ConfigExhausted("x"),
                                    NotApplicable("x")])
def test_an_undecided_outcome_never_blocks_and_no_waiver_turns_it(raised: Exception) -> None:
    outcome, _, _, blocking = judge(MUST, raised, Trace(), [], "bug 1", True)
    assert outcome not in (Outcome.PASS, Outcome.FAIL, Outcome.WAIVED_FAIL) and not blocking


def test_a_feature_absent_blocks_as_a_failure_does_and_can_be_waived() -> None:
    assert judge(MUST, FeatureAbsent("x"), Trace(), [], None, False)[3] is True
    assert judge(SHOULD, FeatureAbsent("x"), Trace(), [], None, False)[3] is False
    assert ScenarioResult(SHOULD, Outcome.FEATURE_ABSENT, blocking=False).warning
    assert judge(MUST, FeatureAbsent("x"), Trace(), [], "no enforcement yet", False)[0] \
        is Outcome.WAIVED_FAIL


def test_a_feature_absent_fails_the_guide_item_but_leaves_the_rule_not_verified() -> None:
    seen = [Outcome.FEATURE_ABSENT]
    assert spec_verdict(seen, guide_item=True) is Verdict.DOES_NOT_CONFORM
    assert spec_verdict(seen) is Verdict.NOT_VERIFIED
    assert spec_verdict([Outcome.PASS, *seen], guide_item=True) is Verdict.DOES_NOT_CONFORM


def test_a_failed_cleanup_makes_a_pass_an_error() -> None:
    outcome, message, _, blocking = judge(MUST, None, Trace(), ["cleanup x failed: boom"], None,
                                          False)
    assert (outcome, blocking) == (Outcome.ERROR, True)
    assert "cleanup x failed" in message


NEUTRAL = Row(Outcome.NOT_APPLICABLE, binds=False)  # the deployment's declared choice


@pytest.mark.parametrize(("outcomes", "verdict", "kind"), [
    ([], Verdict.GAP, None),
    ([Outcome.PASS, Outcome.PASS], Verdict.CONFORMS, None),
    # conforms claims only what was seen: one scenario the target could not run leaves it partly
    ([Outcome.PASS, Outcome.NOT_APPLICABLE], Verdict.NOT_VERIFIED, "partial"),
    ([Outcome.PASS, Outcome.INCONCLUSIVE], Verdict.NOT_VERIFIED, "partial"),
    ([Outcome.PASS, Outcome.UNSUPPORTED], Verdict.NOT_VERIFIED, "partial"),
    ([Outcome.PASS, Outcome.CONFIG_EXHAUSTED], Verdict.NOT_VERIFIED, "partial"),
    ([Outcome.PASS, None], Verdict.NOT_VERIFIED, "partial"),
    ([Outcome.PASS, Outcome.ERROR], Verdict.NOT_VERIFIED, "partial"),
    ([Outcome.WAIVED_PASS, Outcome.NOT_APPLICABLE], Verdict.NOT_VERIFIED, "partial"),
    # a declared choice that removes the rule's object, and a feature absent, are neutral
    ([Outcome.PASS, NEUTRAL], Verdict.CONFORMS, None),
    ([Outcome.PASS, (Outcome.FEATURE_ABSENT, "enforcement")], Verdict.CONFORMS, None),
    ([NEUTRAL], Verdict.NOT_VERIFIED, None),
    ([NEUTRAL, Outcome.NOT_APPLICABLE], Verdict.NOT_VERIFIED, None),
    ([Outcome.NOT_APPLICABLE, Outcome.NOT_APPLICABLE], Verdict.NOT_VERIFIED, None),
    ([Outcome.UNSUPPORTED, Outcome.INCONCLUSIVE, Outcome.CONFIG_EXHAUSTED], Verdict.NOT_VERIFIED,
     None),
    ([None], Verdict.NOT_VERIFIED, None),
    ([Outcome.ERROR], Verdict.NOT_VERIFIED, None),
    # a failure is seen whatever else could not run
    ([Outcome.PASS, Outcome.FAIL, Outcome.NOT_APPLICABLE], Verdict.DOES_NOT_CONFORM, "fail"),
    ([Outcome.WAIVED_FAIL], Verdict.DOES_NOT_CONFORM, "fail"),
    ([Outcome.WAIVED_PASS], Verdict.CONFORMS, None),
])
def test_spec_item_verdicts(outcomes: list[Seen], verdict: Verdict, kind: str | None) -> None:
    assert spec_verdict(outcomes) is verdict
    assert verdict_kind(outcomes) == kind


def test_a_partial_guide_item_still_fails_on_a_feature_it_asks_for() -> None:
    seen: list[Seen] = [Outcome.PASS, Outcome.NOT_APPLICABLE, (Outcome.FEATURE_ABSENT, None)]
    assert spec_verdict(seen, guide_item=True) is Verdict.DOES_NOT_CONFORM
    assert verdict_kind(seen, guide_item=True) == "feature_absent"
    assert verdict_kind(seen) == "partial"


def test_a_not_applicable_binds_unless_a_declared_choice_says_otherwise() -> None:
    assert NotApplicable("the target does not offer clock").binds
    assert not NotApplicable("no lock-out declared", binds=False).binds


def test_exit_codes() -> None:
    ok = ScenarioResult(MUST, Outcome.PASS)
    warned = ScenarioResult(SHOULD, Outcome.FAIL, blocking=False)
    blocked = ScenarioResult(MUST, Outcome.FAIL, blocking=True)
    assert warned.warning and not blocked.warning
    assert exit_code([ok, warned], unreachable=False) is ExitCode.CONFORMS
    assert exit_code([ok, blocked], unreachable=False) is ExitCode.DOES_NOT_CONFORM
    assert exit_code([ok, blocked], unreachable=True) is ExitCode.UNREACHABLE
