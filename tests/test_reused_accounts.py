"""A full run on the accounts a test clinic has: one owner, one admin, two staff, each lent to
one scenario at a time, put back as found after it and checked before the next one."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from runner_support import run_here

from clinic2fa.scenarios import catalogue
from clinic2fa.scenarios.contract import Account, HookFailed, Needs, Provider
from clinic2fa.scenarios.core.context import Context
from clinic2fa.scenarios.core.trace import Trace
from clinic2fa.scenarios.targets.accounts import AccountPool
from clinic2fa.scenarios.targets.config import TargetConfig
from clinic2fa.scenarios.targets.hooks import Hook
from clinic2fa.scenarios.targets.memory import MemoryTarget
from clinic2fa.simulator.clinic import Clinic
from clinic2fa.simulator.clock import FakeClock
from clinic2fa.simulator.policy import FAST_HASH, Policy

CATALOGUE = catalogue.load()
CAST = [Account("owner@clinic.example", "owner-Pa55-root-canal", "owner"),
        Account("admin@clinic.example", "admin-Pa55-gum-line", "admin"),
        Account("staff1@clinic.example", "staff1-Pa55-molar", "staff"),
        Account("staff2@clinic.example", "staff2-Pa55-incisor", "staff")]


class ResetHook(Hook):
    """The deployment's reset: a clinic as seeded, on the same clock."""

    def __init__(self, provider: Seeded) -> None:
        super().__init__("reset", ("reset-test-clinic",))
        object.__setattr__(self, "_provider", provider)

    def run(self, count: int | None = None) -> str:
        provider: Seeded = object.__getattribute__(self, "_provider")
        provider.runs += 1
        provider.memory.clinic = provider.seeded()
        return ""


class Seeded(Provider):
    """One reference clinic for the whole run with the four seeded accounts; its clock is not
    the harness's to move, but real time passes when the harness waits (the fake clock moves)."""

    kind = "memory+seeded"
    name = "memory+seeded"

    def __init__(self, max_wait: float, with_reset: bool = False) -> None:
        self.fake_clock = FakeClock()
        self.memory = MemoryTarget(self.seeded(), self.fake_clock)
        self.capabilities = frozenset({Needs.PASSKEYS, Needs.PARALLEL})
        self.max_wait = max_wait
        self.runs = 0
        hooks = {"reset": ResetHook(self)} if with_reset else {}
        self.pool = AccountPool(TargetConfig(test_clinic=True, owner=CAST[0], admin=CAST[1],
                                             staff=tuple(CAST[2:]), hooks=hooks))

    def seeded(self, kind: type[Clinic] = Clinic) -> Clinic:
        clinic = kind(clock=self.fake_clock, policy=Policy(hash_cost=FAST_HASH))
        for account in CAST:
            clinic.add_user(account.email, account.password, account.role)  # type: ignore[arg-type]
        return clinic

    def target(self) -> Lending:
        return Lending(self)

    def release(self, target: Any) -> None:
        self.pool.give_back(target)

    def reset_hook(self) -> Any:
        return self.pool.reset if self.pool.can_reset else None

    def wait(self, seconds: float) -> None:
        self.fake_clock.advance(seconds)


class Lending:
    """The shared clinic, lending the config's accounts."""

    def __init__(self, provider: Seeded) -> None:
        self._provider = provider

    def __getattr__(self, name: str) -> Any:
        return getattr(self._provider.memory, name)

    def account(self, role: str) -> Account:
        return self._provider.pool.lend(role, self, self._provider.memory.server_time)


def outcomes(report: dict[str, Any]) -> dict[str, tuple[str, str]]:
    return {s["id"]: (s["outcome"], s["message"]) for s in report["scenarios"]}


@pytest.mark.parametrize(("max_wait", "with_reset"), [(3600.0, False), (60.0, True)],
                         ids=["waits-out-locks", "resets-locked-accounts"])
def test_the_whole_catalogue_runs_on_four_accounts(tmp_path: Path, max_wait: float,
                                                   with_reset: bool) -> None:
    provider = Seeded(max_wait, with_reset)
    found = outcomes(run_here(tmp_path, CATALOGUE, provider=provider).report())
    wrong = {k: v for k, v in found.items()
             if v[0] not in ("pass", "not_applicable", "unsupported")}
    assert not wrong, wrong
    assert found["TOTP-RATE-LIMIT-LOCKOUT-ENDS"][0] == ("pass" if max_wait > 900
                                                        else "not_applicable")
    if with_reset:
        assert provider.runs >= 1  # a lock-out longer than max_wait was reset, not waited out
    clinic = provider.memory.clinic
    assert not clinic.enforcement_required
    for account in CAST:
        assert clinic.sign_in(account.email, account.password).stage.value == "signed_in"


def test_a_scenario_needing_more_accounts_at_once_than_exist_is_out_of_accounts() -> None:
    provider = Seeded(60.0)
    target = provider.target()
    for _ in range(2):
        provider.pool.lend("staff", target, provider.memory.server_time)
    with pytest.raises(Exception, match="needs more staff accounts at once than the config"):
        provider.pool.lend("staff", target, provider.memory.server_time)
    provider.release(target)
    assert provider.pool.lend("staff", provider.target(), provider.memory.server_time)


def lent(provider: Seeded) -> tuple[Context, Account]:
    ctx = Context(provider.target(), Trace(), provider.capabilities, wait=provider.wait,
                  max_wait=provider.max_wait, reset=provider.reset_hook())
    return ctx, ctx.account("staff")


def test_an_account_left_enrolled_is_put_back_through_its_pages_and_verified() -> None:
    provider = Seeded(60.0)
    ctx, account = lent(provider)
    ctx.enrol(account)
    assert not ctx.run_cleanups()
    steps = [e.text for e in ctx.trace.entries if e.kind == "call"]
    assert steps.count("disable_2fa") == 1 and steps.count("sign_in") >= 3
    assert provider.memory.clinic.sign_in(account.email, account.password).stage.value == \
        "signed_in"


def test_a_mess_it_cannot_put_back_is_the_error_of_the_scenario_that_made_it() -> None:
    provider = Seeded(60.0)
    ctx, account = lent(provider)
    session = ctx.signed_in(account)
    setup = ctx.target.start_authenticator_setup(session)
    phone = ctx.phone()
    phone.scan(setup.qr_png)
    provider.memory.clinic.confirm_authenticator(session, phone.code())  # behind its back
    account.known.backup_codes.clear()
    account.known.uri = ""
    problems = ctx.run_cleanups()
    assert len(problems) == 1 and "could not be put back as found" in problems[0]
    assert "a factor the harness never saw" in problems[0]


def test_an_account_in_an_unknown_state_is_not_handed_to_the_next_scenario() -> None:
    provider = Seeded(60.0)
    # An earlier run left 2FA on for both staff accounts, with factors this run never saw.
    for email, password in ((a.email, a.password) for a in CAST[2:]):
        clinic = provider.memory.clinic
        token = clinic.sign_in(email, password).token
        clinic.start_authenticator_setup(token)
        user = clinic._users[email]
        user.totp_secret, user.pending_secret = user.pending_secret, None
    from clinic2fa.scenarios.contract import Inconclusive

    with pytest.raises(Inconclusive, match="not started from an account in an unknown state"):
        lent(provider)


def test_a_failing_reset_hook_is_one_line() -> None:
    hook = Hook("reset", ("false",))
    with pytest.raises(HookFailed) as failed:
        hook.run()
    assert str(failed.value) == "reset hook (false) failed: exit 1"


class Provisioning(Hook):
    """The deployment's provisioning: one more staff account each time."""

    def run(self, count: int | None = None) -> str:
        return '[{"email": "staff3@clinic.example", "password": "staff3-Pa55-canine"}]'


def test_a_provisioning_hook_makes_the_account_a_scenario_lacks() -> None:
    pool = AccountPool(TargetConfig(test_clinic=True, staff=tuple(CAST[2:]),
                                    hooks={"provision": Provisioning("provision", ("make",))}))
    holder = object()
    lent_now = [pool.lend("staff", holder, lambda: 0.0).email for _ in range(3)]
    assert lent_now == ["staff1@clinic.example", "staff2@clinic.example",
                        "staff3@clinic.example"]


class KeepsCodes(Clinic):
    """Disable 2FA leaves the backup codes (as Flask-Security-Too does): no page removes them."""

    def _strip_factors(self, user: Any) -> None:
        kept = list(user.backup_hashes)
        super()._strip_factors(user)
        user.backup_hashes = kept


def test_backup_codes_left_after_disabling_are_reset_before_the_next_scenario() -> None:
    provider = Seeded(60.0, with_reset=True)
    provider.memory.clinic = provider.seeded(KeepsCodes)
    ctx, account = lent(provider)
    ctx.enrol(account)
    assert not ctx.run_cleanups()
    assert provider.runs == 1  # the pages could not remove the codes: the reset hook did
    assert provider.memory.clinic.security(
        provider.memory.clinic.sign_in(account.email, account.password).token
    ).backup_codes_left == 0


def test_an_account_locked_by_refused_passkey_answers_is_waited_out_and_put_back() -> None:
    """Refused passkey answers count toward the lock-out as wrong codes do: the cleanup must
    know the account is locked (and which clone holds the stored count) to put it back."""
    provider = Seeded(3600.0)
    ctx, account = lent(provider)
    device = ctx.add_passkey(ctx.signed_in(account), name="Phone passkey")
    clones = [device.clone() for _ in range(5)]  # the reference's max_failures
    ctx.passkey_second_step(account, device)
    for clone in clones:  # each repeats the count the original just used; the last locks
        pending = ctx.target.sign_in(account.email, account.password).session
        with ctx.refused("passkey_sign_count", why="a clone's repeated sign count"):
            ctx.passkeys.finish_passkey_sign_in(pending, clone.get(
                ctx.passkeys.begin_passkey_sign_in(pending)))
    assert ctx.known[account.email].locked_until == 0.0  # counted, not yet seen locked
    pending = ctx.target.sign_in(account.email, account.password).session
    with ctx.refused("locked_out", why="the original after the lock-out"):
        ctx.passkeys.finish_passkey_sign_in(pending, device.get(
            ctx.passkeys.begin_passkey_sign_in(pending)))
    assert ctx.known[account.email].locked_until > provider.memory.server_time()
    assert not ctx.run_cleanups()
    assert provider.memory.clinic.sign_in(account.email, account.password).stage.value == \
        "signed_in"


def test_the_secret_confirmed_is_the_one_whose_code_was_taken() -> None:
    # setups started at once answer in any order: the secret the deployment kept (here the
    # first screen's) is not the last screen seen, and the cleanup signs in with its codes
    from types import SimpleNamespace

    import pyotp

    from clinic2fa.scenarios.core.accounts import Known, observe

    now = 1_800_000_000.0
    known = Known("staff1@clinic.example")
    ctx = SimpleNamespace(known={known.email: known}, sessions={"s": known},
                          target=SimpleNamespace(server_time=lambda: now),
                          server_step=lambda: int(now // 30))
    screens = [SimpleNamespace(uri=pyotp.TOTP(pyotp.random_base32()).provisioning_uri(
        name=known.email, issuer_name="Clinic")) for _ in range(2)]
    for screen in screens:
        observe(ctx, "start_authenticator_setup", {"session": "s"}, screen, None)
    kept = pyotp.parse_uri(screens[0].uri).at(now)
    observe(ctx, "confirm_enrolment", {"session": "s", "code": kept}, ["a-code"], None)
    assert known.uri == screens[0].uri and known.last_step == int(now // 30)
