"""Run one scenario on a fresh target from the provider and judge what happened.

A target that stops answering while a scenario runs fails that scenario (it answered when the
scenario began, so the silence is the target's), and the run goes on: the next scenario's fresh
target shows whether it is back. Only a target that cannot be had at all stops the run.
"""

from __future__ import annotations

import time

from clinic2fa.scenarios.contract import FeatureAbsent, NotApplicable, Provider, Unreachable
from clinic2fa.scenarios.core.context import Context, NonConformance
from clinic2fa.scenarios.core.model import Needs, Scenario
from clinic2fa.scenarios.core.policy import FEATURES, REFERENCE
from clinic2fa.scenarios.core.trace import Trace
from clinic2fa.scenarios.core.verdicts import ScenarioResult, judge


def run_scenario(scenario: Scenario, provider: Provider, *, waiver: str | None = None,
                 strict: bool = False) -> ScenarioResult:
    """Needs checked, target made, scenario run, cleanups run: never raises but to interrupt."""
    trace = Trace()
    raised: BaseException | None = None
    problems: list[str] = []
    started = time.perf_counter()
    target = None
    try:
        missing = [n.value for n in scenario.needs if n not in provider.capabilities]
        policy = provider.policy() or REFERENCE
        absent = [n for n in missing if n in FEATURES and not policy.offers(n)]
        if absent:  # declared absent: the guide's feature is missing, not the target's reach
            raise FeatureAbsent(f"the deployment does not offer {FEATURES[absent[0]].what} "
                                "(declared in its [policy] features)", absent[0])
        if missing == [Needs.HTTP.value]:  # every target that speaks HTTP offers it
            raise NotApplicable("the target answers in process, not over HTTP: a rule about "
                                "HTTP answers has nothing to bind here", binds=False)
        if missing:
            raise NotApplicable(f"the target does not offer {', '.join(missing)}")
        why_not = provider.inapplicable(scenario)  # the target's declared scope
        if why_not:
            raise NotApplicable(why_not)
        target = provider.target()
        try:
            ctx = Context(target, trace, provider.capabilities, policy,
                          wait=provider.wait, max_wait=provider.max_wait,
                          reset=provider.reset_hook())
            try:
                scenario.run(ctx)
            except Unreachable as exc:
                raise stopped_answering(exc, trace) from None
            finally:
                problems = ctx.run_cleanups()
        finally:
            provider.release(target)
    except Exception as exc:  # judged below: every exception is a verdict or an error
        raised = exc
    duration = time.perf_counter() - started
    outcome, message, detail, blocking = judge(scenario, raised, trace, problems, waiver, strict)
    result = ScenarioResult(scenario, outcome, message, duration, trace, waiver, detail, blocking,
                            unreachable=isinstance(raised, Unreachable),
                            feature=raised.feature if isinstance(raised, FeatureAbsent) else None,
                            binds=not isinstance(raised, NotApplicable) or raised.binds)
    if target is not None:
        result.evidence = provider.evidence(target, result)  # screenshots, traces (browser)
    return result


STOPPED = "the target stopped answering in the middle of the scenario"


def stopped_answering(exc: Unreachable, trace: Trace) -> NonConformance:
    """The failure a mid-scenario silence is, with the request that got no answer in the trace."""
    trace.check(f"the target answers every request of the scenario: {exc}", False)
    return NonConformance(f"{STOPPED}: {exc}")
