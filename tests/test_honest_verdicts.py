"""Verdicts that claim only what was seen: reasons, throttles, missing features, the contract."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from runner_support import run_here

from clinic2fa.scenarios import catalogue
from clinic2fa.scenarios.contract import Inconclusive, Needs, NotApplicable, Refused
from clinic2fa.scenarios.core.context import Context, NonConformance
from clinic2fa.scenarios.core.policy import REFERENCE, Policy
from clinic2fa.scenarios.core.trace import Trace
from clinic2fa.scenarios.selfcheck import defects
from clinic2fa.scenarios.targets.http import Client
from clinic2fa.scenarios.targets.memory import MemoryProvider, MemoryTarget
from clinic2fa.simulator.clinic import Clinic
from clinic2fa.simulator.clock import FakeClock
from clinic2fa.simulator.policy import FAST_HASH
from clinic2fa.simulator.policy import Policy as ClinicPolicy
from clinic2fa.simulator.web.server import running

CATALOGUE = catalogue.load()
SAYS_NOTHING = REFERENCE.with_changes(reasons=frozenset())


class Wrapped:
    """A target seen through `change(method name, call)`: a deployment's own way of answering."""

    def __init__(self, inner: MemoryTarget, change: Callable[[str, Callable[..., Any]],
                                                             Callable[..., Any]]) -> None:
        self.inner = inner
        self._change = change

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self.inner, name)
        return self._change(name, attr) if callable(attr) else attr


def as_a_bad_code(inner: MemoryTarget, code: str = "code_rejected",
                  method: str | None = None) -> Wrapped:
    """Refusals with `code` (of `method` only, if named) answered as every bad factor is, with
    one message and no reason (django-allauth: "Incorrect code."): the deployment does not
    say why."""

    def change(name: str, call: Callable[..., Any]) -> Callable[..., Any]:
        def answer(*args: Any, **kwargs: Any) -> Any:
            try:
                return call(*args, **kwargs)
            except Refused as refusal:
                if refusal.code != code or method not in (None, name):
                    raise
                raise Refused("code_rejected", None, "Incorrect code.") from None
        return answer

    return Wrapped(inner, change)


def generic(inner: MemoryTarget) -> Wrapped:
    """Every refused code answered with one message: the deployment does not say why."""
    return as_a_bad_code(inner)


def throttling(inner: MemoryTarget, method: str, times: int,
               retry_after: float | None) -> Wrapped:
    """`method` throttled `times` times (a client-wide limit), then answered as usual."""
    left = [times]

    def change(name: str, call: Callable[..., Any]) -> Callable[..., Any]:
        def answer(*args: Any, **kwargs: Any) -> Any:
            if name == method and left[0] > 0:
                left[0] -= 1
                raise Refused("locked_out", None, "Too many requests.", retry_after)
            return call(*args, **kwargs)
        return answer

    return Wrapped(inner, change)


def reference() -> MemoryTarget:
    clock = FakeClock()
    return MemoryTarget(Clinic(clock=clock, policy=ClinicPolicy(hash_cost=FAST_HASH)), clock)


def broken(name: str) -> MemoryTarget:
    clock = FakeClock()
    return MemoryTarget(defects.build(name, clock=clock,
                                      policy=ClinicPolicy(hash_cost=FAST_HASH)), clock)


def run(scenario_id: str, target: Any, policy: Policy = REFERENCE, *,
        clock: bool = True, max_wait: float = 60.0) -> tuple[Trace, list[float]]:
    """One scenario as the runner runs it; on a clock it cannot move, waits move the fake one."""
    waited: list[float] = []
    clinic_clock = (target.inner if isinstance(target, Wrapped) else target).clock

    def wait(seconds: float) -> None:
        waited.append(seconds)
        clinic_clock.advance(seconds)

    caps = frozenset(target.capabilities) - (set() if clock else {Needs.CLOCK})
    trace = Trace()
    ctx = Context(target, trace, caps, policy, wait=wait, max_wait=max_wait)
    try:
        CATALOGUE[scenario_id].run(ctx)
    finally:
        assert not ctx.run_cleanups()
    return trace, waited


# -- reasons ----------------------------------------------------------------------------------


REPLAYS = ["TOTP-REPLAY-CONFIRMING-CODE", "TOTP-REPLAY-EARLIER-STEP", "TOTP-REPLAY-TWO-SIGN-INS"]


@pytest.mark.parametrize("scenario_id", REPLAYS)
def test_a_generic_refusal_verifies_the_refusal_and_leaves_the_reason_not_verified(
        scenario_id: str) -> None:
    trace, _ = run(scenario_id, generic(reference()), SAYS_NOTHING)
    assert trace.not_verified
    assert all("the deployment does not say why" in text for text in trace.not_verified)


@pytest.mark.parametrize("scenario_id", REPLAYS)
def test_a_reason_declared_told_apart_is_checked(scenario_id: str) -> None:
    """The reference's policy says it tells "already used" apart: a generic answer fails."""
    with pytest.raises(NonConformance, match="refused, but as a refusal without reason"):
        run(scenario_id, generic(reference()))


@pytest.mark.parametrize("scenario_id", REPLAYS)
def test_a_replay_accepted_fails_whatever_the_deployment_says(scenario_id: str) -> None:
    with pytest.raises(NonConformance):
        run(scenario_id, generic(broken("totp-replay")), SAYS_NOTHING)


def test_skew_reason_is_not_met_where_skew_is_not_told_apart() -> None:
    """Telling the user about skew is SKEW-REASON's whole point: not telling it fails."""
    with pytest.raises(NonConformance, match="does not tell time_skew apart"):
        run("TROUBLE-2-SKEW-REASON", generic(reference()), SAYS_NOTHING)
    run("TROUBLE-2-SKEW-REASON", reference())  # the reference tells it



def test_a_skewed_code_refused_as_any_wrong_code_is_no_oracle() -> None:
    """TOTP-SKEW-NO-ORACLE: one answer for every bad code tells a guesser nothing about a code's
    step, so accepting it when its step comes is no oracle, clock or not; told apart, it is."""
    for clock in (True, False):
        trace, _ = run("TOTP-SKEW-NO-ORACLE-LATER", generic(broken("skew-oracle")), SAYS_NOTHING,
                       clock=clock)
        assert any(e.kind == "check" and e.ok and "no oracle" in e.text for e in trace.entries)
    with pytest.raises(NonConformance, match="refused as skewed, now that its step has come"):
        run("TOTP-SKEW-NO-ORACLE-LATER", broken("skew-oracle"))
    with pytest.raises(NotApplicable):  # told apart, and the clock cannot be moved: not seen
        run("TOTP-SKEW-NO-ORACLE-LATER", reference(), clock=False)
    run("TOTP-SKEW-NO-ORACLE-LATER", reference())


class StripsPunctuation(Clinic):
    """A deployment that drops punctuation from a code before comparing it (django-allauth's
    normalize_user_code does): "123-456" signs in."""

    def _accept_totp(self, user: Any, secret: str, code: str) -> None:
        super()._accept_totp(user, secret, code.translate(str.maketrans("", "", "-.()")))


def test_a_code_in_other_scripts_refused_alike_leaves_only_malformed_not_verified() -> None:
    trace, _ = run("TOTP-ASCII-DIGITS-OTHER-SCRIPTS", generic(reference()), SAYS_NOTHING)
    assert any("as malformed: not verified, the deployment does not say why" in text
               for text in trace.not_verified)
    with pytest.raises(NonConformance, match="expected a refusal as malformed"):
        run("TOTP-ASCII-DIGITS-OTHER-SCRIPTS", generic(reference()))  # it says it tells


def test_a_code_with_a_dash_that_signs_in_is_not_six_ascii_digits() -> None:
    clock = FakeClock()
    target = MemoryTarget(StripsPunctuation(clock=clock,
                                            policy=ClinicPolicy(hash_cost=FAST_HASH)), clock)
    with pytest.raises(NonConformance, match="ASCII digits with a dash was accepted"):
        run("TOTP-ASCII-DIGITS-OTHER-SCRIPTS", generic(target), SAYS_NOTHING)


def reentry_remembered(inner: MemoryTarget) -> Wrapped:
    """A session that re-entered its password for setup is not asked again for a while
    (django-allauth's 300-s re-authentication): its regeneration takes any password."""
    passwords: dict[str, str] = {}
    recent: set[str] = set()

    def change(name: str, call: Callable[..., Any]) -> Callable[..., Any]:
        def answer(*args: Any, **kwargs: Any) -> Any:
            if name == "start_authenticator_setup":
                recent.add(args[0])
            if name == "regenerate_backup_codes" and args[0] in recent:
                return call(args[0], passwords[args[0]])
            result = call(*args, **kwargs)
            if name == "sign_in":
                passwords[result.session] = args[1]
            return result
        return answer

    return Wrapped(inner, change)


def test_reentry_throttling_is_checked_where_the_password_is_asked() -> None:
    """Not asking again within a re-authentication window is BACKUP-REGENERATE's question,
    not a wrong password let through unthrottled (PASSWORD-RATE-LIMIT)."""
    run("PASSWORD-RATE-LIMIT-REENTRY", reentry_remembered(reference()))
    with pytest.raises(NonConformance, match="none throttled"):
        run("PASSWORD-RATE-LIMIT-REENTRY", reentry_remembered(broken("reentry-not-throttled")))



def test_a_passkey_path_refused_as_any_bad_factor_is_refused() -> None:
    """SAME-STRENGTH-ALL-PATHS asks that no path yields a session, not which refusal it is."""
    # a passkey second step for a user without passkeys, refused as every bad factor is
    run("SAME-STRENGTH-SECOND-STEP-PATHS",
        as_a_bad_code(reference(), "not_enrolled", "begin_passkey_sign_in"))


UV_SAYS_NOTHING = REFERENCE.with_changes(reasons=REFERENCE.reasons - {"passkey_user_verification"})


def test_a_passkey_without_uv_refused_as_a_bad_code_is_refused_as_the_control_shows() -> None:
    # the rule is the refusal; the same ceremony with UV, accepted next, shows what was refused
    trace, _ = run("PASSKEY-USER-VERIFICATION-REQUIRED",
                   as_a_bad_code(reference(), "passkey_user_verification"), UV_SAYS_NOTHING)
    assert not trace.not_verified
    steps = [e.text for e in trace.entries if e.kind == "step"]
    assert sum("(the control)" in text for text in steps) == 2


def test_a_passkey_without_uv_refused_as_a_bad_code_fails_where_uv_is_told_apart() -> None:
    with pytest.raises(NonConformance, match="refused with passkey_user_verification, got "
                                             "code_rejected"):
        run("PASSKEY-USER-VERIFICATION-REQUIRED",
            as_a_bad_code(reference(), "passkey_user_verification"))


def test_a_passkey_without_uv_accepted_fails_whatever_the_deployment_says() -> None:
    with pytest.raises(NonConformance, match="but it was accepted"):
        run("PASSKEY-USER-VERIFICATION-REQUIRED", broken("passkey-user-verification-ignored"),
            UV_SAYS_NOTHING)


# -- throttles ----------------------------------------------------------------------------------


def test_a_throttle_is_waited_out_for_its_retry_after_not_read_as_a_verdict() -> None:
    target = throttling(reference(), "enter_code", 1, retry_after=2)
    trace, waited = run("STEP-6-SIGN-IN-TEST", target, clock=False)
    assert waited == [2]
    assert any("not this check's answer; waiting 2 s (its Retry-After)" in e.text
               for e in trace.entries)


def test_without_a_retry_after_the_harness_backs_off_on_its_own_schedule() -> None:
    target = throttling(reference(), "sign_in", 3, retry_after=None)
    _, waited = run("SIGNIN-SECOND-STEP-ASKED", target, clock=False)
    assert waited[:3] == [1, 2, 4]


def test_a_declared_throttle_sets_the_wait() -> None:
    target = throttling(reference(), "sign_in", 1, retry_after=None)
    _, waited = run("SIGNIN-SECOND-STEP-ASKED", target,
                    REFERENCE.with_changes(throttle_seconds=5.0), clock=False)
    assert waited[0] == 5


def test_a_throttle_longer_than_max_wait_is_inconclusive() -> None:
    target = throttling(reference(), "sign_in", 1, retry_after=600)
    with pytest.raises(Inconclusive, match="max_wait of 60 s: not read as a verdict"):
        run("SIGNIN-SECOND-STEP-ASKED", target, clock=False)


def test_a_code_is_not_sent_again_once_its_time_step_has_passed() -> None:
    target = throttling(reference(), "enter_code", 1, retry_after=45)
    with pytest.raises(Inconclusive, match="time step changed"):
        run("STEP-6-SIGN-IN-TEST", target, clock=False)


def test_a_throttle_the_check_asks_for_is_its_answer() -> None:
    """The rate-limit scenarios want the lock-out: it is passed to them, not waited out."""
    trace, waited = run("TOTP-RATE-LIMIT-FIVE-WRONG", reference(), clock=False)
    assert waited == [] and not any("trying again" in e.text for e in trace.entries)


# -- missing features ---------------------------------------------------------------------------


class Declared(MemoryProvider):
    """The reference, with a declared policy."""

    def __init__(self, policy: Policy) -> None:
        super().__init__("memory+declared")
        self._policy = policy

    def policy(self) -> Policy:
        return self._policy


@pytest.fixture(scope="module")
def without_enforcement(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    policy = REFERENCE.with_changes(features=frozenset({"admin_reset", "passkeys"}))
    done = run_here(tmp_path_factory.mktemp("absent"), CATALOGUE, provider=Declared(policy))
    return done.report()


def test_a_missing_feature_is_absent_not_refused(without_enforcement: dict[str, Any]) -> None:
    outcomes = {s["id"]: s for s in without_enforcement["scenarios"]}
    for scenario_id in ("STEP-8-ENFORCE", "ENFORCE-OWNER-ONLY-ROLES", "OUTCOME-3-CLINIC-WIDE"):
        assert outcomes[scenario_id]["outcome"] == "feature_absent"
        assert "does not offer clinic-wide 2FA enforcement" in outcomes[scenario_id]["message"]
    assert not [s for s in outcomes.values() if s["outcome"] in ("fail", "error")]


def test_a_missing_feature_fails_only_the_guide_items_that_ask_for_it(
        without_enforcement: dict[str, Any]) -> None:
    items = {i["id"]: i for i in without_enforcement["guide_items"]}
    for asked in ("STEP-8", "OUTCOME-3"):
        assert (items[asked]["verdict"], items[asked]["verdict_kind"]) == \
            ("does_not_conform", "feature_absent")
    for used_on_the_way in ("TROUBLE-4", "TROUBLE-5", "TROUBLE-3"):
        assert items[used_on_the_way]["verdict"] == "conforms", used_on_the_way
    reqs = {r["id"]: r for r in without_enforcement["requirements"]}
    assert reqs["ENFORCE-OWNER-ONLY"]["verdict"] == "not_verified"
    assert reqs["DISABLE-REAUTH"]["verdict"] == "conforms"


# -- the HTTP contract --------------------------------------------------------------------------


async def html_site(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """A site of web pages, no /api/v1: every path but /healthz a 404 page."""
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    status = 200 if scope["path"] == "/healthz" else 404
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"text/html; charset=utf-8")]})
    await send({"type": "http.response.body", "body": b"<h1>Not Found</h1>"})


@pytest.fixture(scope="module")
def pages_only() -> Iterator[str]:
    with running(html_site) as url:  # type: ignore[arg-type]
        yield url


def test_a_deployment_without_the_contract_is_one_line_and_exit_2(tmp_path: Path,
                                                                  pages_only: str) -> None:
    config = tmp_path / "site.toml"
    config.write_text("[clinic]\ntest_clinic = true\n", encoding="utf-8")
    done = run_here(tmp_path, CATALOGUE, target=pages_only, config=config)
    assert done.code == 2
    assert done.err.count("\n") == 1 and "does not speak the clinic2fa HTTP contract" in done.err
    assert f"--target browser+{pages_only}" in done.err
    assert "ProtocolError" not in done.out + done.err


def test_http_429_is_a_throttle_with_its_retry_after() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(429, content=b"slow down", headers={"retry-after": "7"})

    client = Client("http://clinic.test", 5.0, transport=httpx.MockTransport(answer))
    with pytest.raises(Refused) as refused:
        client.call("POST", "/api/v1/sign-in/code", {"code": "123456"})
    assert (refused.value.code, refused.value.retry_after) == ("locked_out", 7.0)


def test_an_empty_code_list_is_a_clear_failure_not_an_index_error() -> None:
    """A confirmation that hands out no backup codes (or a page the harness finds none on)."""

    def no_codes(name: str, call: Callable[..., Any]) -> Callable[..., Any]:
        return (lambda *a, **k: (call(*a, **k), [])[1]) if name == "confirm_enrolment" else call

    with pytest.raises(NonConformance, match="no backup codes were handed out when enrolment "
                                             "was confirmed"):
        run("OUTCOME-2-BACKUP-CODE", Wrapped(reference(), no_codes))
