"""Every verdict the harness gives, decided here and nowhere else (Autobahn style).

A scenario's outcome comes from what it raised; whether a failure blocks the run comes from its
level and --strict; a spec item's verdict comes from the outcomes of the scenarios behind it; the
exit code comes from all of them.
"""

from __future__ import annotations

import traceback
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import IntEnum, StrEnum
from typing import Any

from clinic2fa.scenarios.contract import (
    ConfigExhausted,
    FeatureAbsent,
    HookFailed,
    Inconclusive,
    NotApplicable,
    Refused,
    Unreachable,
    Unsupported,
)
from clinic2fa.scenarios.core.context import NonConformance
from clinic2fa.scenarios.core.model import Level, Scenario
from clinic2fa.scenarios.core.policy import FEATURES
from clinic2fa.scenarios.core.trace import Trace
from clinic2fa.simulator.virtual.authenticator_app import DeviceError


class Outcome(StrEnum):
    PASS = "pass"  # noqa: S105 - an outcome, not a password
    FAIL = "fail"  # the target broke the rule (NonConformance, or a step the guide says works)
    ERROR = "error"  # the harness or the target crashed: a bug to report, not a verdict
    # the deployment does not offer what the guide asks: fails the guide item it belongs to
    FEATURE_ABSENT = "feature_absent"
    NOT_APPLICABLE = "not_applicable"  # needs a capability the target declared it lacks
    UNSUPPORTED = "unsupported"  # the target's UI cannot express a step of the scenario
    INCONCLUSIVE = "inconclusive"  # no verdict this time, through no fault of the target
    CONFIG_EXHAUSTED = "config_exhausted"  # the target config had no account left for it
    WAIVED_FAIL = "waived_fail"  # failed as the waivers file expects: does not fail the run
    WAIVED_PASS = "waived_pass"  # noqa: S105 - waived but passed: the waiver should go


# Outcomes that break a rule (and block at MUST level), and those that decide nothing.
FAILING = frozenset({Outcome.FAIL, Outcome.FEATURE_ABSENT})
UNDECIDED = frozenset({Outcome.NOT_APPLICABLE, Outcome.UNSUPPORTED, Outcome.INCONCLUSIVE,
                       Outcome.CONFIG_EXHAUSTED})
# What a scenario raised when the target could not answer, and the outcome that is.
_UNANSWERED: tuple[tuple[type[Exception], Outcome], ...] = (
    (NotApplicable, Outcome.NOT_APPLICABLE), (Unsupported, Outcome.UNSUPPORTED),
    (Inconclusive, Outcome.INCONCLUSIVE), (ConfigExhausted, Outcome.CONFIG_EXHAUSTED),
    (FeatureAbsent, Outcome.FEATURE_ABSENT))
# The word the progress line, pytest -v and the HTML report show for each outcome.
STATUS_WORDS = {
    Outcome.PASS: "PASS", Outcome.FAIL: "FAIL", Outcome.ERROR: "ERROR",
    Outcome.FEATURE_ABSENT: "ABSENT", Outcome.NOT_APPLICABLE: "N/A",
    Outcome.UNSUPPORTED: "UNSUPPORTED", Outcome.INCONCLUSIVE: "INCONCLUSIVE",
    Outcome.CONFIG_EXHAUSTED: "NO-ACCOUNT", Outcome.WAIVED_FAIL: "WAIVED",
    Outcome.WAIVED_PASS: "WAIVED-PASS"}


class Verdict(StrEnum):
    CONFORMS = "conforms"
    DOES_NOT_CONFORM = "does_not_conform"
    NOT_VERIFIED = "not_verified"  # scenarios exist but none could show it (n/a, error, not run)
    GAP = "gap"  # no scenario in the catalogue verifies it


class ExitCode(IntEnum):
    CONFORMS = 0
    DOES_NOT_CONFORM = 1
    USAGE = 2
    UNREACHABLE = 3
    INTERRUPTED = 130  # Ctrl-C, as a shell reports SIGINT


@dataclass
class ScenarioResult:
    """What running one scenario came to; the reports are built from these alone."""

    scenario: Scenario
    outcome: Outcome
    message: str = ""
    duration: float = 0.0
    trace: Trace = field(default_factory=Trace)
    waiver: str | None = None  # the waiver's reason, when the scenario is waived
    detail: str = ""  # the traceback, for an error
    blocking: bool = False  # counts against the exit code
    unreachable: bool = False  # the target dropped: the run stops here
    evidence: dict[str, Any] = field(default_factory=dict)  # screenshots, traces (browser)
    feature: str | None = None  # the feature a FEATURE_ABSENT scenario found missing
    binds: bool = True  # False: NOT_APPLICABLE by the deployment's declared choice (neutral)

    @property
    def warning(self) -> bool:
        """A failure that does not block: a SHOULD scenario without --strict."""
        return self.outcome in FAILING and not self.blocking


def judge(scenario: Scenario, raised: BaseException | None, trace: Trace,
          cleanup_problems: list[str], waiver: str | None, strict: bool,
          ) -> tuple[Outcome, str, str, bool]:
    """(outcome, message, detail, blocking) from what the scenario raised, if anything."""
    outcome, message, detail = _classify(raised, trace)
    if cleanup_problems:
        if outcome in (Outcome.PASS, *UNDECIDED):
            outcome, message = Outcome.ERROR, "; ".join(cleanup_problems)
        else:
            message = "; ".join([message, *cleanup_problems])
    if waiver is not None and outcome in FAILING:
        outcome = Outcome.WAIVED_FAIL
        message = f"{message} (waived: {waiver})"
    elif waiver is not None and outcome is Outcome.PASS:
        outcome, message = Outcome.WAIVED_PASS, "waived but passed: remove the waiver"
    blocking = outcome is Outcome.ERROR or (
        outcome in FAILING and (strict or scenario.level is Level.MUST))
    return outcome, message, detail, blocking


def _classify(raised: BaseException | None, trace: Trace) -> tuple[Outcome, str, str]:
    if raised is None:
        return Outcome.PASS, "", ""
    if isinstance(raised, NonConformance):
        return Outcome.FAIL, str(raised), ""
    for kind, outcome in _UNANSWERED:
        if isinstance(raised, kind):
            return outcome, str(raised), ""
    if isinstance(raised, Refused):
        action = next((e.text for e in reversed(trace.entries)
                       if e.kind == "call" and e.ok is False), "a step")
        return Outcome.FAIL, f"the target refused {action}, a step the guide says works: " \
                             f"{raised}", ""
    if isinstance(raised, DeviceError):
        return Outcome.FAIL, f"the authenticator app could not use what the target showed: " \
                             f"{raised}", ""
    if isinstance(raised, Unreachable | HookFailed):
        return Outcome.ERROR, str(raised), ""
    detail = "".join(traceback.format_exception(raised, limit=-8))
    return Outcome.ERROR, f"{type(raised).__name__}: {raised}", detail


@dataclass(frozen=True)
class Row:
    """A scenario behind a spec item as its verdict counts it.

    `outcome` None: not run. `feature`: the feature a FEATURE_ABSENT scenario found missing.
    `binds` False: not applicable because the deployment's declared choice removes the rule's
    object (or an <ID>-DECLARED pass): neutral, it neither shows nor leaves anything unseen.
    """

    outcome: Outcome | None
    feature: str | None = None
    binds: bool = True

    @property
    def passed(self) -> bool:
        return self.outcome in (Outcome.PASS, Outcome.WAIVED_PASS)

    @property
    def unseen(self) -> bool:
        """Left undecided for the target's reasons: the rule binds here and was not checked."""
        if self.outcome is None or self.outcome is Outcome.ERROR:
            return True
        if self.outcome is Outcome.NOT_APPLICABLE:
            return self.binds
        return self.outcome in UNDECIDED


# A scenario's outcome as a spec item counts it: an outcome (None: not run), (outcome, feature),
# or a Row.
Seen = Outcome | None | tuple[Outcome | None, str | None] | Row


def _rows(outcomes: Iterable[Seen]) -> list[Row]:
    return [o if isinstance(o, Row) else Row(*o) if isinstance(o, tuple) else Row(o)
            for o in outcomes]


def _absent_counts(feature: str | None, guide_item: bool | str) -> bool:
    """A missing feature fails a guide item that asks for it (or any, when either is unnamed)."""
    if guide_item is False:
        return False
    if feature is None or guide_item is True:
        return True
    asked = FEATURES.get(feature)
    return asked is None or guide_item in asked.asked_by


def spec_verdict(outcomes: Iterable[Seen], *, guide_item: bool | str = False) -> Verdict:
    """A guide item's or requirement's verdict from its scenarios' outcomes.

    "Conforms" claims only what was seen: at least one scenario passed, none failed, and none
    was left undecided for the target's reasons (a capability it lacks, unsupported,
    inconclusive, out of accounts, errored, not run); with one so left it is not verified,
    partly (`verdict_kind`). Neutral: a scenario not applicable by the deployment's declared
    choice, an <ID>-DECLARED pass (`Row.binds` False), a feature absent.
    A feature the deployment does not offer fails the guide items that ask for it (`guide_item`:
    the item's ID, or True for any); the rules about that feature are not verified (nothing
    there to check them on), nor is a guide item that only used it on the way.
    """
    seen = _rows(outcomes)
    if not seen:
        return Verdict.GAP
    kind = verdict_kind(seen, guide_item=guide_item)
    if kind in FAILING_KINDS:
        return Verdict.DOES_NOT_CONFORM
    if kind == PARTIAL or not any(row.passed for row in seen):
        return Verdict.NOT_VERIFIED
    return Verdict.CONFORMS


FAILING_KINDS = ("fail", "feature_absent")
PARTIAL = "partial"


def verdict_kind(outcomes: Iterable[Seen], *, guide_item: bool | str = False) -> str | None:
    """Why a spec item does not conform: "fail" (a rule seen broken) before "feature_absent"
    (a guide item's feature missing); or why it is not verified though a scenario passed:
    "partial" (another behind it could not run here). None otherwise."""
    seen = _rows(outcomes)
    if any(row.outcome in (Outcome.FAIL, Outcome.WAIVED_FAIL) for row in seen):
        return "fail"
    if any(row.outcome is Outcome.FEATURE_ABSENT and _absent_counts(row.feature, guide_item)
           for row in seen):
        return "feature_absent"
    if any(row.passed for row in seen) and any(row.unseen for row in seen):
        return PARTIAL
    return None


def exit_code(results: Iterable[ScenarioResult], unreachable: bool) -> ExitCode:
    """0 conforms, 1 does not (a blocking failure or an error), 3 the target dropped."""
    if unreachable:
        return ExitCode.UNREACHABLE
    if any(r.blocking for r in results):
        return ExitCode.DOES_NOT_CONFORM
    return ExitCode.CONFORMS


def status_word(result: ScenarioResult) -> str:
    """The word the progress line and pytest -v show for a result."""
    if result.warning:
        return "WARN"
    return STATUS_WORDS[result.outcome]
