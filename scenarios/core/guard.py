"""Between a scenario and its target: declared features, and throttles never read as verdicts.

Every call a scenario makes goes through here before the trace records it:

- A call that needs a feature the deployment declares it does not offer (core/policy.py
  FEATURES) raises `FeatureAbsent` naming it, without asking the deployment.
- A throttle (code "locked_out": a lock-out, a back-off, HTTP 429, a mapped "too many" message)
  that the scenario is not checking for is the deployment pacing the harness, not an answer to
  the scenario's question. The call is made again once the throttle should be over: after the
  Retry-After the deployment gave, else the declared throttle, else 1, 2, 4, ... seconds, on the
  harness's own schedule (the server's clock moved where the target lends it, else real time up
  to the provider's max_wait). A code is sent again only within the time step it was made for;
  a passkey answer never is (it would be a replay). When it cannot go on, the scenario is
  inconclusive, and the trace says what the throttle said and what the harness did.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from clinic2fa.scenarios.contract import (
    THROTTLED,
    FeatureAbsent,
    Inconclusive,
    PasskeyCeremonies,
    Refused,
    Target,
)
from clinic2fa.scenarios.core import accounts
from clinic2fa.scenarios.core.policy import FEATURES
from clinic2fa.scenarios.core.trace import UNTRACED

if TYPE_CHECKING:
    from clinic2fa.scenarios.core.context import Context

# Target methods that use one of the guide's features.
FEATURE_OF = {
    "set_enforcement": "enforcement",
    "staff": "admin_reset", "disable_2fa_for": "admin_reset",
    "new_passkey": "passkeys", "begin_passkey_setup": "passkeys",
    "finish_passkey_setup": "passkeys", "begin_passkey_sign_in": "passkeys",
    "finish_passkey_sign_in": "passkeys", "remove_passkey": "passkeys",
}
# Calls whose argument is a TOTP code for the time step it was made in.
STEP_BOUND = frozenset({"enter_code", "confirm_enrolment"})
# Calls whose argument answers one challenge: sent again, it is a replay.
ONCE_ONLY = frozenset({"finish_passkey_setup", "finish_passkey_sign_in"})
FIRST_WAIT = 1.0  # seconds, doubling, when the throttle does not say how long
MAX_RETRIES = 6


class Guard:
    """A target proxy for one scenario; `ctx` supplies the policy, the clock and what it expects."""

    def __init__(self, target: Any, ctx: Context) -> None:
        self._target = target
        self._ctx = ctx

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._target, name)
        if not callable(attr) or name.startswith("_"):
            return attr
        feature = FEATURE_OF.get(name)
        if name in UNTRACED and feature is None:
            return attr

        def call(*args: Any, **kwargs: Any) -> Any:
            if feature is not None and not self._ctx.policy.offers(feature):
                what = FEATURES[feature].what
                self._ctx.trace.note(f"{name}: the deployment declares no {feature}")
                raise FeatureAbsent(f"the deployment does not offer {what} (declared in its "
                                    "[policy] features)", feature)
            return self._throttle_aware(name, attr, args, kwargs)

        return call

    def _throttle_aware(self, name: str, attr: Callable[..., Any], args: tuple[Any, ...],
                        kwargs: dict[str, Any]) -> Any:
        waited = 0.0
        step = self._ctx.server_step() if name in STEP_BOUND else None
        for attempt in range(MAX_RETRIES + 1):
            try:
                result = attr(*args, **kwargs)
            except Refused as refusal:
                self._observe(name, attr, args, kwargs, None, refusal)
                if refusal.code != THROTTLED or THROTTLED in self._ctx.expecting:
                    raise
                said = f"the deployment throttled {name} ({refusal.message or refusal.code})"
                if name in ONCE_ONLY:
                    raise Inconclusive(f"{said}: a passkey answer cannot be sent twice, so the "
                                       "check could not be made; run it again") from None
                pause, why = self._pause(refusal, attempt)
                if attempt == MAX_RETRIES or waited + pause > self._ctx.max_wait:
                    raise Inconclusive(f"{said}, and waiting it out ({why}) would pass the "
                                       f"harness's max_wait of {self._ctx.max_wait:g} s: not "
                                       "read as a verdict") from None
                self._ctx.trace.note(f"{said}: not this check's answer; waiting {pause:g} s "
                                     f"({why}), then trying again")
                self._ctx.wait(pause, "a throttle")
                waited += pause
                if step is not None and self._ctx.server_step() != step:
                    raise Inconclusive(f"{said}; while it was waited out the time step "
                                       "changed, so the same code cannot be sent again: run it "
                                       "again") from None
                continue
            self._observe(name, attr, args, kwargs, result, None)
            return result
        raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises

    def _observe(self, name: str, attr: Callable[..., Any], args: tuple[Any, ...],
                 kwargs: dict[str, Any], result: Any, refusal: Refused | None) -> None:
        """What the call did to a reused account (core/accounts.py), when it was one's."""
        if not self._ctx.known:
            return
        method = getattr(Target, name, None) or getattr(PasskeyCeremonies, name, None)
        if method is None:
            return
        try:
            bound = dict(inspect.signature(method).bind(None, *args, **kwargs).arguments)
        except TypeError:
            return
        accounts.observe(self._ctx, name, bound, result, refusal)

    def _pause(self, refusal: Refused, attempt: int) -> tuple[float, str]:
        """How long to wait before trying again, and on whose word."""
        if refusal.retry_after is not None:
            return max(float(refusal.retry_after), 0.0), "its Retry-After"
        declared = self._ctx.policy.throttle_seconds
        if declared:
            return float(declared), "the declared throttle_seconds"
        return FIRST_WAIT * 2 ** attempt, "the harness's back-off"


def guarded(target: Any, ctx: Context) -> Any:
    """Wrap a (traced) target for one scenario."""
    return Guard(target, ctx)
