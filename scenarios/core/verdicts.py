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

from clinic2fa.scenarios.contract import Refused, Unreachable
from clinic2fa.scenarios.core.context import NonConformance, NotApplicable
from clinic2fa.scenarios.core.model import Level, Scenario
from clinic2fa.scenarios.core.trace import Trace
from clinic2fa.simulator.virtual.authenticator_app import DeviceError


class Outcome(StrEnum):
    PASS = "pass"  # noqa: S105 - an outcome, not a password
    FAIL = "fail"  # the target broke the rule (NonConformance, or a step the guide says works)
    ERROR = "error"  # the harness or the target crashed: a bug to report, not a verdict
    NOT_APPLICABLE = "not_applicable"  # the target cannot offer what the scenario needs
    WAIVED_FAIL = "waived_fail"  # failed as the waivers file expects: does not fail the run
    WAIVED_PASS = "waived_pass"  # noqa: S105 - waived but passed: the waiver should go


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

    @property
    def warning(self) -> bool:
        """A failure that does not block: a SHOULD scenario without --strict."""
        return self.outcome is Outcome.FAIL and not self.blocking


def judge(scenario: Scenario, raised: BaseException | None, trace: Trace,
          cleanup_problems: list[str], waiver: str | None, strict: bool,
          ) -> tuple[Outcome, str, str, bool]:
    """(outcome, message, detail, blocking) from what the scenario raised, if anything."""
    outcome, message, detail = _classify(raised, trace)
    if cleanup_problems:
        if outcome in (Outcome.PASS, Outcome.NOT_APPLICABLE):
            outcome, message = Outcome.ERROR, "; ".join(cleanup_problems)
        else:
            message = "; ".join([message, *cleanup_problems])
    if waiver is not None and outcome is Outcome.FAIL:
        outcome = Outcome.WAIVED_FAIL
        message = f"{message} (waived: {waiver})"
    elif waiver is not None and outcome is Outcome.PASS:
        outcome, message = Outcome.WAIVED_PASS, "waived but passed: remove the waiver"
    blocking = outcome is Outcome.ERROR or (
        outcome is Outcome.FAIL and (strict or scenario.level is Level.MUST))
    return outcome, message, detail, blocking


def _classify(raised: BaseException | None, trace: Trace) -> tuple[Outcome, str, str]:
    if raised is None:
        return Outcome.PASS, "", ""
    if isinstance(raised, NonConformance):
        return Outcome.FAIL, str(raised), ""
    if isinstance(raised, NotApplicable):
        return Outcome.NOT_APPLICABLE, str(raised), ""
    if isinstance(raised, Refused):
        action = next((e.text for e in reversed(trace.entries)
                       if e.kind == "call" and e.ok is False), "a step")
        return Outcome.FAIL, f"the target refused {action}, a step the guide says works: " \
                             f"{raised}", ""
    if isinstance(raised, DeviceError):
        return Outcome.FAIL, f"the authenticator app could not use what the target showed: " \
                             f"{raised}", ""
    if isinstance(raised, Unreachable):
        return Outcome.ERROR, str(raised), ""
    detail = "".join(traceback.format_exception(raised, limit=-8))
    return Outcome.ERROR, f"{type(raised).__name__}: {raised}", detail


def spec_verdict(outcomes: Iterable[Outcome | None]) -> Verdict:
    """A guide item's or requirement's verdict from its scenarios' outcomes (None: not run)."""
    seen = list(outcomes)
    if not seen:
        return Verdict.GAP
    if any(o in (Outcome.FAIL, Outcome.WAIVED_FAIL) for o in seen):
        return Verdict.DOES_NOT_CONFORM
    if Outcome.ERROR in seen or not any(o in (Outcome.PASS, Outcome.WAIVED_PASS) for o in seen):
        return Verdict.NOT_VERIFIED
    return Verdict.CONFORMS


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
    return {Outcome.PASS: "PASS", Outcome.FAIL: "FAIL", Outcome.ERROR: "ERROR",
            Outcome.NOT_APPLICABLE: "N/A", Outcome.WAIVED_FAIL: "WAIVED",
            Outcome.WAIVED_PASS: "WAIVED-PASS"}[result.outcome]
